"""Reading the city's editable YAML data files (taxonomy, holidays) with clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from civicline.domain.errors import InvalidInput

# LibYAML's parser where PyYAML was built with it (the wheels are): the units file alone took a
# pure-Python parser a good part of every start-up.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_mapping(path: Path, what: str) -> dict[str, Any]:
    """The file's top-level mapping; InvalidInput naming ``what`` and the file otherwise."""
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 - safe
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InvalidInput(f"cannot read {what} file {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise InvalidInput(f"{what} file {path} must hold a mapping")
    return raw
