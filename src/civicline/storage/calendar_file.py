"""Reading the city's working calendar (YAML): statutory holidays and make-up working days."""

from __future__ import annotations

from pathlib import Path

import yaml

from civicline.domain.calendar import WorkCalendar
from civicline.domain.errors import InvalidInput

DEFAULT_HOLIDAYS = Path(__file__).resolve().parent.parent / "holidays.yml"


def load_calendar(path: Path = DEFAULT_HOLIDAYS) -> WorkCalendar:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InvalidInput(f"cannot read holiday file {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise InvalidInput(f"holiday file {path} must hold a mapping")
    return WorkCalendar.from_dict(raw)
