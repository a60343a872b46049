"""Corrections of the NLU by people: kept as training examples the next model learns from.

When a hotline operator files a call under another category than the NLU suggested, or staff
place a case from the console's triage queue, the words (masked: no phone or ID number is
stored, cleaned like imported tickets) and the right category are merged into
``var/nlu/corrections.yml``, in the Rasa NLU format of the shipped data: one example per text,
the latest correction winning. The local classifier reads it at its next start
(``gateway.bootstrap.load_classifier`` via ``importer.training_data_paths``) and
``make rasa-train`` with the rest of the data. Gateways and workers may write at once: a file
lock orders them, and each write replaces the file atomically.
"""

from __future__ import annotations

import asyncio
import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from civicline.nlu import masking
from civicline.nlu.files import atomic_writer
from civicline.nlu.importer import (
    CORRECTIONS_FILE_NAME,
    MAX_TEXT_LENGTH,
    dump_examples,
    training_text,
)
from civicline.nlu.training_data import Example, load_examples

__all__ = ["CORRECTIONS_FILE_NAME", "Corrections", "CorrectionsFile", "add_correction"]

HEADER = (
    "# Corrections by operators and staff (the category a person chose over the NLU's),",
    "# masked; read with the shipped nlu.yml and imported tickets by the local classifier",
    "# and by `make rasa-train`. Written by the gateway.",
)


def corrections_path(var_dir: Path) -> Path:
    return var_dir / "nlu" / CORRECTIONS_FILE_NAME


class Corrections:
    def __init__(self, path: Path) -> None:
        self.path = path

    def record(self, text: str, label: str) -> bool:
        """Keep ``label`` as the right category of ``text``; False when there is nothing to
        learn (empty, too long, or already there with that label)."""
        example = Example(training_text(text, masking.mask), label)
        if not example.text or len(example.text) > MAX_TEXT_LENGTH:
            return False
        with self._locked():
            earlier = load_examples(self.path) if self.path.exists() else []
            if example in earlier:
                return False
            kept = [e for e in earlier if e.text != example.text] + [example]
            with atomic_writer(self.path) as file:
                file.write(dump_examples(kept, header=HEADER).encode("utf-8"))
        return True

    def examples(self) -> list[Example]:
        return load_examples(self.path) if self.path.exists() else []

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = self.path.with_name(f".{self.path.name}.lock")
        with lock.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def add_correction(path: Path, text: str, label: str) -> bool:
    """``Corrections(path).record(text, label)``."""
    return Corrections(path).record(text, label)


class CorrectionsFile:
    """The async port handlers call with (text, category): the file write runs in a thread."""

    def __init__(self, path: Path) -> None:
        self.corrections = Corrections(path)

    @property
    def path(self) -> Path:
        return self.corrections.path

    async def __call__(self, text: str, label: str) -> None:
        await asyncio.to_thread(self.corrections.record, text, label)
