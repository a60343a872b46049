"""The largest numbers and the earliest and latest dates any input may name, so that no
database column, no SQL parameter and no date arithmetic overflows on what a client sends.

The gateway refuses anything outside them at the edge (``gateway/bounds.py`` turns them into
the request types every route uses); channels that parse their own dates (Open311) check
them with ``check_moment``.
"""

from __future__ import annotations

from datetime import date, datetime

MAX_ROW_ID = 2**63 - 1  # every table's id is a 64-bit integer (BIGINT)
# A listing skips at most this many rows: more than any table holds, far below 64 bits.
MAX_OFFSET = 1_000_000_000
# Dates a report or a search may name. A year a thousand days from either end keeps every
# window (90-day Open311 windows, two-year reports, a day's time zone) inside what Python's
# datetime and both databases can hold.
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2999, 12, 31)


def day_problem(value: date) -> str | None:
    """Why ``value`` is refused, or None."""
    if FIRST_DAY <= value <= LAST_DAY:
        return None
    return f"must be a day from {FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}"


def moment_problem(value: datetime) -> str | None:
    """Why ``value`` is refused, or None: its day where it was written."""
    return day_problem(value.date())
