"""Buttons: the dialogue's ``Choice``s as Telegram reply markup.

* plain choices become an inline keyboard; a press comes back as a callback query whose data
  is the choice's ``data``. One button a row, or rows of up to five when every label is short
  (the 1-5 rating);
* a ``SHARE_LOCATION`` choice cannot be an inline button (only a reply-keyboard button can ask
  the client for the location), so it turns the whole keyboard into a one-time reply keyboard:
  the location button first, then the other choices as plain buttons, which send their label
  as text. Pair it only with choices whose label reads well as a typed answer ("跳过" / "Skip").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
)

from civicline.domain.messages import SHARE_LOCATION, Choice

MAX_CALLBACK_DATA_BYTES = 64  # Telegram refuses longer callback data (BUTTON_DATA_INVALID)
SHORT_LABEL = 4  # characters: such labels fit five to a row
ROW_OF_SHORT = 5

ReplyMarkup = InlineKeyboardMarkup | ReplyKeyboardMarkup
T = TypeVar("T")


class BadChoice(ValueError):
    """A choice Telegram would refuse; the reason names the rule, never the label."""


def _rows(items: Sequence[T], width: int) -> list[list[T]]:
    return [list(items[i : i + width]) for i in range(0, len(items), width)]


def _width(choices: Sequence[Choice]) -> int:
    return ROW_OF_SHORT if all(len(c.label) <= SHORT_LABEL for c in choices) else 1


def reply_markup(choices: Sequence[Choice]) -> ReplyMarkup | None:
    """The keyboard for ``choices``; None when there are none."""
    if not choices:
        return None
    for choice in choices:
        if not choice.label.strip():
            raise BadChoice("a button needs a label")
        if choice.data != SHARE_LOCATION and not (
            0 < len(choice.data.encode()) <= MAX_CALLBACK_DATA_BYTES
        ):
            raise BadChoice(f"button data must be 1-{MAX_CALLBACK_DATA_BYTES} bytes")
    location = next((c for c in choices if c.data == SHARE_LOCATION), None)
    if location is not None:
        others = [c for c in choices if c.data != SHARE_LOCATION]
        keyboard = [[KeyboardButton(text=location.label, request_location=True)]]
        keyboard += [
            [KeyboardButton(text=c.label) for c in row] for row in _rows(others, _width(others))
        ]
        return ReplyKeyboardMarkup(keyboard=keyboard, resize_keyboard=True, one_time_keyboard=True)
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=c.label, callback_data=c.data) for c in row]
            for row in _rows(choices, _width(choices))
        ]
    )
