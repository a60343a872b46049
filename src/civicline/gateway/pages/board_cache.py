"""The public board's page cache: a rendered page is kept for a few seconds in this process
and sent with an ETag and ``Cache-Control: public``, so browsers and proxies keep it too
(``CIVICLINE_BOARD_CACHE_SECONDS``). A traffic spike from the news is answered from memory
(or by a proxy) and reaches the database once per page per period.

Staff withholding a case clears this process's cache at once; other gateway processes and
proxies keep the page for at most the cache period.

``ServeCachedBoard`` answers a GET of a cached board page before routing, the app-wide
dependencies and the other middleware (the board's routes come after every API route): a
cached page costs a dictionary look-up. A miss goes on to the board's routes, which render,
cache and rate-limit searches.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import Response
from starlette.datastructures import QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

MAX_PAGES = 2048  # pages kept per process, least recently used dropped first


@dataclass(frozen=True, slots=True)
class CachedPage:
    body: bytes
    media_type: str
    etag: str
    expires: float  # time.monotonic()


class PageCache:
    def __init__(self, seconds: float, size: int = MAX_PAGES) -> None:
        self.seconds = seconds
        self.size = size
        self._pages: OrderedDict[str, CachedPage] = OrderedDict()

    def get(self, key: str) -> CachedPage | None:
        page = self._pages.get(key)
        if page is None:
            return None
        if page.expires <= time.monotonic():
            del self._pages[key]
            return None
        self._pages.move_to_end(key)
        return page

    def put(self, key: str, body: bytes, media_type: str) -> CachedPage:
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        page = CachedPage(body, media_type, etag, time.monotonic() + self.seconds)
        if self.seconds > 0:
            self._pages[key] = page
            self._pages.move_to_end(key)
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)
        return page

    def clear(self) -> None:
        self._pages.clear()


def cache_key(path: str, query: QueryParams) -> str:
    return f"{path}?{sorted(query.multi_items())}"


def page_cache(request: Request) -> PageCache:
    """The app's board cache, made on first use."""
    cache: PageCache | None = getattr(request.app.state, "board_cache", None)
    if cache is None:
        seconds = request.app.state.services.settings.board_cache_seconds
        cache = PageCache(seconds)
        request.app.state.board_cache = cache
    return cache


def clear_board_cache(request: Request) -> None:
    """After staff changed what the board may show."""
    cache: PageCache | None = getattr(request.app.state, "board_cache", None)
    if cache is not None:
        cache.clear()


def _response(page: CachedPage, if_none_match: str, max_age: int) -> Response:
    headers = {
        "ETag": page.etag,
        "Cache-Control": f"public, max-age={max_age}",
        "X-Frame-Options": "DENY",
    }
    if page.etag in {tag.strip() for tag in if_none_match.split(",")} or if_none_match == "*":
        return Response(status_code=304, headers=headers)
    return Response(page.body, media_type=page.media_type, headers=headers)


def send(request: Request, page: CachedPage, *, max_age: int) -> Response:
    """The page, or 304 when the browser holds this version already."""
    return _response(page, request.headers.get("if-none-match", "").strip(), max_age)


class ServeCachedBoard:
    """Cached board pages, answered before the app routes the request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and scope["method"] == "GET" and path.startswith("/board"):
            cache: PageCache | None = getattr(scope["app"].state, "board_cache", None)
            key = cache_key(path, QueryParams(scope["query_string"]))
            page = cache.get(key) if cache is not None else None
            if cache is not None and page is not None:
                wanted = ""
                for name, value in scope["headers"]:
                    if name == b"if-none-match":
                        wanted = value.decode("latin-1").strip()
                await _response(page, wanted, int(cache.seconds))(scope, receive, send)
                return
        await self.app(scope, receive, send)
