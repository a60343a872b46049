"""Mask personal data in complaint text: phone numbers, resident ID numbers, e-mail addresses.

``mask(text)`` replaces them with ``<phone>``, ``<id>`` and ``<email>``; ``find_phones(text)``
returns the phone numbers as entities so a caller can keep the number as data (for a reply
by SMS) while only the masked text travels on (to an NLU engine, a log, a training export).

What counts, and the judgement calls:

* Mobile: ``1[3-9]x xxxx xxxx``, with spaces or dashes between the 3-4-4 groups and an optional
  ``+86`` / ``0086`` / ``86`` prefix (``+86 139-1234-5678``, ``(+86)13912345678``).
* Landline: an area code (``010``, ``02x``, or ``0xxx`` for every other code) and a local
  number of 7-8 digits starting with 2-9 (``0571-87654321``, ``(010) 8765 4321``,
  ``+86 10 8765 4321``). A local number without its area code is left alone: eight digits
  alone are as often a date (``20261120``) or an amount as a phone.
* Resident ID: 18 characters, region code, a real birth date (1900-2099) and a check
  character, written whole or as 6-8-4 groups. The ISO 7064 checksum is *not* required for
  masking: a citizen who mistypes one digit still discloses the rest of their ID, so masking
  errs on the side of privacy. ``is_valid_resident_id`` checks the checksum where a caller
  needs a real ID. The old 15-digit ID (retired in 2013) is not recognised.
* E-mail: ``local@domain.tld``; it wins over a number inside it (``13912345678@qq.com``).
* Full-width digits and signs (``１３９…``, ``＋``, ``＠``) count like ASCII ones.

Never touched: case numbers (``261127-00042`` and the bare ``26112700042``), which are
recognised first and protected, and ordinary numbers -- house numbers (``18号``), dates,
amounts (``3000元``), bus routes (``21路``) -- which no pattern above can match: each needs
a run of 11+ digits, a leading ``0`` area code or an ``@``.
Not recognised: numbers written in Chinese numerals (``一三九…``) or spelt out in words,
400/800 service numbers, bank card numbers.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Final

from civicline.nlu.base import Entity

PHONE: Final = "<phone>"
ID_NUMBER: Final = "<id>"
EMAIL: Final = "<email>"

# One character for one character, so offsets found in the folded text are offsets in the
# original text too.
_FOLD: Final = str.maketrans(
    "０１２３４５６７８９＋－（）＠．　",
    "0123456789+-()@. ",
)

_EMAIL = re.compile(
    # ASCII only before the address: a Chinese word right before it (邮箱a@b.cn) is no part of it.
    r"(?<![A-Za-z0-9_.%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
_RESIDENT_ID = re.compile(
    r"(?<![0-9A-Za-z])"
    r"([1-9][0-9]{5})[ -]?"
    r"((?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01]))[ -]?"
    r"([0-9]{3}[0-9Xx])"
    r"(?![0-9A-Za-z])"
)
_COUNTRY = r"(?:\(?(?:\+|00)86\)?|86)"
_MOBILE = re.compile(
    rf"(?<![0-9+])(?:{_COUNTRY}[ -]?)?(1[3-9][0-9])[ -]?([0-9]{{4}})[ -]?([0-9]{{4}})(?![0-9])"
)
_AREA = r"10|2[0-9]|[3-9][0-9]{2}"
_LANDLINE = re.compile(
    r"(?<![0-9+])(?:"
    rf"\(?(?:\+|00)86\)?[ -]?(?:\(0\)[ -]?)?\(?(?P<intl>{_AREA})\)?"
    rf"|\(?0(?P<domestic>{_AREA})\)?"
    r")[ -]?(?P<head>[2-9][0-9]{2,3})[ -]?(?P<tail>[0-9]{4})(?![0-9])"
)
# The same shapes as civicline.domain.case_numbers: a dashed number, or 11 bare digits
# whose first six form a date and do not start with 1 (that would be a mobile number).
# Here a bare number may not start with 0 either: that is a landline with its area code
# (01020123456 is 010-20123456), and no case was numbered in 2000-2009.
_CASE_DASHED = re.compile(r"(?<![0-9-])([0-9]{6})-([0-9]{5,})(?![0-9-])")
_CASE_BARE = re.compile(r"(?<![0-9])([0-9]{6})([0-9]{5})(?![0-9])")

_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK: Final = "10X98765432"

Span = tuple[int, int, str, str]  # start, end, kind, normalised value


def fold(text: str) -> str:
    """Full-width digits and signs as ASCII; the result has the same length as ``text``."""
    return text.translate(_FOLD)


def _is_yymmdd(digits: str) -> bool:
    try:
        date(2000 + int(digits[:2]), int(digits[2:4]), int(digits[4:6]))
    except ValueError:
        return False
    return True


def _is_yyyymmdd(digits: str) -> bool:
    try:
        date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return False
    return True


def case_number_spans(folded: str) -> list[Span]:
    """Case numbers in (already folded) text, with their canonical ``YYMMDD-NNNNN`` form."""
    spans: list[Span] = []
    for match in _CASE_DASHED.finditer(folded):
        day, sequence = match.groups()
        if _is_yymmdd(day):
            spans.append((match.start(), match.end(), "case_number", f"{day}-{sequence}"))
    for match in _CASE_BARE.finditer(folded):
        day, sequence = match.groups()
        if _is_yymmdd(day) and day[0] not in "01":
            spans.append((match.start(), match.end(), "case_number", f"{day}-{sequence}"))
    return spans


def is_valid_resident_id(number: str) -> bool:
    """An 18-character resident ID with a real birth date and a correct check character."""
    number = fold(number).replace(" ", "").replace("-", "").upper()
    if _RESIDENT_ID.fullmatch(number) is None or not _is_yyyymmdd(number[6:14]):
        return False
    total = sum(int(digit) * weight for digit, weight in zip(number, _ID_WEIGHTS, strict=False))
    return _ID_CHECK[total % 11] == number[17]


def _overlaps(start: int, end: int, taken: list[Span]) -> bool:
    return any(start < other_end and other_start < end for other_start, other_end, _, _ in taken)


def _sensitive_spans(folded: str) -> list[Span]:
    """Personal data in priority order (e-mail, ID, mobile, landline), none overlapping."""
    taken = case_number_spans(folded)
    found: list[Span] = []

    def add(start: int, end: int, kind: str, value: str) -> None:
        if not _overlaps(start, end, taken):
            span = (start, end, kind, value)
            taken.append(span)
            found.append(span)

    if "@" in folded:
        for match in _EMAIL.finditer(folded):
            add(match.start(), match.end(), "email", match.group().lower())
    for match in _RESIDENT_ID.finditer(folded):
        if _is_yyyymmdd(match.group(2)):
            add(match.start(), match.end(), "id", "".join(match.groups()).upper())
    for match in _MOBILE.finditer(folded):
        add(match.start(), match.end(), "phone", "86" + "".join(match.groups()))
    for match in _LANDLINE.finditer(folded):
        area = match.group("intl") or match.group("domestic")
        add(match.start(), match.end(), "phone", f"86{area}{match['head']}{match['tail']}")
    found.sort()
    return found


def find_phones(text: str) -> list[Entity]:
    """Mobile and landline numbers, in order; ``value`` is the E.164 number without its ``+``.

    ``+86 139-1234-5678`` and ``13912345678`` both give ``8613912345678``; ``0571-87654321``
    gives ``8657187654321``. ``start``/``end`` are offsets into ``text``.
    """
    return [
        Entity(kind="phone", value=value, start=start, end=end)
        for start, end, kind, value in _sensitive_spans(fold(text))
        if kind == "phone"
    ]


_PLACEHOLDERS: Final = {"phone": PHONE, "id": ID_NUMBER, "email": EMAIL}


def mask(text: str) -> str:
    """``text`` with phone numbers, resident IDs and e-mail addresses replaced by placeholders."""
    spans = _sensitive_spans(fold(text))
    if not spans:
        return text
    parts: list[str] = []
    position = 0
    for start, end, kind, _ in spans:
        parts.append(text[position:start])
        parts.append(_PLACEHOLDERS[kind])
        position = end
    parts.append(text[position:])
    return "".join(parts)
