"""``civicline nlu``: train from a city's past tickets and measure the NLU engines.

``import FILE`` merges a CSV of past tickets into {var_dir}/nlu/imported.yml (Rasa NLU YAML, read
by the local classifier together with the shipped data, and by ``make rasa-train``) and retrains
the local model. ``eval [FILE]`` prints per-category precision, recall and F1, accuracy,
macro-F1 and a confusion matrix for the local model and for Rasa: the served Rasa model on a
held-out split or FILE (when a Rasa server is configured), or, with ``--cv K``, a fresh Rasa
model per fold trained in the Rasa virtualenv (when it is installed; nlu/rasa_folds.py).
"""

from __future__ import annotations

import asyncio
import enum
import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    asynccontextmanager,
    contextmanager,
)
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.progress import (
    Progress,
    TaskID,
)

from civicline.domain.taxonomy import Taxonomy
from civicline.gateway.cli.common import (
    configured,
    echo_by_category,
    fail,
    progress_bar,
    taxonomy_of,
)
from civicline.gateway.cli.rows_progress import rows_progress
from civicline.gateway.settings import Settings
from civicline.nlu import importer, rasa_export
from civicline.nlu.base import Classifier
from civicline.nlu.files import atomic_writer
from civicline.nlu.local import LocalClassifier, cache_path
from civicline.nlu.measurement import Data, Engines, RasaOpener, measure
from civicline.nlu.rasa import RasaClassifier
from civicline.nlu.rasa_folds import NOT_INSTALLED, PYTHON_VARIABLE, installed_python, rasa_python
from civicline.nlu.test_sets import read_negatives
from civicline.nlu.training_data import load_data, shipped_paths

ServedRasa = Callable[[Settings], AbstractAsyncContextManager[Classifier]]

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
    "that the shipped data, an earlier import or an earlier row files under another category.\n\n"
    "Rows are checked 50,000 at a time and each chunk's result is kept beside the imported file "
    "({var_dir}/nlu/imported.yml.partial): an import killed half-way continues where it stopped "
    "when run again on the same file (--restart: from the start). The progress (rows, rate, "
    "time left) is a bar on a terminal and a line every 10 s otherwise."
)
EVAL_HELP = (
    "Per-category precision, recall and F1, accuracy, macro-F1 and a confusion matrix, for the "
    "local model and for Rasa.\n\n"
    "Without FILE: a stratified 80/20 split of the shipped + imported data; a fresh local model "
    "trains on the 80% (the installed model is not touched) and the served Rasa model (when "
    "CIVICLINE_RASA_URL is set) answers the 20%. "
    "With FILE: the installed local model and the served Rasa model on FILE's rows as given. "
    "With --cv K: K-fold cross-validation of FILE (its rows prepared exactly as `import` would, "
    "each fold trained on the shipped + imported data plus the other folds) or, without FILE, of "
    "the training data; both engines get the same folds, and each fold trains a fresh local "
    "model and, when Rasa is installed (`make rasa-install`, or CIVICLINE_RASA_PYTHON), a fresh "
    "Rasa model in its virtualenv: about 3 minutes a fold at the config's 200 epochs, fewer with "
    "--rasa-epochs. The installed models are never touched."
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


rasa_opener: ServedRasa | None = open_rasa
"""How `eval` reaches the served Rasa model when settings.rasa_url is set (tests swap it)."""


class Engine(enum.StrEnum):
    local = "local"
    rasa = "rasa"
    both = "both"


@dataclass(slots=True)
class _Context:
    settings: Settings
    taxonomy: Taxonomy
    shipped_paths: list[Path]
    imported_path: Path
    model_dir: Path
    paths: list[Path] = field(default_factory=list)

    def data(self) -> Data:
        return Data(
            self.taxonomy,
            self.shipped_paths,
            self.paths,
            self.model_dir,
            self.settings.nlu_min_confidence,
        )


def _rasa(settings: Settings) -> RasaOpener | None:
    opener = rasa_opener
    return None if opener is None else lambda: opener(settings)


def _context() -> _Context:
    settings = configured()
    taxonomy = taxonomy_of(settings)
    imported = importer.imported_data_path(settings.var_dir)
    shipped = shipped_paths(settings.nlu_data_path, settings.nlu_training_dir)
    return _Context(
        settings=settings,
        taxonomy=taxonomy,
        shipped_paths=shipped,
        imported_path=imported,
        model_dir=settings.model_dir or settings.var_dir / "models",
        paths=importer.training_data_paths(shipped, imported),
    )


@contextmanager
def _step(progress: Progress, description: str) -> Iterator[None]:
    task = progress.add_task(description, total=None)
    try:
        yield
    finally:
        progress.remove_task(task)


@dataclass(frozen=True, slots=True)
class _Counter:
    progress: Progress
    task: TaskID

    def describe(self, description: str) -> None:
        self.progress.update(self.task, description=description)

    def advance(self, done: int, total: int) -> None:
        self.progress.update(self.task, completed=done, total=total)


@dataclass(frozen=True, slots=True)
class _Shown:
    """An evaluation's progress on a rich progress line."""

    progress: Progress

    def step(self, description: str) -> AbstractContextManager[None]:
        return _step(self.progress, description)

    @contextmanager
    def counter(self, description: str, total: int) -> Iterator[_Counter]:
        task = self.progress.add_task(description, total=total)
        try:
            yield _Counter(self.progress, task)
        finally:
            self.progress.remove_task(task)


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
def import_command(
    file: FileArgument,
    train: Annotated[
        bool,
        typer.Option(
            "--train/--no-train",
            help="retrain the local model afterwards (the gateway otherwise trains at its start)",
        ),
    ] = True,
    restart: Annotated[
        bool, typer.Option("--restart", help="read the file from its start, not from a checkpoint")
    ] = False,
) -> None:
    context = _context()
    total = importer.count_rows(file)
    with rows_progress("reading tickets", total) as bar:
        shown = 0

        def advance(done: int, _: int) -> None:
            nonlocal shown
            if done - shown >= 1_000 or done == total:
                bar.advance(done - shown)
                shown = done

        try:
            summary = importer.import_tickets(
                file,
                taxonomy=context.taxonomy,
                shipped_paths=context.shipped_paths,
                imported_path=context.imported_path,
                progress=advance,
                restart=restart,
            )
        except (ValueError, OSError) as exc:
            fail(str(exc))
    _print_summary(summary)
    if summary.read == 0:
        fail(f"{file}: no rows under the header")
    if summary.imported + summary.duplicates == 0:
        fail(f"{file}: no valid rows; nothing imported")
    paths = importer.training_data_paths(context.shipped_paths, context.imported_path)
    own = paths[len(context.shipped_paths) :]
    if context.imported_path.exists():
        typer.echo(
            f"training data: {context.imported_path} ({summary.total} imported examples, Rasa "
            "NLU format; `make rasa-train` reads it with the shipped data)"
        )
    if not train:
        typer.echo("local model: not retrained (--no-train); the gateway trains it at its start")
        return
    with progress_bar() as progress, _step(progress, "training the local model"):
        try:
            LocalClassifier.load_or_train(
                paths, context.model_dir, priors=context.taxonomy.shares(), tickets=own
            )
        except (ValueError, OSError) as exc:
            fail(f"training the local model failed: {exc}")
    model = cache_path(paths, context.model_dir, own)
    typer.echo(f"local model: {model} (restart the gateway and workers to use it)")


def _print_summary(summary: importer.ImportSummary) -> None:
    if summary.resumed:
        typer.echo(f"resumed after {summary.resumed} rows an earlier run checked")
    typer.echo(
        f"read {summary.read} rows: {summary.imported} imported, {summary.duplicates} "
        f"duplicates, {len(summary.rejected)} rejected"
    )
    echo_by_category(summary.by_category)
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


@nlu_app.command("export-rasa")
def export_rasa_command(
    out: Annotated[
        Path,
        typer.Argument(help="where to write Rasa's NLU training data (YAML)", metavar="FILE"),
    ],
) -> None:
    """Write the shipped training data (nlu/data/nlu.yml and nlu/data/training/) as Rasa NLU
    YAML: the data `make rasa-train` trains Rasa on, with the city's imports and corrections."""
    context = _context()
    try:
        content = rasa_export.export(context.shipped_paths, order=list(context.taxonomy.categories))
        with atomic_writer(out) as file:
            file.write(content.encode("utf-8"))
    except (ValueError, OSError) as exc:
        fail(str(exc))
    typer.echo(f"wrote {out}")


@nlu_app.command("eval", help=EVAL_HELP)
def eval_command(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="labelled messages to test on: a CSV (text,label) or a YAML `messages:` list "
            "(text, category, matter; category `none` for what is not a complaint); default: a "
            "held-out 20% of the training data (shipped + imported)",
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
            help="K-fold cross-validation (of FILE, or of the training data): a fresh local model "
            "and a fresh Rasa model per fold, on the same folds",
            show_default=False,
        ),
    ] = None,
    engine: Annotated[
        Engine | None,
        typer.Option(
            "--engine",
            help="which engines to measure; default: both when Rasa is available (with --cv: "
            "installed; otherwise: CIVICLINE_RASA_URL set), else local",
            show_default=False,
        ),
    ] = None,
    rasa_epochs: Annotated[
        int | None,
        typer.Option(
            "--rasa-epochs",
            min=1,
            metavar="N",
            help="with --cv: train each fold's Rasa model for N DIET epochs instead of the "
            "config's, for a quick run",
            show_default=False,
        ),
    ] = None,
    negatives: Annotated[
        Path | None,
        typer.Option(
            "--negatives",
            help="messages that are not complaints (YAML messages, a CSV with a text column, or "
            "one a line): the share that would open a case",
            metavar="FILE",
            exists=True,
            dir_okay=False,
            readable=True,
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False,
    seed: Annotated[int, typer.Option(help="shuffle seed of the split and the folds")] = 0,
) -> None:
    context = _context()
    engines = _choose_engines(engine, cv, rasa_epochs, context.settings)
    try:
        training = load_data(context.paths, tickets=context.data().tickets)
        extra = read_negatives(negatives) if negatives is not None else []
        with progress_bar(enabled=not as_json) as progress:
            outcome = asyncio.run(
                measure(
                    context.data(),
                    training,
                    file,
                    cv,
                    seed,
                    _Shown(progress),
                    engines,
                    _rasa(context.settings),
                    extra,
                )
            )
    except (ValueError, OSError) as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps(outcome.to_dict(), ensure_ascii=False, indent=2))
    else:
        typer.echo(outcome.to_text())


def _choose_engines(
    engine: Engine | None, cv: int | None, rasa_epochs: int | None, settings: Settings
) -> Engines:
    """Rasa by default when it can be measured: with --cv, when its virtualenv is installed
    (each fold trains in it); otherwise, when a Rasa server is configured (the served model)."""
    local = engine in (None, Engine.local, Engine.both)
    wanted = engine in (Engine.rasa, Engine.both)
    if cv is None:
        if rasa_epochs is not None:
            fail("--rasa-epochs goes with --cv: without it the served Rasa model is measured")
        if engine == Engine.local:
            return Engines(local=True, rasa=False)
        if settings.rasa_url is None:
            if wanted:
                fail(
                    "without --cv, Rasa is measured through its server: set CIVICLINE_RASA_URL "
                    "(or use --cv K to train a Rasa model per fold)"
                )
            return Engines(True, False, note="Rasa not evaluated: CIVICLINE_RASA_URL is not set")
        return Engines(local=local, rasa=True)
    if engine == Engine.local:
        return Engines(local=True, rasa=False)
    python = installed_python()
    if python is None:
        if wanted:
            fail(f"{NOT_INSTALLED} (or set {PYTHON_VARIABLE}; looked for {rasa_python()})")
        return Engines(
            True,
            False,
            note="Rasa not cross-validated: it is not installed (`make rasa-install`, or set "
            f"{PYTHON_VARIABLE})",
        )
    return Engines(local=local, rasa=True, rasa_python=python, rasa_epochs=rasa_epochs)
