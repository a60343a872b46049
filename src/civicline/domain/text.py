"""Text a database can store: no NUL (PostgreSQL refuses it in text) and no surrogate code
point (a lone one from a JSON escape such as ``\\ud800``; UTF-8 cannot encode it).

Errors name the position and the kind of character, never the text: it is a citizen's.
"""

from __future__ import annotations

import re
from typing import Any

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def flaw(value: str) -> str | None:
    """What makes ``value`` unstorable, or None when it can be stored."""
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    kind = "a NUL character" if found.group() == "\x00" else "a lone surrogate"
    return f"contains {kind} at position {found.start()}"


def storable(value: str) -> str:
    """``value`` with every unstorable character replaced by U+FFFD."""
    return _UNSTORABLE.sub(REPLACEMENT, value)


def first_flaw(
    value: Any, where: tuple[str | int, ...] = ()
) -> tuple[tuple[str | int, ...], str] | None:
    """The first unstorable string in a decoded JSON value (keys too): where, and why."""
    if isinstance(value, str):
        problem = flaw(value)
        return None if problem is None else (where, problem)
    if isinstance(value, dict):
        for key, item in value.items():
            found = first_flaw(key, where) or first_flaw(item, (*where, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = first_flaw(item, (*where, index))
            if found is not None:
                return found
    return None


def storable_value(value: Any) -> Any:
    """A decoded JSON value with every string (keys too) made storable."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {storable(str(k)): storable_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable_value(item) for item in value]
    return value
