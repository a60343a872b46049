"""Read Rasa 3 NLU training data (the `nlu:` section of a YAML file) into plain examples."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

_ENTITY = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")
_NON_INTENT_KEYS = frozenset({"synonym", "regex", "lookup"})


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    intent: str


def default_data_path() -> Path:
    return Path(__file__).parent / "data" / "nlu.yml"


def strip_entities(text: str) -> str:
    """`[Zhongshan Road](location)` -> `Zhongshan Road`; also the `[text]{"entity": ...}` form."""
    return _ENTITY.sub(r"\1", text)


def load_examples(path: Path) -> list[Example]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text") from exc
    if not isinstance(document, dict) or not isinstance(document.get("nlu"), list):
        raise ValueError(f"{path}: expected a mapping with an `nlu:` list")
    examples: list[Example] = []
    for index, item in enumerate(document["nlu"]):
        examples.extend(_parse_item(path, index, item))
    if not examples:
        raise ValueError(f"{path}: no intent examples")
    return examples


def _parse_item(path: Path, index: int, item: Any) -> list[Example]:
    where = f"{path}: nlu item {index + 1}"
    if not isinstance(item, dict):
        raise ValueError(f"{where}: expected a mapping, got {type(item).__name__}")
    if "intent" not in item:
        if _NON_INTENT_KEYS & item.keys():
            return []
        raise ValueError(f"{where}: missing `intent`")
    intent, block = item["intent"], item.get("examples")
    if not isinstance(intent, str) or not intent.strip():
        raise ValueError(f"{where}: `intent` must be a non-empty string")
    if not isinstance(block, str):
        raise ValueError(f"{where} ({intent}): `examples` must be a block of `- ` lines")
    examples = []
    for line in block.splitlines():
        line = line.strip()
        if not line:
            continue
        if not line.startswith("- "):
            raise ValueError(f"{where} ({intent}): example line does not start with '- ': {line!r}")
        text = strip_entities(line[2:]).strip()
        if text:
            examples.append(Example(text=text, intent=intent.strip()))
    if not examples:
        raise ValueError(f"{where} ({intent}): no examples")
    return examples
