"""Read the NLU's training data into plain examples.

Two formats: Rasa 3 NLU YAML (the ``nlu:`` section; the shipped ``nlu.yml`` of conversation
intents and short complaints, imported tickets, corrections), and the training files of
``nlu/data/training/``, one per category::

    category: urban_rural_construction
    subcategories:
      street_vending: {zh: 占道经营, en: ..., department: city_management,
                       keywords: [...], examples: [...]}

whose examples are complaints of that category and sub-category; the file of ``category: none``
holds what is not a complaint (the gate's negatives), read as ``out_of_scope``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from civicline.nlu.base import OUT_OF_SCOPE

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
NEGATIVE_CATEGORY = "none"
"""The category of the training file of texts that are not complaints."""

_ENTITY = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")
_NON_INTENT_KEYS = frozenset({"synonym", "regex", "lookup"})


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    intent: str
    subcategory: str | None = None
    ticket: bool = False
    """One of the city's own tickets (imported, or a staff correction), not shipped data: the
    local model takes its category priors from their mix."""


def default_data_path() -> Path:
    return Path(__file__).parent / "data" / "nlu.yml"


def default_training_dir() -> Path:
    return Path(__file__).parent / "data" / "training"


def training_files(directory: Path) -> list[Path]:
    """The training files of a directory, in name order (none when it does not exist)."""
    return sorted(directory.glob("*.yml")) if directory.is_dir() else []


def shipped_paths(nlu_data: Path, training_dir: Path) -> list[Path]:
    """The shipped data: nlu.yml, then the training files."""
    return [nlu_data, *training_files(training_dir)]


def load_data(paths: Sequence[Path], *, tickets: Collection[Path] = ()) -> list[Example]:
    """The examples of ``paths`` in order; those of ``tickets`` (some of the paths: the city's
    imported tickets and corrections) marked as its own."""
    return [
        replace(example, ticket=True) if path in tickets else example
        for path in paths
        for example in parse_data(path.read_bytes(), source=path)
    ]


def parse_data(content: bytes | str, *, source: Path | str) -> list[Example]:
    """Either format: a training file (``category:`` and ``subcategories:``) or Rasa NLU."""
    document = _document(content, source)
    if isinstance(document, dict) and "subcategories" in document:
        return _training_examples(document, source)
    return _rasa_examples(document, source)


def _document(content: bytes | str, source: Path | str) -> Any:
    try:
        text = content.decode("utf-8") if isinstance(content, bytes) else content
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader
    except UnicodeDecodeError as exc:
        raise ValueError(f"{source}: not UTF-8 text") from exc
    except yaml.YAMLError as exc:
        raise ValueError(f"{source}: not valid YAML: {exc}") from exc


def _training_examples(document: dict[str, Any], source: Path | str) -> list[Example]:
    category, subs = document.get("category"), document.get("subcategories")
    if not isinstance(category, str) or not category.strip() or not isinstance(subs, dict):
        raise ValueError(f"{source}: expected a `category:` and a `subcategories:` mapping")
    intent = OUT_OF_SCOPE if category == NEGATIVE_CATEGORY else category.strip()
    examples = []
    for code, entry in subs.items():
        texts = entry.get("examples") if isinstance(entry, dict) else None
        if not isinstance(texts, list):
            raise ValueError(f"{source}: sub-category {code}: `examples` must be a list")
        for text in texts:
            cleaned = " ".join(str(text).split()) if text is not None else ""
            if cleaned:
                examples.append(Example(cleaned, intent, str(code)))
    if not examples:
        raise ValueError(f"{source}: no examples")
    return examples


def strip_entities(text: str) -> str:
    """`[Zhongshan Road](location)` -> `Zhongshan Road`; also the `[text]{"entity": ...}` form."""
    return _ENTITY.sub(r"\1", text)


def load_examples(path: Path) -> list[Example]:
    return parse_examples(path.read_bytes(), source=path)


def parse_examples(content: bytes | str, *, source: Path | str) -> list[Example]:
    """Parse Rasa NLU YAML; `source` only names the data in error messages."""
    return _rasa_examples(_document(content, source), source)


def _rasa_examples(document: Any, source: Path | str) -> list[Example]:
    if not isinstance(document, dict) or not isinstance(document.get("nlu"), list):
        raise ValueError(f"{source}: expected a mapping with an `nlu:` list")
    examples: list[Example] = []
    for index, item in enumerate(document["nlu"]):
        examples.extend(_parse_item(f"{source}: nlu item {index + 1}", item))
    if not examples:
        raise ValueError(f"{source}: no intent examples")
    return examples


def _parse_item(where: str, item: Any) -> list[Example]:
    if not isinstance(item, dict):
        raise ValueError(f"{where}: expected a mapping, got {type(item).__name__}")
    if "intent" not in item:
        if _NON_INTENT_KEYS & item.keys():
            return []
        raise ValueError(f"{where}: missing `intent`")
    intent, block = item["intent"], item.get("examples")
    if not isinstance(intent, str) or not intent.strip():
        raise ValueError(f"{where}: `intent` must be a non-empty string")
    intent = intent.strip()
    if not isinstance(block, str):
        raise ValueError(f"{where} ({intent}): `examples` must be a block of '- ' lines")
    examples = []
    for raw in block.splitlines():
        line = raw.strip()
        if not line:
            continue
        if not line.startswith("- "):
            raise ValueError(f"{where} ({intent}): line does not start with '- ': {line!r}")
        text = strip_entities(line[2:]).strip()
        if text:
            examples.append(Example(text=text, intent=intent))
    if not examples:
        raise ValueError(f"{where} ({intent}): no examples")
    return examples
