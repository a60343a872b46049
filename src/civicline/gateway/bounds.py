"""The request types every route uses for ids, offsets, days and moments, so that nothing a
client sends overflows a database column, an SQL parameter or date arithmetic: out of range
is a 422 naming the field, like any other bad input (the numbers: ``domain/bounds.py``).

Use them as parameter or field types; FastAPI takes a parameter named in the path as a path
parameter and any other as a query parameter::

    async def respond(order_id: RowId, offset: Offset = 0, since: Day | None = None): ...
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from annotated_types import Interval
from pydantic import AfterValidator, BeforeValidator, Strict

from civicline.domain.bounds import MAX_OFFSET, MAX_ROW_ID, day_problem, moment_problem

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_day(value: Any) -> Any:
    # Pydantic would also read a number ("0.0") as seconds since 1970: a day is written
    # 2026-11-27 and nothing else.
    if isinstance(value, str) and not _ISO_DAY.fullmatch(value.strip()):
        raise ValueError("a day is written 2026-11-27")
    if isinstance(value, int | float):
        raise ValueError("a day is written 2026-11-27")
    return value


def _iso_moment(value: Any) -> Any:
    # Pydantic would also read a number (0) as seconds since 1970.
    if isinstance(value, int | float):
        raise ValueError("a time is written 2026-11-27T10:00:00+08:00")
    return value


def _day_in_range(value: date) -> date:
    problem = day_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _moment_in_range(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("give the time zone (e.g. 2026-11-27T10:00:00+08:00)")
    problem = moment_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


RowId = Annotated[int, Interval(ge=1, le=MAX_ROW_ID)]
"""A stored row's id (an outbox message, an order, a suggestion): 1 to 2**63 - 1."""
StoredId = Annotated[int, Strict(), Interval(ge=1, le=MAX_ROW_ID)]
"""A row id in a JSON body: an integer, not ``false`` or ``1.0`` read as one."""
Flag = Annotated[bool, Strict()]
"""Yes or no in a JSON body: ``true`` or ``false``, not ``1`` or ``"yes"`` read as one."""
Whole = Annotated[int, Strict()]
"""A number in a JSON body: an integer, not ``true`` or ``1.0`` read as one."""
Offset = Annotated[int, Interval(ge=0, le=MAX_OFFSET)]
"""How many rows a listing skips."""
Index = Annotated[int, Interval(ge=0, le=MAX_OFFSET)]
"""A position in a stored list (a message's attachments)."""
Day = Annotated[date, BeforeValidator(_iso_day), AfterValidator(_day_in_range)]
"""A calendar day, 2026-11-27, from 1900 to 2999."""
Moment = Annotated[datetime, BeforeValidator(_iso_moment), AfterValidator(_moment_in_range)]
"""A time with its zone, from 1900 to 2999."""


def row_id(text: str | None) -> int | None:
    """A row id typed into a form, or None when it is not one."""
    return form_int(text, 1, MAX_ROW_ID)


_DIGITS = re.compile(r"[0-9]{1,19}")  # str.isdigit() also takes "²", which int() refuses


def form_int(text: str | None, least: int, most: int) -> int | None:
    """A whole number typed into a form, within [least, most], or None."""
    if text is None or not _DIGITS.fullmatch(text.strip()):
        return None
    value = int(text)
    return value if least <= value <= most else None
