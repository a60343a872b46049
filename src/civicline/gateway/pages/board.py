"""The public board (阳光信访公开): ``/board`` lists answered matters whose citizens agreed to
publication, ``/board/cases/{public_id}`` shows one, ``/board/feed.atom`` is their feed.

Server-rendered HTML without JavaScript, readable on a phone, Chinese by default and English
with ``?lang=en``. Search by words, category, unit, district and filing dates, 20 a page.
A case's page is addressed by its unguessable public id and answers 404 for anything not
published (withheld, not consented, awaiting review, reopened): the same answer as an id that
never existed. Searches are rate limited per client address
(``CIVICLINE_BOARD_SEARCH_PER_MINUTE``); every page carries an ETag and
``Cache-Control: public`` and is kept in memory for ``CIVICLINE_BOARD_CACHE_SECONDS``
(``pages.board_cache``). The unit rates are ``pages.board_rates``.

Bad parameters answer 400 with the page's explanation; too many searches 429.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from civicline.domain.board import PAGE_SIZE, BoardQuery, PublicCase
from civicline.domain.bounds import day_problem
from civicline.domain.errors import InvalidInput, NotFound
from civicline.domain.taxonomy import Taxonomy
from civicline.gateway.bootstrap import Services
from civicline.gateway.bounds import form_int
from civicline.gateway.pages.board_cache import CachedPage, cache_key, page_cache, send
from civicline.handlers import board
from civicline.nlu.entities import default_gazetteer
from civicline.storage.queue import redis_unreachable
from civicline.storage.rate_limit import RateLimiter

log = logging.getLogger(__name__)
templates = Jinja2Templates(directory=Path(__file__).parents[1] / "templates")
assert templates.env.autoescape, "citizen text must always be escaped"
router = APIRouter(include_in_schema=False)

FEED_SIZE = 20
SATISFACTION = {
    "zh": {"satisfied": "满意", "basic": "基本满意", "dissatisfied": "不满意"},
    "en": {
        "satisfied": "Satisfied",
        "basic": "Basically satisfied",
        "dissatisfied": "Dissatisfied",
    },
}
FIELDS = ("q", "category", "department", "district", "since", "until", "page")


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def lang_of(request: Request) -> str:
    return "en" if request.query_params.get("lang") == "en" else "zh"


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def districts(lang: str) -> list[tuple[str, str]]:
    """(value, label) of every district the gazetteer knows, as cases record them."""
    places = default_gazetteer().places
    return sorted((p.zh, p.zh if lang == "zh" else p.en) for p in places if p.type == "district")


def names(taxonomy: Taxonomy, lang: str) -> dict[str, dict[str, str]]:
    zh = lang == "zh"
    return {
        "category": {c.code: c.name_zh if zh else c.name_en for c in taxonomy.categories.values()},
        "department": {
            d.code: d.name_zh if zh else d.name_en for d in taxonomy.departments.values()
        },
    }


def common_context(request: Request, lang: str) -> dict[str, Any]:
    services = services_of(request)
    tz = services.settings.timezone

    def day(value: datetime | None) -> str:
        return value.astimezone(tz).strftime("%Y-%m-%d") if value else ""

    def switch(to: str) -> str:
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
        return f"{request.url.path}?{urlencode([*params, ('lang', to)])}"

    return {
        "request": request,
        "lang": lang,
        "zh": lang == "zh",
        "names": names(services.taxonomy, lang),
        "satisfaction": SATISFACTION[lang],
        "day": day,
        "switch": switch,
    }


def render(name: str, context: dict[str, Any]) -> bytes:
    return templates.env.get_template(name).render(context).encode()


def error_page(request: Request, status: int, message: str) -> Response:
    lang = lang_of(request)
    body = render("board_error.html", common_context(request, lang) | {"message": message})
    headers = {"Cache-Control": "no-store"}
    if status == 429:
        headers["Retry-After"] = "60"
    return Response(body, status_code=status, media_type="text/html", headers=headers)


def _date(value: str, name: str) -> date | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise Refused(400, f"{name}: a date as YYYY-MM-DD") from None
    problem = day_problem(day)  # the search's date arithmetic stays in range
    if problem is not None:
        raise Refused(400, f"{name}: {problem}")
    return day


def parse_query(request: Request) -> BoardQuery:
    """The search in the URL; ``Refused`` (400) for values no form would send."""
    params = {name: request.query_params.get(name, "").strip() for name in FIELDS}
    taxonomy = services_of(request).taxonomy
    if params["category"] and params["category"] not in taxonomy.categories:
        raise Refused(400, "category: unknown")
    if params["department"] and params["department"] not in taxonomy.departments:
        raise Refused(400, "department: unknown")
    if len(params["district"]) > 64:
        raise Refused(400, "district: at most 64 characters")
    page = form_int(params["page"] or "1", 1, 9999)
    if page is None:
        raise Refused(400, "page: a whole number")
    query = BoardQuery(
        words=params["q"],
        category=params["category"] or None,
        department=params["department"] or None,
        district=params["district"] or None,
        since=_date(params["since"], "since"),
        until=_date(params["until"], "until"),
        page=page,
    )
    try:
        return board.checked_query(query)
    except InvalidInput as exc:
        raise Refused(400, str(exc)) from None


async def _allowed(request: Request) -> bool:
    """One more search from this client address within its limit (Redis away: allowed)."""
    services = services_of(request)
    limiter: RateLimiter | None = getattr(request.app.state, "board_search_limiter", None)
    if limiter is None:
        limiter = RateLimiter(
            services.redis,
            limit=services.settings.board_search_per_minute,
            window_seconds=60,
            prefix="board_search",
        )
        request.app.state.board_search_limiter = limiter
    client = request.client.host if request.client else "unknown"
    try:
        return await limiter.hit(client)
    except Exception as exc:
        if not redis_unreachable(exc):
            raise
        log.warning("board search limit not checked: Redis unreachable")
        return True


def request_key(request: Request) -> str:
    return cache_key(request.url.path, request.query_params)


def max_age(request: Request) -> int:
    return int(services_of(request).settings.board_cache_seconds)


def page_link(request: Request, page: int) -> str:
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
    return f"/board?{urlencode([*params, ('page', str(page))])}"


@router.get("/board")
async def board_list(request: Request) -> Response:
    """The board: newest published matters first, or a search."""
    try:
        query = parse_query(request)
    except Refused as exc:
        return error_page(request, exc.status, exc.message)
    if query.is_search and not await _allowed(request):
        return error_page(request, 429, "too many searches: try again in a minute")
    cache = page_cache(request)
    key = request_key(request)
    cached = cache.get(key)
    if cached is None:
        services = services_of(request)
        found = await board.board_page(query, uow=services.uow(), city=services.settings.timezone)
        lang = lang_of(request)
        context = common_context(request, lang) | {
            "query": query,
            "found": found,
            "districts": districts(lang),
            "previous": page_link(request, found.page - 1) if found.page > 1 else None,
            "next": page_link(request, found.page + 1) if found.has_next else None,
            "first_number": (found.page - 1) * PAGE_SIZE + 1,
        }
        cached = cache.put(key, render("board.html", context), "text/html; charset=utf-8")
    return send(request, cached, max_age=max_age(request))


@router.get("/board/cases/{public_id}")
async def board_case(request: Request, public_id: str) -> Response:
    """One published matter: its masked text, the reply and the citizen's rating."""
    if not 8 <= len(public_id) <= 24 or not public_id.replace("-", "").replace("_", "").isalnum():
        return error_page(request, 404, "no such matter on the board")
    cache = page_cache(request)
    key = request_key(request)
    cached = cache.get(key)
    if cached is None:
        services = services_of(request)
        try:
            detail = await board.public_case(public_id, uow=services.uow())
        except NotFound:
            return error_page(request, 404, "no such matter on the board")
        context = common_context(request, lang_of(request)) | {"detail": detail}
        cached = cache.put(key, render("board_case.html", context), "text/html; charset=utf-8")
    return send(request, cached, max_age=max_age(request))


ATOM = "http://www.w3.org/2005/Atom"


def _atom(request: Request, cases: list[PublicCase]) -> bytes:
    base = str(request.base_url).rstrip("/")
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")

    def add(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        node = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        if text is not None:
            node.text = text
        return node

    add(feed, "title", "阳光信访 · Sunshine petitions")
    add(feed, "id", f"{base}/board")
    add(feed, "link", href=f"{base}/board")
    add(feed, "link", rel="self", href=f"{base}/board/feed.atom")
    moments = [c.answered_at or c.filed_at for c in cases]
    add(feed, "updated", max(moments, default=datetime(2000, 1, 1, tzinfo=UTC)).isoformat())
    add(add(feed, "author"), "name", "12345")
    for case in cases:
        entry = add(feed, "entry")
        add(entry, "title", case.title)
        add(entry, "id", f"{base}/board/cases/{case.public_id}")
        add(entry, "link", href=f"{base}/board/cases/{case.public_id}")
        add(entry, "published", case.filed_at.isoformat())
        add(entry, "updated", (case.answered_at or case.filed_at).isoformat())
        add(entry, "summary", f"{case.text}\n\n答复 / Reply: {case.reply}")
    body: bytes = ET.tostring(feed, encoding="utf-8")
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + body


@router.get("/board/feed.atom")
async def board_feed(request: Request) -> Response:
    """The newest published matters as an Atom feed."""
    cache = page_cache(request)
    key = request_key(request)
    cached: CachedPage | None = cache.get(key)
    if cached is None:
        services = services_of(request)
        found = await board.board_page(
            BoardQuery(), uow=services.uow(), city=services.settings.timezone
        )
        body = _atom(request, found.cases[:FEED_SIZE])
        cached = cache.put(key, body, "application/atom+xml; charset=utf-8")
    return send(request, cached, max_age=max_age(request))
