"""Leaders' public Q&A sessions on the board: ``/board/sessions`` lists them,
``/board/sessions/{public_id}`` is one session's page (its topic, leader, units, time, video
link and every answer so far, server-rendered: readable without JavaScript, and the record
once it ends), and ``/board/sessions/{public_id}/events`` streams new answers as server-sent
events (``event: answer``, ``id:`` the answer's id, so a reconnecting browser's
``Last-Event-ID`` resumes where it stopped). The page's script (``static/board_session.js``)
adds answers as they arrive, without a reload.

The stream reads new answers from the database whenever Redis announces one
(``api.board_sessions.channel``) and at least every ``HEARTBEAT`` seconds, when it also sends
a comment line so proxies keep the connection: with Redis away, answers still arrive, late.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from civicline.domain.errors import NotFound
from civicline.domain.qa import QaAnswer
from civicline.gateway.api.board_sessions import channel
from civicline.gateway.pages.board import common_context, error_page, lang_of, render, services_of
from civicline.handlers import qa

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

HEARTBEAT = 15.0
POLL = 2.0  # seconds between looks when Redis cannot announce answers
STATUS = {
    "zh": {"scheduled": "预告", "live": "直播中", "ended": "已结束"},
    "en": {"scheduled": "Upcoming", "live": "Live", "ended": "Ended"},
}


def _html(body: bytes) -> Response:
    headers = {"Cache-Control": "no-cache", "X-Frame-Options": "DENY"}
    return Response(body, media_type="text/html; charset=utf-8", headers=headers)


@router.get("/board/sessions")
async def session_list(request: Request) -> Response:
    services = services_of(request)
    lang = lang_of(request)
    found = await qa.sessions(uow=services.uow())
    context = common_context(request, lang) | {"sessions": found, "status": STATUS[lang]}
    return _html(render("board_sessions.html", context))


@router.get("/board/sessions/{public_id}")
async def session_page(request: Request, public_id: str) -> Response:
    services = services_of(request)
    try:
        record = await qa.session_record(public_id, uow=services.uow())
    except NotFound:
        return error_page(request, 404, "no such session")
    lang = lang_of(request)
    session, answers = record.session, record.answers
    context = common_context(request, lang) | {
        "session": session,
        "answers": answers,
        "questions": [(q, record.answered(q)) for q in record.questions],
        "status": STATUS[lang],
        "last": answers[-1].id if answers else 0,
    }
    return _html(render("board_session.html", context))


def _event(answer: QaAnswer) -> str:
    data = {"id": answer.id, "question": answer.question, "answer": answer.answer}
    return f"id: {answer.id}\nevent: answer\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@router.get("/board/sessions/{public_id}/events")
async def session_events(request: Request, public_id: str) -> Response:
    services = services_of(request)
    try:
        session = (await qa.session_record(public_id, uow=services.uow())).session
    except NotFound:
        return error_page(request, 404, "no such session")
    raw = request.headers.get("last-event-id") or request.query_params.get("after") or "0"
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        return error_page(request, 400, "after: an answer id")
    assert session.id is not None
    session_id, after = session.id, int(raw)

    async def stream() -> AsyncIterator[str]:
        last = after
        pubsub: Any = None
        try:
            pubsub = services.redis.pubsub()
            await pubsub.subscribe(channel(public_id))
        except Exception:
            log.warning("Q&A stream without Redis: polling")
            pubsub = None
        try:
            yield "retry: 3000\n\n"
            while not await request.is_disconnected():
                for answer in await qa.answers_after(session_id, last, uow=services.uow()):
                    assert answer.id is not None
                    last = answer.id
                    yield _event(answer)
                woken = None
                if pubsub is not None:
                    woken = await pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=HEARTBEAT
                    )
                else:
                    await asyncio.sleep(POLL)
                if woken is None:
                    yield ": keep-alive\n\n"
        finally:
            if pubsub is not None:
                await pubsub.aclose()

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)
