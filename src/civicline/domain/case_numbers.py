"""Case numbers: short, unique, ordered and easy to read aloud on the phone.

A number is the local date and the day's sequence, ``YYMMDD-NNNNN`` (``261127-00042``):
digits only, so it reads the same in Chinese and English, it sorts in filing order,
and a caller can tell from the first part which day they called.
"""

from __future__ import annotations

import re
from datetime import date, datetime

_DASHED = re.compile(r"(?<![\d-])(\d{6})-(\d{5,})(?![\d-])")
# Without the dash only the usual 11 digits count, so that phone numbers (1xx xxxx xxxx)
# and ID numbers in a complaint are not read as case numbers.
_BARE = re.compile(r"(?<!\d)(\d{6})(\d{5})(?!\d)")


def format_case_number(day: date, sequence: int) -> str:
    if sequence < 1:
        raise ValueError("case sequence starts at 1")
    return f"{day:%y%m%d}-{sequence:05d}"


def _is_date(yymmdd: str) -> bool:
    try:
        datetime.strptime(yymmdd, "%y%m%d")
    except ValueError:
        return False
    return True


def find_case_number(text: str) -> str | None:
    """The first case number in free text, in canonical form (the dash may be left out)."""
    for pattern in (_DASHED, _BARE):
        for match in pattern.finditer(text):
            day, sequence = match.groups()
            if _is_date(day) and not (pattern is _BARE and day.startswith("1")):
                return f"{day}-{sequence}"
    return None
