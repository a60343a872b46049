"""Reading the city's working calendar (YAML): statutory holidays and make-up working days."""

from __future__ import annotations

from pathlib import Path

from civicline.domain.calendar import WorkCalendar
from civicline.storage.yaml_file import read_mapping

DEFAULT_HOLIDAYS = Path(__file__).resolve().parent.parent / "holidays.yml"


def load_calendar(path: Path = DEFAULT_HOLIDAYS) -> WorkCalendar:
    return WorkCalendar.from_dict(read_mapping(path, "holiday"))
