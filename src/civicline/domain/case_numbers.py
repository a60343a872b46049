"""Case numbers: short, unique, ordered and easy to read aloud on the phone.

A number is the local date and the day's sequence, ``YYMMDD-NNNNN`` (``261127-00042``):
digits only, so it reads the same in Chinese and English, it sorts in filing order,
and a caller can tell from the first part which day they called.
"""

from __future__ import annotations

import re
from datetime import date

CASE_NUMBER_RE = re.compile(r"(?<!\d)(\d{6})-?(\d{5,})(?!\d)")


def format_case_number(day: date, sequence: int) -> str:
    if sequence < 1:
        raise ValueError("case sequence starts at 1")
    return f"{day:%y%m%d}-{sequence:05d}"


def find_case_number(text: str) -> str | None:
    """The first case number in free text, in canonical form (the dash may be left out)."""
    match = CASE_NUMBER_RE.search(text)
    return f"{match.group(1)}-{match.group(2)}" if match else None
