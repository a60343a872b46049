"""Measuring the NLU engines (``civicline nlu eval``): on a held-out split of the training data,
on a labelled file as given, or by k-fold cross-validation with a fresh model per fold (the
local classifier, and Rasa trained in its own virtualenv: ``rasa_folds``). The figures
themselves are ``evaluation``'s; how progress is shown is the caller's (``Progress``).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sklearn.model_selection import train_test_split

from civicline.domain.taxonomy import Taxonomy
from civicline.nlu import evaluation, importer
from civicline.nlu.base import Classifier
from civicline.nlu.evaluation import ModelFactory, Report, cross_validate, evaluate, format_report
from civicline.nlu.gated import combine
from civicline.nlu.local import LocalClassifier
from civicline.nlu.outcomes import (
    NO_CASE,
    TRIAGE,
    Outcomes,
    count,
    format_outcomes,
    outcome_of,
    truth_of,
)
from civicline.nlu.rasa_folds import RasaFoldFailed, RasaFolds, SubprocessRunner
from civicline.nlu.test_sets import read_messages
from civicline.nlu.training_data import Example, load_data

HELD_OUT_FRACTION = 0.2

RasaOpener = Callable[[], AbstractAsyncContextManager[Classifier]]
"""Opens the served Rasa model for the length of an evaluation."""


class Counter(Protocol):
    def describe(self, description: str) -> None: ...

    def advance(self, done: int, total: int) -> None: ...


class Progress(Protocol):
    """Where a long evaluation says what it is doing."""

    def step(self, description: str) -> AbstractContextManager[None]: ...

    def counter(self, description: str, total: int) -> AbstractContextManager[Counter]: ...


@dataclass(frozen=True, slots=True)
class Data:
    """The training data an evaluation starts from, where the installed model lives, and the
    routing threshold the outcomes are counted at."""

    taxonomy: Taxonomy
    shipped_paths: list[Path]
    paths: list[Path]
    model_dir: Path
    min_confidence: float = 0.4

    def installed(self) -> LocalClassifier:
        """The installed local model (trained on the shipped + imported data if not cached)."""
        return LocalClassifier.load_or_train(
            self.paths, self.model_dir, priors=self.taxonomy.shares(), tickets=self.tickets
        )

    @property
    def tickets(self) -> list[Path]:
        """The city's own data among the paths (imported tickets, corrections)."""
        return [path for path in self.paths if path not in self.shipped_paths]

    def train(self, examples: Sequence[Example]) -> LocalClassifier:
        """A fresh local model, with the city's priors (a fold's, a split's)."""
        return LocalClassifier.train(examples, priors=self.taxonomy.shares())


@dataclass(frozen=True, slots=True)
class Engines:
    """Which engines an evaluation measures, and why Rasa is left out when it is."""

    local: bool
    rasa: bool
    rasa_python: Path | None = None
    """With --cv: the Rasa virtualenv's Python that trains each fold."""
    rasa_epochs: int | None = None
    note: str | None = None


@dataclass(slots=True)
class Outcome:
    method: dict[str, Any]
    local: Report | None = None
    rasa: Report | None = None
    notes: list[str] = field(default_factory=list)
    rasa_detail: str = ""
    """Said after Rasa's title: how its models were trained."""
    test: list[Example] = field(default_factory=list)
    negatives: list[str] = field(default_factory=list)
    min_confidence: float = 0.0
    routing: dict[str, Outcomes] = field(default_factory=dict)
    """Per engine: what the gateway would do with its answers (``nlu.outcomes``)."""
    at_threshold: dict[str, Report] = field(default_factory=dict)
    """Per engine: per-category figures of the routing decisions (triage and no case count as
    answers of their own)."""

    def to_dict(self) -> dict[str, Any]:
        def engine(name: str, report: Report | None) -> dict[str, Any] | None:
            if report is None:
                return None
            data = evaluation.report_to_dict(report)
            if name in self.routing:
                data["routing"] = {
                    "min_confidence": self.min_confidence,
                    **self.routing[name].to_dict(),
                    "per_label": evaluation.report_to_dict(self.at_threshold[name])["per_label"],
                }
            return data

        return {
            "evaluation": self.method,
            "local": engine("local", self.local),
            "rasa": engine("rasa", self.rasa),
            "notes": self.notes,
        }

    def to_text(self) -> str:
        described = self.method["description"]
        parts = []
        for name, report, title in (
            ("local", self.local, f"local model: {described}"),
            ("rasa", self.rasa, f"Rasa{self.rasa_detail}: {described}"),
        ):
            if report is None:
                continue
            parts.append(format_report(report, title=f"{title}\nbest category, any confidence"))
            if name in self.routing:
                routed = format_report(
                    self.at_threshold[name],
                    title=f"{title}\nas routed at the threshold {self.min_confidence:.2f}",
                )
                figures = format_outcomes(self.routing[name], min_confidence=self.min_confidence)
                parts.append(routed.split("\nconfusion matrix")[0] + "\n" + figures)
        if self.notes:
            parts.append("\n".join(f"note: {note}" for note in self.notes))
        return "\n\n".join(parts)


async def measure(
    data: Data,
    training: list[Example],
    file: Path | None,
    cv: int | None,
    seed: int,
    progress: Progress,
    engines: Engines,
    rasa_opener: RasaOpener | None,
    negatives: Sequence[str] = (),
) -> Outcome:
    """Per-category figures of the chosen engines: on a held-out split of ``training``
    (no ``file``), on ``file`` as given, or by ``cv``-fold cross-validation; and what the
    gateway would do with their answers, ``negatives`` (texts that are not complaints)
    included."""
    outcome = await _measure(data, training, file, cv, seed, progress, engines, rasa_opener)
    outcome.negatives += negatives
    with progress.step("counting the routing outcomes"):
        route(outcome, data)
    return outcome


async def _measure(
    data: Data,
    training: list[Example],
    file: Path | None,
    cv: int | None,
    seed: int,
    progress: Progress,
    engines: Engines,
    rasa_opener: RasaOpener | None,
) -> Outcome:
    order = _order(data.taxonomy, training)
    if cv is not None:
        return await _cross_validate(data, training, file, cv, seed, progress, order, engines)
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
        outcome = Outcome(method, test=test)
        if engines.local:
            with progress.step("training a local model on 80% of the data"):
                outcome.local = await evaluate(data.train, train, test, order=order)
        if engines.rasa:
            outcome.notes.append(
                "the served Rasa model was trained on all the data, the held-out examples too: "
                "its figures here are optimistic; `--cv 5` trains a Rasa model per fold"
            )
    else:
        test, skipped, negatives_in_file = _read_test_file(file, data.taxonomy)
        if not test:
            raise ValueError(f"{file}: no valid rows to evaluate on")
        method = {
            "method": "file",
            "description": f"{file} ({len(test)} rows, {skipped} skipped), installed model",
            "file": str(file),
            "test_examples": len(test),
            "skipped_rows": skipped,
        }
        outcome = Outcome(method, test=test, negatives=negatives_in_file)
        if engines.local:
            with progress.step("loading the installed local model"):
                installed = await asyncio.to_thread(data.installed)
            outcome.local = await evaluate(lambda _: installed, training, test, order=order)
        known = {example.text for example in training}
        mask = importer.default_mask()
        seen = sum(importer.training_text(example.text, mask) in known for example in test)
        if seen:
            outcome.notes.append(
                f"{seen} of the {len(test)} test texts are in the training data (imported "
                "already?): the figures are optimistic; `--cv 5` measures unseen tickets"
            )
    if engines.note:
        outcome.notes.append(engines.note)
    if not engines.rasa:
        return outcome
    if rasa_opener is None:
        outcome.notes.append("Rasa not evaluated: the Rasa client is not wired into `nlu eval`")
        return outcome
    with progress.step("asking Rasa"):
        try:
            async with rasa_opener() as rasa:
                outcome.rasa = await evaluate(lambda _: rasa, training, test, order=order)
        except Exception as exc:  # the local figures still stand; say why Rasa's are missing
            if not engines.local:
                raise ValueError(f"Rasa evaluation failed: {type(exc).__name__}: {exc}") from exc
            outcome.notes.append(f"Rasa evaluation failed: {type(exc).__name__}: {exc}")
    return outcome


async def _cross_validate(
    data: Data,
    training: list[Example],
    file: Path | None,
    k: int,
    seed: int,
    progress: Progress,
    order: Sequence[str],
    engines: Engines,
) -> Outcome:
    negatives: list[str] = []
    if file is None:
        examples: Sequence[Example] = training
        base: list[Example] = []
        what = "shipped + imported data"
        method: dict[str, Any] = {}
    else:
        rows, matters, negatives = _ticket_rows(file)
        shipped = load_data(data.shipped_paths)
        prepared = importer.prepare_rows(
            rows, taxonomy=data.taxonomy, shipped=shipped, mask=importer.default_mask()
        )
        examples = [
            Example(example.text, example.intent, matters.get(line), ticket=True)
            for example, line in zip(prepared.accepted, prepared.lines, strict=True)
        ]
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
    outcome = Outcome(
        {
            "method": "cross-validation",
            "description": f"{k}-fold cross-validation of {what}, seed {seed}",
            "folds": k,
            "seed": seed,
            "test_examples": len(examples),
            **method,
            "engines": [
                name for name, on in (("local", engines.local), ("rasa", engines.rasa)) if on
            ],
            "seconds": {},
        },
        test=list(examples),
        negatives=negatives,
    )

    async def run(name: str, factory: ModelFactory) -> Report:
        label = "Rasa" if name == "rasa" else name
        with progress.counter(f"{label}: {k}-fold cross-validation", k) as counter:
            factory = _announcing(factory, label, k, counter)
            started = time.perf_counter()
            try:
                return await cross_validate(
                    examples, k, factory, seed, base=base, order=order, progress=counter.advance
                )
            finally:
                outcome.method["seconds"][name] = round(time.perf_counter() - started, 1)

    if engines.local:
        outcome.local = await run("local", data.train)
    if engines.note:
        outcome.notes.append(engines.note)
    if engines.rasa:
        assert engines.rasa_python is not None
        runner = SubprocessRunner(engines.rasa_python)
        folds = RasaFolds(runner, epochs=engines.rasa_epochs, order=order)
        outcome.method["rasa_epochs"] = folds.diet_epochs
        outcome.rasa_detail = f" (a fresh model per fold, {folds.diet_epochs} epochs)"
        try:
            outcome.rasa = await run("rasa", folds)
        except RasaFoldFailed as exc:
            if not engines.local:
                raise ValueError(str(exc)) from exc
            outcome.notes.append(f"Rasa cross-validation failed: {exc}")
    return outcome


def _announcing(factory: ModelFactory, name: str, k: int, counter: Counter) -> ModelFactory:
    """The factory, saying on the progress line which fold trains (a Rasa fold takes minutes)."""
    started = 0

    def announced(train: Sequence[Example]) -> Classifier:
        nonlocal started
        started += 1
        description = f"{name}: fold {started} of {k}, training on {len(train)} examples"
        counter.describe(description)
        return factory(train)

    return announced


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


def _read_test_file(file: Path, taxonomy: Taxonomy) -> tuple[list[Example], int, list[str]]:
    """The complaints to test on, how many rows were skipped, and the texts labelled as no
    complaint (YAML ``category: none``)."""
    if file.suffix.lower() in (".yml", ".yaml"):
        messages = read_messages(file)
        test = [
            Example(m.text, m.category, m.matter)
            for m in messages
            if m.category in taxonomy.categories
        ]
        negatives = [m.text for m in messages if not m.is_complaint]
        return test, len(messages) - len(test) - len(negatives), negatives
    rows = list(importer.read_tickets(file))
    checked = [importer.check_row(row, taxonomy) for row in rows]
    test = [example for example in checked if isinstance(example, Example)]
    return test, len(rows) - len(test), []


def _ticket_rows(file: Path) -> tuple[list[importer.Row], dict[int, str], list[str]]:
    """A file's rows as `import` reads them, the matter named on each line (YAML), and the
    texts of what is not a complaint (YAML)."""
    if file.suffix.lower() not in (".yml", ".yaml"):
        return list(importer.read_tickets(file)), {}, []
    messages = read_messages(file)
    rows, matters = [], {}
    for line, message in enumerate(messages, start=1):
        if message.is_complaint:
            rows.append(importer.Row(line, message.text, message.category))
            if message.matter:
                matters[line] = message.matter
    return rows, matters, [m.text for m in messages if not m.is_complaint]


def route(outcome: Outcome, data: Data) -> None:
    """What the gateway would do with each engine's answers: routed right or wrong, triage, no
    case; the negatives' open rate. Rasa's answers pass the local gate first, as they do in the
    gateway (``nlu.gated``), so its negatives are the local model's. The installed model is
    read only when something needs it (negatives, or Rasa measured without the local model)."""
    taxonomy = data.taxonomy
    outcome.min_confidence = data.min_confidence
    complaints = [i for i, e in enumerate(outcome.test) if e.intent in taxonomy.categories]
    if not complaints or (outcome.local is None and outcome.rasa is None):
        return
    installed = functools.cache(data.installed)
    tested = [outcome.test[i] for i in complaints]
    texts = [e.text for e in tested]
    truths = [truth_of(e.text, e.intent, e.subcategory, taxonomy) for e in tested]
    negative_answers = installed().classify_many(outcome.negatives) if outcome.negatives else []
    local = (
        [outcome.local.answers[i] for i in complaints]
        if outcome.local is not None
        else installed().classify_many(texts)
    )
    answers = {"local": local} if outcome.local is not None else {}
    if outcome.rasa is not None:
        routed = [outcome.rasa.answers[i] for i in complaints]
        answers["rasa"] = [
            mine if mine.intent not in taxonomy.categories else combine(mine, theirs, None, t)
            for mine, theirs, t in zip(local, routed, texts, strict=True)
        ]
        if outcome.negatives:
            outcome.notes.append(
                "Rasa routes what passes the local gate: its negatives are the local model's"
            )
    for name, given in answers.items():
        outcome.routing[name] = count(
            truths,
            given,
            categories=taxonomy.categories,
            min_confidence=data.min_confidence,
            departments=taxonomy.department_for,
            negatives=outcome.negatives,
            negative_answers=negative_answers,
        )
        decided = [
            outcome_of(
                a, text=t.text, categories=taxonomy.categories, min_confidence=data.min_confidence
            )
            for a, t in zip(given, truths, strict=True)
        ]
        outcome.at_threshold[name] = evaluation.score(
            [t.category for t in truths],
            decided,
            engine=name,
            order=[*taxonomy.categories, TRIAGE, NO_CASE],
        )
