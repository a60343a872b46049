"""Measuring the NLU engines (``civicline nlu eval``): on a held-out split of the training data,
on a labelled file as given, or by k-fold cross-validation with a fresh model per fold (the
local classifier, and Rasa trained in its own virtualenv: ``rasa_folds``). The figures
themselves are ``evaluation``'s; how progress is shown is the caller's (``Progress``).
"""

from __future__ import annotations

import asyncio
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
from civicline.nlu.local import LocalClassifier
from civicline.nlu.rasa_folds import RasaFoldFailed, RasaFolds, SubprocessRunner
from civicline.nlu.training_data import Example, load_examples

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
    """The training data an evaluation starts from, and where the installed model lives."""

    taxonomy: Taxonomy
    shipped_path: Path
    paths: list[Path]
    model_dir: Path


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "evaluation": self.method,
            "local": None if self.local is None else evaluation.report_to_dict(self.local),
            "rasa": None if self.rasa is None else evaluation.report_to_dict(self.rasa),
            "notes": self.notes,
        }

    def to_text(self) -> str:
        described = self.method["description"]
        parts = []
        if self.local is not None:
            parts.append(format_report(self.local, title=f"local model: {described}"))
        if self.rasa is not None:
            title = f"Rasa{self.rasa_detail}: {described}"
            parts.append(format_report(self.rasa, title=title))
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
) -> Outcome:
    """Per-category figures of the chosen engines: on a held-out split of ``training``
    (no ``file``), on ``file`` as given, or by ``cv``-fold cross-validation."""
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
        outcome = Outcome(method)
        if engines.local:
            with progress.step("training a local model on 80% of the data"):
                outcome.local = await evaluate(LocalClassifier.train, train, test, order=order)
        if engines.rasa:
            outcome.notes.append(
                "the served Rasa model was trained on all the data, the held-out examples too: "
                "its figures here are optimistic; `--cv 5` trains a Rasa model per fold"
            )
    else:
        rows = list(importer.read_tickets(file))
        checked = [importer.check_row(row, data.taxonomy) for row in rows]
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
        outcome = Outcome(method)
        if engines.local:
            with progress.step("loading the installed local model"):
                installed = await asyncio.to_thread(
                    LocalClassifier.load_or_train, data.paths, data.model_dir
                )
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
    if file is None:
        examples: Sequence[Example] = training
        base: list[Example] = []
        what = "shipped + imported data"
        method: dict[str, Any] = {}
    else:
        rows = list(importer.read_tickets(file))
        shipped = load_examples(data.shipped_path)
        prepared = importer.prepare_rows(
            rows, taxonomy=data.taxonomy, shipped=shipped, mask=importer.default_mask()
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
        }
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
        outcome.local = await run("local", LocalClassifier.train)
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
