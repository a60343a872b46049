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
    return parse_examples(path.read_bytes(), source=path)


def parse_examples(content: bytes | str, *, source: Path | str) -> list[Example]:
    """Parse Rasa NLU YAML; `source` only names the data in error messages."""
    try:
        text = content.decode("utf-8") if isinstance(content, bytes) else content
        document = yaml.safe_load(text)
    except UnicodeDecodeError as exc:
        raise ValueError(f"{source}: not UTF-8 text") from exc
    except yaml.YAMLError as exc:
        raise ValueError(f"{source}: not valid YAML: {exc}") from exc
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
