"""Reading the city's editable YAML data files (taxonomy, holidays) with clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from civicline.domain.errors import InvalidInput


def read_mapping(path: Path, what: str) -> dict[str, Any]:
    """The file's top-level mapping; InvalidInput naming ``what`` and the file otherwise."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InvalidInput(f"cannot read {what} file {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise InvalidInput(f"{what} file {path} must hold a mapping")
    return raw
