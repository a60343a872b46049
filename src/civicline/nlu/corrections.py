"""Corrections of the NLU by people: kept as training examples the next model learns from.

When a hotline operator files a call under another category than the NLU suggested, or staff
place a case from the triage queue, the (masked) words and the right category are stored in
``var/nlu/corrections.yml``, in the Rasa NLU format of the shipped data. The local classifier
reads it at its next start and ``make rasa-train`` with the rest of the data. The latest
correction of a text wins; several processes may write at once (a file lock orders them).
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from civicline.nlu import masking
from civicline.nlu.files import atomic_writer
from civicline.nlu.importer import CORRECTIONS_FILE_NAME, dump_examples, training_text
from civicline.nlu.training_data import Example, load_examples

HEADER = (
    "# Corrections by operators and staff (the category a person chose over the NLU's);",
    "# read with the shipped nlu.yml by the local classifier and by Rasa. Written by the",
    "# gateway: edit with care.",
)
MAX_TEXT = 1000


def corrections_path(var_dir: Path) -> Path:
    return var_dir / "nlu" / CORRECTIONS_FILE_NAME


class Corrections:
    def __init__(self, path: Path) -> None:
        self.path = path

    def record(self, text: str, label: str) -> bool:
        """Keep ``label`` as the right category of ``text`` (masked first); False when the
        file already said so."""
        example = Example(training_text(text[:MAX_TEXT], masking.mask), label)
        if not example.text:
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
