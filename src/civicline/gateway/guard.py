"""The edge refuses text no database can store (a NUL, a lone surrogate) anywhere in a request:
path, query, JSON, form or multipart fields, usernames and passwords included. One check for
every endpoint (an app-wide dependency), answered like any other bad input: 422 with the
field's place, or the spec's 400 on Open311. Never the text itself: it is a citizen's.

Provider webhooks (``/webhooks/…``) are not refused: Twilio and Telegram would only send the
message again, or drop it. Their channels make the text storable instead (U+FFFD). The
mailbox form checks its own fields, to answer with the form filled in again.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.exceptions import RequestValidationError

from civicline.channels.open311 import Open311Error
from civicline.domain.text import first_flaw, flaw

PROVIDER_WEBHOOKS = "/webhooks/"
CHECKS_ITSELF = frozenset({"/mailbox"})
OPEN311 = "/open311/"
# JSON can carry them only as escapes: \u0000, or \ud800-\udfff (a valid pair is fine, and
# is told apart by decoding).
_SUSPECT_JSON = re.compile(rb"\\u(?:0000|[dD][89abcdefABCDEF][0-9a-fA-F]{2})")
_SUSPECT_FORM = re.compile(rb"%00|\x00")

Place = tuple[str | int, ...]


async def refuse_unstorable(request: Request) -> None:
    path = request.scope["path"]
    if path.startswith(PROVIDER_WEBHOOKS) or path in CHECKS_ITSELF:
        return
    found = _in_path_or_query(request) or await _in_body(request)
    if found is None:
        return
    place, problem = found
    if path.startswith(OPEN311):
        raise Open311Error(400, f"{'.'.join(map(str, place[1:])) or place[0]} {problem}")
    raise RequestValidationError(
        [{"type": "value_error", "loc": place, "msg": f"Value error, {problem}", "input": None}]
    )


def looks_unstorable(json_body: bytes) -> bool:
    """Whether a JSON body might carry what ``refuse_unstorable`` refuses (a fast path that
    skips the check hands such a body to the app instead)."""
    return b"\x00" in json_body or _SUSPECT_JSON.search(json_body) is not None


def _in_path_or_query(request: Request) -> tuple[Place, str] | None:
    problem = flaw(request.scope["path"])
    if problem is not None:
        return ("path",), problem
    if _SUSPECT_FORM.search(request.scope["query_string"]):
        for name, value in request.query_params.multi_items():
            found = first_flaw({name: value})
            if found is not None:
                return ("query", *found[0]), found[1]
    return None


async def _in_body(request: Request) -> tuple[Place, str] | None:
    if request.method not in ("POST", "PUT", "PATCH"):
        return None
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        form = await request.form()
        fields = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
        return _first(fields)
    body = await request.body()
    if kind == "application/x-www-form-urlencoded" and _SUSPECT_FORM.search(body):
        return _first(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    if _SUSPECT_JSON.search(body):
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, ValueError, RecursionError):
            return None  # not JSON: the endpoint says so itself
        found = first_flaw(data)
        if found is not None:
            return ("body", *found[0]), found[1]
    return None


def _first(fields: list[tuple[str, Any]]) -> tuple[Place, str] | None:
    for name, value in fields:
        found = first_flaw({name: value})
        if found is not None:
            return ("body", *found[0]), found[1]
    return None
