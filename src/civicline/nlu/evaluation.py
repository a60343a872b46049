"""Measuring a classifier: per-intent precision, recall and F1, accuracy, macro-F1, confusion.

``evaluate`` trains (or just takes) a classifier and scores it on a test set; any engine that
implements the Classifier port works, so a served Rasa model is measured the same way as the local
one. ``cross_validate`` trains a fresh model per fold with the factory it is given: the local
classifier's ``LocalClassifier.train``, which never reads or writes the model cache, or
``rasa_folds.RasaFolds``, which trains Rasa in its own virtualenv. The folds depend only on the
examples, k and the seed, so two engines run with the same ones are measured on the same folds.

Macro-F1 averages over the intents present in the test set; an intent that is only ever predicted
(``nlu_fallback``, a conversation intent) still shows in the table and in the confusion matrix.
"""

from __future__ import annotations

import asyncio
import math
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)
from sklearn.model_selection import StratifiedKFold

from civicline.nlu.base import Classification, Classifier
from civicline.nlu.training_data import Example

ModelFactory = Callable[[Sequence[Example]], Classifier]
"""Trains a classifier on examples; a factory for a served model ignores them."""

FoldProgress = Callable[[int, int], None]
"""Called with (steps done, steps in all)."""

_MAX_LABEL_WIDTH = 32


@runtime_checkable
class BatchClassifier(Protocol):
    def classify_many(self, texts: Sequence[str]) -> list[Classification]: ...


@dataclass(frozen=True, slots=True)
class LabelScores:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True, slots=True)
class Report:
    engine: str
    labels: tuple[str, ...]
    """Every intent in the test set or among the predictions: the confusion matrix's order."""
    scores: dict[str, LabelScores]
    accuracy: float
    macro_f1: float
    confusion: tuple[tuple[int, ...], ...]
    """Rows: true intent; columns: predicted intent; both in ``labels`` order."""
    examples: int
    fold_accuracies: tuple[float, ...] = ()
    """Cross-validation only: each fold's accuracy."""
    answered_by: dict[str, int] = field(default_factory=dict)
    """Answers per engine: a Rasa client that fell back to the local model shows here."""
    answers: tuple[Classification, ...] = ()
    """The answers to the test examples, in their order (for ``outcomes.count``)."""

    def worst(self, n: int = 3) -> list[str]:
        """The n intents of the test set with the lowest F1."""
        present = [label for label in self.labels if self.scores[label].support > 0]
        return sorted(present, key=lambda label: (self.scores[label].f1, label))[:n]


def score(
    truth: Sequence[str],
    predicted: Sequence[str],
    *,
    engine: str,
    order: Sequence[str] = (),
    fold_accuracies: Sequence[float] = (),
    answered_by: dict[str, int] | None = None,
    answers: Sequence[Classification] = (),
) -> Report:
    """The figures for these answers; ``order`` puts known intents first (others follow as met)."""
    if not truth or len(truth) != len(predicted):
        raise ValueError("scoring needs one prediction per test example, and at least one")
    true_labels, met = set(truth), set(truth) | set(predicted)
    labels = tuple(label for label in dict.fromkeys([*order, *truth, *predicted]) if label in met)
    present = [label for label in labels if label in true_labels]
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=list(labels), zero_division=0
    )
    scores = {
        label: LabelScores(float(p), float(r), float(f), int(s))
        for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
    }
    matrix = confusion_matrix(truth, predicted, labels=list(labels))
    return Report(
        engine=engine,
        labels=labels,
        scores=scores,
        accuracy=float(accuracy_score(truth, predicted)),
        macro_f1=float(
            f1_score(truth, predicted, labels=present, average="macro", zero_division=0)
        ),
        confusion=tuple(tuple(int(n) for n in row) for row in matrix),
        examples=len(truth),
        fold_accuracies=tuple(fold_accuracies),
        answered_by=dict(answered_by or {}),
        answers=tuple(answers),
    )


async def classify_all(
    classifier: Classifier, texts: Sequence[str], *, concurrency: int = 4
) -> list[Classification]:
    """Answers in order: one batch for a local model, a few requests at a time for a server."""
    if isinstance(classifier, BatchClassifier):
        return await asyncio.to_thread(classifier.classify_many, list(texts))
    limit = asyncio.Semaphore(concurrency)

    async def one(text: str) -> Classification:
        async with limit:
            return await classifier.classify(text)

    return list(await asyncio.gather(*(one(text) for text in texts)))


async def evaluate(
    model_factory: ModelFactory,
    train: Sequence[Example],
    test: Sequence[Example],
    *,
    order: Sequence[str] = (),
    concurrency: int = 4,
) -> Report:
    """Train with ``model_factory`` on ``train`` (in a thread) and score it on ``test``.

    ``order``: intents to list first (default: as met in ``train``)."""
    if not test:
        raise ValueError("no test examples")
    classifier = await asyncio.to_thread(model_factory, train)
    answers = await classify_all(
        classifier, [example.text for example in test], concurrency=concurrency
    )
    return score(
        [example.intent for example in test],
        [answer.intent for answer in answers],
        engine=classifier.engine,
        order=order or [example.intent for example in train],
        answered_by=Counter(answer.engine for answer in answers),
        answers=answers,
    )


async def cross_validate(
    examples: Sequence[Example],
    k: int,
    factory: ModelFactory,
    seed: int,
    *,
    base: Sequence[Example] = (),
    order: Sequence[str] = (),
    progress: FoldProgress | None = None,
) -> Report:
    """Stratified k-fold: each fold is held out once while a fresh model trains on the others
    plus ``base`` (always in training; a text that is also in ``examples`` is taken from there).
    One report over all the out-of-fold answers, with each fold's accuracy.
    """
    intents = [example.intent for example in examples]
    texts = {example.text for example in examples}
    base = [example for example in base if example.text not in texts]
    if k < 2:
        raise ValueError("cross-validation needs at least 2 folds")
    if len(examples) < k:
        raise ValueError(f"{k}-fold cross-validation needs at least {k} examples")
    counts = Counter(intents)
    if not base:
        rare = sorted(intent for intent, n in counts.items() if n < k)
        if rare:
            raise ValueError(
                f"{k}-fold cross-validation needs {k} examples of each intent; too few: "
                + ", ".join(f"{intent} ({counts[intent]})" for intent in rare)
            )
    splits = fold_splits(examples, k, seed)
    predicted: list[str] = [""] * len(examples)
    collected: list[Classification | None] = [None] * len(examples)
    answered_by: Counter[str] = Counter()
    accuracies: list[float] = []
    engine = ""
    for done, (train_index, test_index) in enumerate(splits, start=1):
        test = [examples[i] for i in test_index]
        train = [*base, *(examples[i] for i in train_index)]
        classifier = await asyncio.to_thread(factory, train)
        engine = classifier.engine
        answers = await classify_all(classifier, [example.text for example in test])
        for i, answer in zip(test_index, answers, strict=True):
            predicted[i] = answer.intent
            collected[i] = answer
        answered_by.update(answer.engine for answer in answers)
        hits = [
            answer.intent == example.intent for answer, example in zip(answers, test, strict=True)
        ]
        accuracies.append(sum(hits) / len(test))
        if progress is not None:
            progress(done, len(splits))
    return score(
        intents,
        predicted,
        engine=engine,
        order=order or [example.intent for example in [*base, *examples]],
        fold_accuracies=accuracies,
        answered_by=answered_by,
        answers=[answer for answer in collected if answer is not None],
    )


def fold_splits(
    examples: Sequence[Example], k: int, seed: int
) -> list[tuple[Sequence[int], Sequence[int]]]:
    """Stratified k folds of ``examples`` by intent: (training, held-out) indexes per fold. The
    same examples, k and seed give the same folds, whichever engine is measured on them."""
    folds = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    intents = [example.intent for example in examples]
    with warnings.catch_warnings():
        # With a base in every training set, intents rarer than k in `examples` are fine.
        warnings.simplefilter("ignore", UserWarning)
        try:
            return [
                (list(map(int, train)), list(map(int, test)))
                for train, test in folds.split([example.text for example in examples], intents)
            ]
        except ValueError as exc:
            raise ValueError(f"too few examples for {k}-fold cross-validation: {exc}") from exc


def format_report(report: Report, *, title: str = "") -> str:
    """An aligned table per intent, the totals, and the confusion matrix with numbered labels."""
    number_width = len(str(len(report.labels)))
    names = {
        label: _fit(f"{index:>{number_width}} {label}", _MAX_LABEL_WIDTH)
        for index, label in enumerate(report.labels, start=1)
    }
    width = max(len("intent"), *(len(name) for name in names.values()))
    lines = [title or f"{report.engine}: {report.examples} test examples", ""]
    lines.append(f"{'intent':<{width}} {'precision':>9} {'recall':>7} {'F1':>6} {'support':>8}")
    for label in report.labels:
        s = report.scores[label]
        lines.append(
            f"{names[label]:<{width}} {s.precision:>9.3f} {s.recall:>7.3f} {s.f1:>6.3f}"
            f" {s.support:>8}"
        )
    lines.append("")
    lines.append(f"accuracy  {report.accuracy:.3f}")
    lines.append(f"macro-F1  {report.macro_f1:.3f}")
    if report.fold_accuracies:
        mean = sum(report.fold_accuracies) / len(report.fold_accuracies)
        spread = math.sqrt(
            sum((a - mean) ** 2 for a in report.fold_accuracies) / len(report.fold_accuracies)
        )
        folds = " ".join(f"{a:.3f}" for a in report.fold_accuracies)
        lines.append(f"per fold  {folds}  (mean {mean:.3f} ± {spread:.3f})")
    worst = report.worst()
    if worst:
        lines.append(
            "weakest   " + ", ".join(f"{label} ({report.scores[label].f1:.3f})" for label in worst)
        )
    others = {engine: n for engine, n in report.answered_by.items() if engine != report.engine}
    if others:
        shown = ", ".join(f"{n} by {engine}" for engine, n in sorted(others.items()))
        lines.append(f"note      {shown}: not every answer came from {report.engine}")
    lines.append("")
    lines.append("confusion matrix: rows are the true intent, columns the predicted one, numbered")
    lines.append("as the rows; '.' is zero")
    biggest = max((n for row in report.confusion for n in row), default=0)
    cell = max(len(str(biggest)), number_width) + 1
    header = "".join(f"{index:>{cell}}" for index in range(1, len(report.labels) + 1))
    lines.append(f"{'':<{width}}{header}")
    for label, row in zip(report.labels, report.confusion, strict=True):
        cells = "".join(f"{(str(n) if n else '.'):>{cell}}" for n in row)
        lines.append(f"{names[label]:<{width}}{cells}")
    return "\n".join(lines)


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def report_to_dict(report: Report) -> dict[str, Any]:
    """The report as plain JSON-ready data (figures rounded to 4 places)."""
    data: dict[str, Any] = {
        "engine": report.engine,
        "examples": report.examples,
        "accuracy": round(report.accuracy, 4),
        "macro_f1": round(report.macro_f1, 4),
        "per_label": {
            label: {
                "precision": round(s.precision, 4),
                "recall": round(s.recall, 4),
                "f1": round(s.f1, 4),
                "support": s.support,
            }
            for label, s in report.scores.items()
        },
        "labels": list(report.labels),
        "confusion_matrix": [list(row) for row in report.confusion],
        "worst": report.worst(),
        "answered_by": dict(report.answered_by),
    }
    if report.fold_accuracies:
        data["fold_accuracies"] = [round(a, 4) for a in report.fold_accuracies]
    return data
