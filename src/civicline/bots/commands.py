"""Keywords a citizen can send on any channel, in Chinese and English.

``查询 261127-00042`` / ``STATUS 261127-00042``: where is my case; ``我的案件`` / ``MY CASES``:
my open cases; ``帮助`` / ``HELP``; ``STOP`` / ``退订`` / ``TD`` and ``START`` / ``订阅``: stop
and resume SMS; a lone digit 1-4 (or 满意/基本满意/不满意/未解决) after a case is closed: the
return visit's answer; ``语言`` / ``LANG``: the
language choice; ``公开`` / ``不公开`` (``PUBLISH`` / ``PRIVATE``, ``yes`` / ``no``) after a
case opened in a chat: the answer to "may it appear on the public board?". Telegram-style
slash commands work too: ``/status 261127-00042``,
``/mycases``, ``/help``, ``/lang``, ``/start`` (a bot name after ``@`` is ignored).
Appointments (预约接访): ``预约 341800 2026-12-08 工资拖欠`` / ``BOOK 341800 2026-12-08 unpaid
wages`` (``/book`` on Telegram) books a reception day at a venue of the rota; ``取消预约
K7M2Q9PX`` / ``CANCEL K7M2Q9PX`` cancels it. A booking word and a venue code without a
readable day and matter gets the usage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from civicline.domain.case_numbers import find_case_number

STATUS_WORDS = re.compile(r"查询|进度|状态|进展|status|progress|check", re.IGNORECASE)
MY_CASES = {"我的案件", "我的诉求", "案件列表", "my cases", "mycases", "cases", "list"}
LANG = {"语言", "lang", "language"}
HELP = {"帮助", "help", "info", "?", "？", "菜单", "menu"}
# Twilio's own opt-out words, and the Chinese carriers' 退订 / TD.
STOP = {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout", "退订", "td"}
START = {"start", "订阅", "unstop"}
# The answer to the board's question (阳光信访公开), asked when a chat opens a case.
PUBLISH_YES = {"公开", "同意公开", "可以公开", "同意", "是", "publish", "yes", "y"}
PUBLISH_NO = {"不公开", "不同意公开", "不要公开", "不同意", "否", "private", "no", "n"}
RATING = re.compile(r"^\s*([1-4])\s*$")
# The return visit's answers in words (a digit works too: 1-4, see domain.governance).
VISIT_WORDS = {
    "满意": 1,
    "非常满意": 1,
    "satisfied": 1,
    "基本满意": 2,
    "basically satisfied": 2,
    "不满意": 3,
    "dissatisfied": 3,
    "not satisfied": 3,
    "未解决": 4,
    "问题未解决": 4,
    "没解决": 4,
    "not solved": 4,
    "unsolved": 4,
}


@dataclass(frozen=True, slots=True)
class Status:
    number: str


@dataclass(frozen=True, slots=True)
class MyCases:
    pass


@dataclass(frozen=True, slots=True)
class Help:
    pass


@dataclass(frozen=True, slots=True)
class Stop:
    pass


@dataclass(frozen=True, slots=True)
class Start:
    pass


@dataclass(frozen=True, slots=True)
class Rating:
    """The answer to a return visit (回访): 1 satisfied … 4 not solved."""

    answer: int


@dataclass(frozen=True, slots=True)
class Lang:
    pass


@dataclass(frozen=True, slots=True)
class Publish:
    """The citizen's answer to the public board's consent question."""

    consent: bool


@dataclass(frozen=True, slots=True)
class Book:
    """Book a reception day; ``day`` None: the words did not say one (answer the usage)."""

    unit: str
    day: date | None
    brief: str


@dataclass(frozen=True, slots=True)
class CancelBooking:
    number: str


BOOK = re.compile(r"^(?:预约|book)\s+(\d{4,12})\b\s*(.*)$", re.IGNORECASE | re.DOTALL)
BOOK_DAY = re.compile(r"^(\d{4}-\d{1,2}-\d{1,2})\s+(\S.*)$", re.DOTALL)
CANCEL_BOOKING = re.compile(r"^(?:取消预约|取消|cancel)\s+([0-9A-Za-z]{8})$", re.IGNORECASE)

Command = Status | MyCases | Help | Stop | Start | Rating | Lang | Publish | Book | CancelBooking


def _booking(plain: str) -> Book | CancelBooking | None:
    if match := CANCEL_BOOKING.match(plain):
        return CancelBooking(match.group(1).upper())
    match = BOOK.match(plain)
    if match is None:
        return None
    dated = BOOK_DAY.match(match.group(2).strip())
    if dated is None:
        return Book(match.group(1), None, "")
    year, month, day = (int(part) for part in dated.group(1).split("-"))
    try:
        return Book(match.group(1), date(year, month, day), dated.group(2).strip())
    except ValueError:
        return Book(match.group(1), None, "")


SLASH = re.compile(r"^/([a-z_]+)(?:@\w+)?(?=\s|$)", re.IGNORECASE)


def parse_command(text: str) -> Command | None:
    """The keyword command in ``text``, or None for free text (a complaint or small talk)."""
    plain = SLASH.sub(lambda m: m.group(1), text.strip())
    if booking := _booking(plain):
        return booking
    word = plain.lower().rstrip("。.!！")
    if word in MY_CASES:
        return MyCases()
    if word in HELP:
        return Help()
    if word in STOP:
        return Stop()
    if word in START:
        return Start()
    if word in LANG:
        return Lang()
    if match := RATING.match(plain):
        return Rating(int(match.group(1)))
    if word in VISIT_WORDS:
        return Rating(VISIT_WORDS[word])
    if word in PUBLISH_YES or word in PUBLISH_NO:
        return Publish(word in PUBLISH_YES)
    number = find_case_number(plain)
    if word in {"status", "查询"}:
        return MyCases()  # "/status" alone: the citizen's open cases
    if number and (STATUS_WORDS.search(plain) or len(plain) <= len(number) + 2):
        return Status(number)
    return None
