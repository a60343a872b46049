"""Reading labelled messages to measure the NLU on: a development or evaluation set.

The YAML form (``tests/data/nlu_dev/*.yml``)::

    messages:
      - {text: ..., category: urban_rural_construction, matter: street_vending, lang: zh}
      - {text: ..., category: none, lang: en}     # not a complaint

``category`` is a category code or ``none``; ``matter`` (optional) a sub-category code. A
negatives file (``nlu eval --negatives``) may also be plain text, one message a line, or a CSV
with a ``text`` column.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from civicline.nlu.training_data import NEGATIVE_CATEGORY

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, slots=True)
class Message:
    text: str
    category: str
    matter: str | None = None
    language: str | None = None

    @property
    def is_complaint(self) -> bool:
        return self.category != NEGATIVE_CATEGORY


def read_messages(path: Path) -> list[Message]:
    """The ``messages:`` of a YAML file; ValueError naming the file and item when malformed."""
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: not a readable YAML file: {exc}") from exc
    items = document.get("messages") if isinstance(document, dict) else None
    if not isinstance(items, list):
        raise ValueError(f"{path}: expected a mapping with a `messages:` list")
    return [_message(path, index, item) for index, item in enumerate(items, start=1)]


def _message(path: Path, index: int, item: Any) -> Message:
    if not isinstance(item, dict):
        raise ValueError(f"{path}: message {index} is not a mapping")
    text, category = item.get("text"), item.get("category")
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{path}: message {index} has no text")
    if not isinstance(category, str) or not category.strip():
        raise ValueError(f"{path}: message {index} has no category")
    matter, language = item.get("matter"), item.get("lang")
    return Message(
        text=text.strip(),
        category=category.strip(),
        matter=str(matter) if matter else None,
        language=str(language) if language else None,
    )


def read_negatives(path: Path) -> list[str]:
    """Texts that are not complaints: a YAML messages file (every message, whatever its
    category), a CSV with a ``text`` column, or plain text, one message a line."""
    if path.suffix.lower() in (".yml", ".yaml"):
        return [message.text for message in read_messages(path)]
    try:
        content = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text") from exc
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(content, newline=""))
        if reader.fieldnames is None or "text" not in [f.strip() for f in reader.fieldnames]:
            raise ValueError(f"{path}: a CSV of negatives needs a `text` column")
        column = next(f for f in reader.fieldnames if f.strip() == "text")
        texts = [(row.get(column) or "").strip() for row in reader]
    else:
        texts = [line.strip() for line in content.splitlines()]
    found = [text for text in texts if text]
    if not found:
        raise ValueError(f"{path}: no texts")
    return found
