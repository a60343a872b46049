"""``civicline nlu``: train from a city's past tickets and measure the NLU engines.

``import FILE`` merges a CSV of past tickets into {var_dir}/nlu/imported.yml (Rasa NLU YAML, read
by the local classifier together with the shipped data, and by ``make rasa-train``) and retrains
the local model. ``eval [FILE]`` prints per-category precision, recall and F1, accuracy,
macro-F1 and a confusion matrix for the local model and, when a Rasa server is configured, for
Rasa.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, NoReturn

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn
from sklearn.model_selection import train_test_split

from civicline.domain.errors import InvalidInput
from civicline.domain.taxonomy import Taxonomy
from civicline.gateway import logs
from civicline.gateway.settings import Settings
from civicline.nlu import evaluation, importer
from civicline.nlu.base import Classifier
from civicline.nlu.evaluation import Report, cross_validate, evaluate, format_report
from civicline.nlu.local import LocalClassifier, model_file_name
from civicline.nlu.rasa import RasaClassifier
from civicline.nlu.training_data import Example, load_examples
from civicline.storage.taxonomy_file import load_taxonomy

RasaOpener = Callable[[Settings], AbstractAsyncContextManager[Classifier]]

HELD_OUT_FRACTION = 0.2
MAX_REJECTIONS_SHOWN = 50

nlu_app = typer.Typer(
    help=(
        "Train the NLU from a city's past tickets and measure it: `import` a CSV of text,label "
        "rows; `eval` prints precision, recall, F1 and a confusion matrix for the local model "
        "and Rasa."
    ),
    no_args_is_help=True,
)

# Help texts are one line per paragraph: rich keeps a docstring's line breaks.
IMPORT_HELP = (
    "Merge past tickets into the training data, retrain the local model and write Rasa's "
    "training data ({var_dir}/nlu/imported.yml).\n\n"
    "Phone and ID numbers are masked before anything is written. A row is rejected, with its "
    "line number, for an empty or too long text, an unknown label, a malformed line, or a text "
    "that the shipped data, an earlier import or an earlier row files under another category."
)
EVAL_HELP = (
    "Per-category precision, recall and F1, accuracy, macro-F1 and a confusion matrix, for the "
    "local model and for Rasa (when CIVICLINE_RASA_URL is set).\n\n"
    "Without FILE: a stratified 80/20 split of the shipped + imported data; a fresh local model "
    "trains on the 80% (the installed model is not touched). "
    "With FILE: the installed models on FILE's rows as given. "
    "With --cv K: K-fold cross-validation of FILE (its rows prepared exactly as `import` would, "
    "each fold trained on the shipped + imported data plus the other folds) or, without FILE, of "
    "the training data.\n\n"
    "Rasa is not cross-validated (training it per fold takes minutes): Rasa is evaluated on the "
    "held-out split or FILE only."
)


@asynccontextmanager
async def open_rasa(settings: Settings) -> AsyncIterator[Classifier]:
    """The served Rasa model, over its own HTTP client for the length of an evaluation."""
    assert settings.rasa_url is not None
    async with httpx.AsyncClient() as http:
        yield RasaClassifier(
            http,
            settings.rasa_url,
            token=settings.rasa_token.get_secret_value() if settings.rasa_token else None,
            timeout_seconds=settings.rasa_timeout_seconds,
        )


rasa_opener: RasaOpener | None = open_rasa
"""How `eval` reaches the served Rasa model when settings.rasa_url is set (tests swap it)."""


@dataclass(slots=True)
class _Context:
    settings: Settings
    taxonomy: Taxonomy
    shipped_path: Path
    imported_path: Path
    model_dir: Path
    paths: list[Path] = field(default_factory=list)


def _context() -> _Context:
    settings = Settings()
    logs.configure(settings.log_level)
    try:
        taxonomy = load_taxonomy(settings.taxonomy_path)
    except InvalidInput as exc:
        _fail(str(exc))
    imported = importer.imported_data_path(settings.var_dir)
    return _Context(
        settings=settings,
        taxonomy=taxonomy,
        shipped_path=settings.nlu_data_path,
        imported_path=imported,
        model_dir=settings.model_dir or settings.var_dir / "models",
        paths=importer.training_data_paths(settings.nlu_data_path, imported),
    )


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _progress(enabled: bool = True) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=not enabled,
    )


@contextmanager
def _step(progress: Progress, description: str) -> Iterator[None]:
    task = progress.add_task(description, total=None)
    try:
        yield
    finally:
        progress.remove_task(task)


FileArgument = Annotated[
    Path,
    typer.Argument(
        help="CSV file with a header line text,label (UTF-8, UTF-8 with BOM, or GBK); label is "
        "a category code or its Chinese or English name",
        metavar="FILE",
        exists=True,
        file_okay=True,
        dir_okay=False,
        readable=True,
    ),
]


@nlu_app.command("import", help=IMPORT_HELP)
def import_command(file: FileArgument) -> None:
    context = _context()
    with _progress() as progress:
        task = progress.add_task("reading tickets", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            summary = importer.import_tickets(
                file,
                taxonomy=context.taxonomy,
                shipped_paths=[context.shipped_path],
                imported_path=context.imported_path,
                progress=advance,
            )
        except (ValueError, OSError) as exc:
            _fail(str(exc))
        progress.remove_task(task)
        _print_summary(summary)
        if summary.read == 0:
            _fail(f"{file}: no rows under the header")
        if summary.imported + summary.duplicates == 0:
            _fail(f"{file}: no valid rows; nothing imported")
        paths = importer.training_data_paths(context.shipped_path, context.imported_path)
        with _step(progress, "training the local model"):
            try:
                LocalClassifier.load_or_train(paths, context.model_dir)
            except (ValueError, OSError) as exc:
                _fail(f"training the local model failed: {exc}")
    model = context.model_dir / model_file_name(*(path.read_bytes() for path in paths))
    if context.imported_path.exists():
        typer.echo(
            f"training data: {context.imported_path} ({summary.total} imported examples, Rasa "
            "NLU format; `make rasa-train` reads it with the shipped data)"
        )
    typer.echo(f"local model: {model} (restart the gateway and workers to use it)")


def _print_summary(summary: importer.ImportSummary) -> None:
    typer.echo(
        f"read {summary.read} rows: {summary.imported} imported, {summary.duplicates} "
        f"duplicates, {len(summary.rejected)} rejected"
    )
    if summary.by_category:
        shown = ", ".join(f"{code} {n}" for code, n in summary.by_category.most_common())
        typer.echo(f"imported by category: {shown}")
    if summary.dropped:
        typer.echo(
            f"{summary.dropped} earlier imported examples dropped: the shipped data has them"
        )
    if summary.rejected:
        reasons = ", ".join(f"{reason} {n}" for reason, n in summary.rejected_by_reason().items())
        typer.echo(f"rejected by reason: {reasons}")
        for rejection in summary.rejected[:MAX_REJECTIONS_SHOWN]:
            typer.echo(f"  {rejection}")
        if len(summary.rejected) > MAX_REJECTIONS_SHOWN:
            typer.echo(f"  … and {len(summary.rejected) - MAX_REJECTIONS_SHOWN} more")


@nlu_app.command("eval", help=EVAL_HELP)
def eval_command(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="labelled CSV (text,label) to test on; default: a held-out 20% of the "
            "training data (shipped + imported)",
            metavar="FILE",
            exists=True,
            dir_okay=False,
            readable=True,
            show_default=False,
        ),
    ] = None,
    cv: Annotated[
        int | None,
        typer.Option(
            "--cv",
            min=2,
            metavar="K",
            help="K-fold cross-validation (of FILE, or of the training data), a fresh local model "
            "per fold; the local model only: Rasa is evaluated on the held-out split or FILE only",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False,
    seed: Annotated[int, typer.Option(help="shuffle seed of the split and the folds")] = 0,
) -> None:
    context = _context()
    try:
        training = [example for path in context.paths for example in load_examples(path)]
        with _progress(enabled=not as_json) as progress:
            outcome = asyncio.run(_evaluate(context, training, file, cv, seed, progress))
    except (ValueError, OSError) as exc:
        _fail(str(exc))
    if as_json:
        typer.echo(json.dumps(outcome.to_dict(), ensure_ascii=False, indent=2))
    else:
        typer.echo(outcome.to_text())


@dataclass(slots=True)
class _Outcome:
    method: dict[str, Any]
    local: Report
    rasa: Report | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "evaluation": self.method,
            "local": evaluation.report_to_dict(self.local),
            "rasa": None if self.rasa is None else evaluation.report_to_dict(self.rasa),
            "notes": self.notes,
        }

    def to_text(self) -> str:
        described = self.method["description"]
        parts = [format_report(self.local, title=f"local model: {described}")]
        if self.rasa is not None:
            parts.append(format_report(self.rasa, title=f"Rasa: {described}"))
        if self.notes:
            parts.append("\n".join(f"note: {note}" for note in self.notes))
        return "\n\n".join(parts)


async def _evaluate(
    context: _Context,
    training: list[Example],
    file: Path | None,
    cv: int | None,
    seed: int,
    progress: Progress,
) -> _Outcome:
    rasa_url = context.settings.rasa_url
    order = _order(context.taxonomy, training)
    if cv is not None:
        return await _cross_validate(context, training, file, cv, seed, progress, order)
    if file is None:
        train, test = _split(training, seed)
        method = {
            "method": "held-out",
            "description": f"held-out {HELD_OUT_FRACTION:.0%} of shipped + imported data "
            f"({len(test)} examples, seed {seed}), trained afresh on the other {len(train)}",
            "seed": seed,
            "test_examples": len(test),
            "train_examples": len(train),
        }
        with _step(progress, "training a local model on 80% of the data"):
            local = await evaluate(LocalClassifier.train, train, test, order=order)
        outcome = _Outcome(method, local)
        if rasa_url is not None:
            outcome.notes.append(
                "the served Rasa model was trained on all the data, the held-out examples too: "
                "its figures here are optimistic; compare engines on a FILE of tickets that were "
                "never imported"
            )
    else:
        rows = list(importer.read_tickets(file))
        checked = [importer.check_row(row, context.taxonomy) for row in rows]
        test = [example for example in checked if isinstance(example, Example)]
        skipped = len(rows) - len(test)
        if not test:
            raise ValueError(f"{file}: no valid rows to evaluate on")
        method = {
            "method": "file",
            "description": f"{file} ({len(test)} rows, {skipped} skipped), installed model",
            "file": str(file),
            "test_examples": len(test),
            "skipped_rows": skipped,
        }
        with _step(progress, "loading the installed local model"):
            installed = await asyncio.to_thread(
                LocalClassifier.load_or_train, context.paths, context.model_dir
            )
        local = await evaluate(lambda _: installed, training, test, order=order)
        outcome = _Outcome(method, local)
        known = {example.text for example in training}
        mask = importer.default_mask()
        seen = sum(importer.training_text(example.text, mask) in known for example in test)
        if seen:
            outcome.notes.append(
                f"{seen} of the {len(test)} test texts are in the training data (imported "
                "already?): the figures are optimistic; `--cv 5` measures unseen tickets"
            )
    if rasa_url is None:
        outcome.notes.append("Rasa not evaluated: CIVICLINE_RASA_URL is not set")
    elif rasa_opener is None:
        outcome.notes.append("Rasa not evaluated: the Rasa client is not wired into `nlu eval`")
    else:
        with _step(progress, "asking Rasa"):
            try:
                async with rasa_opener(context.settings) as rasa:
                    outcome.rasa = await evaluate(lambda _: rasa, training, test, order=order)
            except Exception as exc:  # the local figures still stand; say why Rasa's are missing
                outcome.notes.append(f"Rasa evaluation failed: {type(exc).__name__}: {exc}")
    return outcome


async def _cross_validate(
    context: _Context,
    training: list[Example],
    file: Path | None,
    k: int,
    seed: int,
    progress: Progress,
    order: Sequence[str],
) -> _Outcome:
    task = progress.add_task(f"{k}-fold cross-validation", total=k)

    def advance(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total)

    if file is None:
        examples: Sequence[Example] = training
        base: list[Example] = []
        what = "shipped + imported data"
        method: dict[str, Any] = {}
    else:
        rows = list(importer.read_tickets(file))
        shipped = load_examples(context.shipped_path)
        prepared = importer.prepare_rows(
            rows, taxonomy=context.taxonomy, shipped=shipped, mask=importer.default_mask()
        )
        examples = prepared.accepted
        if not examples:
            raise ValueError(f"{file}: no valid rows to evaluate on")
        texts = {example.text for example in examples}
        base = [example for example in training if example.text not in texts]
        what = f"{file} ({len(examples)} rows as import would take them; every fold also "
        what += "trains on the shipped + imported data)"
        method = {
            "file": str(file),
            "skipped_rows": len(rows) - len(examples),
            "base_examples": len(base),
        }
    report = await cross_validate(
        examples, k, LocalClassifier.train, seed, base=base, order=order, progress=advance
    )
    progress.remove_task(task)
    method = {
        "method": "cross-validation",
        "description": f"{k}-fold cross-validation of {what}, seed {seed}",
        "folds": k,
        "seed": seed,
        "test_examples": len(examples),
        **method,
    }
    note = (
        "Rasa is not cross-validated (training it per fold takes minutes): it is evaluated on "
        "the held-out split or FILE only"
    )
    return _Outcome(method, report, notes=[note])


def _order(taxonomy: Taxonomy, training: Sequence[Example]) -> list[str]:
    """Categories in the taxonomy's order, then the other intents as the data has them."""
    return list(dict.fromkeys([*taxonomy.categories, *(example.intent for example in training)]))


def _split(examples: list[Example], seed: int) -> tuple[list[Example], list[Example]]:
    intents = [example.intent for example in examples]
    try:
        train, test = train_test_split(
            examples, test_size=HELD_OUT_FRACTION, stratify=intents, random_state=seed
        )
    except ValueError as exc:
        raise ValueError(f"cannot split the training data: {exc}") from exc
    return list(train), list(test)
