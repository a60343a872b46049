"""A fake Telegram Bot API: ``POST /bot<token>/<method>`` and ``GET /file/bot<token>/<path>``.

aiogram talks to it through ``TelegramAPIServer.from_base(fake.url)`` exactly as it talks to
``https://api.telegram.org``: form-encoded (or JSON, or multipart) parameters in, Telegram's
envelope out (``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": ...,
"description": ..., "parameters": {"retry_after": ...}}``). A wrong token answers 401.

Methods: getMe, sendMessage, answerCallbackQuery, setWebhook, deleteWebhook, getWebhookInfo,
getFile, getUpdates (long polling over the updates a test ``push``es; 409 while a webhook is
set, as Telegram does). Every successful call is recorded in ``calls`` and every call in
``requests``, with its parameters (JSON fields such as ``reply_markup`` decoded). Files added
with ``add_file`` are served for download.

Failures on demand, per chat: ``block(chat_id)`` (403 "bot was blocked by the user"),
``flood(chat_id, retry_after, times=1)`` (429 with ``parameters.retry_after``),
``forget(chat_id)`` (400 "chat not found"), and ``fail_next(status, description)`` for any
method.

    async with running_fake_telegram() as fake:        # in the test's event loop
        bot = make_bot(fake.token, api_url=fake.url)
    with fake_telegram_in_thread() as fake:             # for code that runs its own loop (CLI)
        ...
"""

from __future__ import annotations

import asyncio
import contextlib
import email.parser
import email.policy
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

DEFAULT_TOKEN = "7123456789:AAEfake-token_0123456789abcdefghijklmn"
BOT_USER = {
    "id": 7123456789,
    "is_bot": True,
    "first_name": "Civicline 12345",
    "username": "civicline_12345_bot",
    "can_join_groups": False,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
JSON_FIELDS = {"reply_markup", "allowed_updates", "entities", "link_preview_options"}


@dataclass(frozen=True)
class Call:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)
    result: Any = None  # what the fake answered, for successful calls

    @property
    def chat_id(self) -> str | None:
        value = self.params.get("chat_id")
        return None if value is None else str(value)


@dataclass
class _Failure:
    status: int
    description: str
    retry_after: int | None
    remaining: int
    method: str | None = None
    chat_id: str | None = None


@dataclass
class FakeTelegram:
    """The fake's state and its ASGI app; ``url`` is set once it is running."""

    token: str = DEFAULT_TOKEN
    url: str = ""
    calls: list[Call] = field(default_factory=list)  # the calls that succeeded
    requests: list[Call] = field(default_factory=list)  # every call, failed ones too
    webhook: dict[str, Any] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # file id: (path, bytes)
    updates: list[dict[str, Any]] = field(default_factory=list)
    blocked: set[str] = field(default_factory=set)
    unknown_chats: set[str] = field(default_factory=set)
    lost_paths: set[str] = field(default_factory=set)
    _failures: list[_Failure] = field(default_factory=list)
    _next_message_id: int = 100

    # -- what tests set up ------------------------------------------------------------------

    def block(self, chat_id: int | str) -> None:
        """The user blocked the bot: sendMessage to them answers 403."""
        self.blocked.add(str(chat_id))

    def forget(self, chat_id: int | str) -> None:
        """Telegram does not know the chat: sendMessage answers 400 chat not found."""
        self.unknown_chats.add(str(chat_id))

    def flood(self, chat_id: int | str, retry_after: int, *, times: int = 1) -> None:
        """The next ``times`` sendMessage calls to the chat hit flood control (429)."""
        self._failures.append(
            _Failure(
                429,
                f"Too Many Requests: retry after {retry_after}",
                retry_after,
                times,
                method="sendmessage",
                chat_id=str(chat_id),
            )
        )

    def fail_next(
        self, status: int, description: str, *, method: str | None = None, times: int = 1
    ) -> None:
        """The next ``times`` calls (of ``method``, if given) answer this error."""
        self._failures.append(
            _Failure(status, description, None, times, method=method and method.lower())
        )

    def add_file(self, content: bytes, path: str) -> str:
        """A file Telegram holds; returns its file id (``getFile`` then serves it at ``path``)."""
        file_id = f"AgACAgUAAxkBAAI{len(self.files):04d}" + "x" * 40
        self.files[file_id] = (path, content)
        return file_id

    def lose_download(self, file_id: str) -> None:
        """getFile still answers, but the download is gone (404), as after Telegram's hour."""
        self.lost_paths.add(self.files[file_id][0])

    def push(self, update: dict[str, Any]) -> None:
        """An update for ``getUpdates`` to hand out."""
        self.updates.append(update)

    # -- what tests read --------------------------------------------------------------------

    def called(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method.lower() == method.lower()]

    def sent_to(self, chat_id: int | str) -> list[Call]:
        """The messages that reached the chat (failed calls are not recorded as sent)."""
        return [c for c in self.called("sendMessage") if c.chat_id == str(chat_id)]

    # -- the server ---------------------------------------------------------------------------

    @property
    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/bot{token}/{method}", self._method, methods=["POST", "GET"]),
                Route("/file/bot{token}/{path:path}", self._download, methods=["GET"]),
            ]
        )

    def _take_failure(self, method: str, chat_id: str | None) -> _Failure | None:
        for failure in self._failures:
            if failure.method not in (None, method):
                continue
            if failure.chat_id not in (None, chat_id):
                continue
            failure.remaining -= 1
            if failure.remaining <= 0:
                self._failures.remove(failure)
            return failure
        return None

    async def _method(self, request: Request) -> Response:
        if request.path_params["token"] != self.token:
            return _error(401, "Unauthorized")
        name: str = request.path_params["method"]
        params = await _params(request)
        chat_id = None if params.get("chat_id") is None else str(params["chat_id"])
        self.requests.append(Call(name, params))
        failure = self._take_failure(name.lower(), chat_id)
        if failure is not None:
            return _error(failure.status, failure.description, failure.retry_after)
        handler = getattr(self, f"_api_{name.lower()}", None)
        if handler is None:
            return _error(404, "Not Found")
        answer: Response = await handler(params)
        if answer.status_code == 200:
            self.calls.append(Call(name, params, result=json.loads(bytes(answer.body))["result"]))
        return answer

    async def _api_getme(self, params: dict[str, Any]) -> Response:
        return _ok(BOT_USER)

    async def _api_sendmessage(self, params: dict[str, Any]) -> Response:
        chat_id = str(params.get("chat_id", ""))
        text = str(params.get("text", ""))
        if not chat_id:
            return _error(400, "Bad Request: chat_id is empty")
        if chat_id in self.unknown_chats:
            return _error(400, "Bad Request: chat not found")
        if chat_id in self.blocked:
            return _error(403, "Forbidden: bot was blocked by the user")
        if not text.strip():
            return _error(400, "Bad Request: message text is empty")
        if len(text.encode("utf-16-le")) // 2 > 4096:
            return _error(400, "Bad Request: message is too long")
        self._next_message_id += 1
        message: dict[str, Any] = {
            "message_id": self._next_message_id,
            "from": BOT_USER,
            "chat": {"id": int(chat_id), "first_name": "Citizen", "type": "private"},
            "date": int(time.time()),
            "text": text,
        }
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup  # Telegram echoes inline keyboards only
        return _ok(message)

    async def _api_answercallbackquery(self, params: dict[str, Any]) -> Response:
        if not params.get("callback_query_id"):
            return _error(400, "Bad Request: query is too old and response timeout expired")
        return _ok(True)

    async def _api_setwebhook(self, params: dict[str, Any]) -> Response:
        url = str(params.get("url", ""))
        if url and not url.startswith("https://"):
            return _error(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        if params.get("drop_pending_updates") in (True, "true", "True"):
            self.updates.clear()
        self.webhook = {k: v for k, v in params.items() if k != "drop_pending_updates"}
        return _ok(True, "Webhook was set" if url else "Webhook was deleted")

    async def _api_deletewebhook(self, params: dict[str, Any]) -> Response:
        existed = bool(self.webhook.get("url"))
        self.webhook = {}
        if params.get("drop_pending_updates") in (True, "true", "True"):
            self.updates.clear()
        return _ok(True, "Webhook was deleted" if existed else "Webhook is already deleted")

    async def _api_getwebhookinfo(self, params: dict[str, Any]) -> Response:
        info: dict[str, Any] = {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self.updates),
        }
        if self.webhook.get("allowed_updates"):
            info["allowed_updates"] = self.webhook["allowed_updates"]
        if self.webhook.get("max_connections"):
            info["max_connections"] = int(self.webhook["max_connections"])
        return _ok(info)

    async def _api_getfile(self, params: dict[str, Any]) -> Response:
        file_id = str(params.get("file_id", ""))
        if file_id not in self.files:
            return _error(400, "Bad Request: invalid file_id")
        path, content = self.files[file_id]
        return _ok(
            {
                "file_id": file_id,
                "file_unique_id": "AQAD" + file_id[-8:],
                "file_size": len(content),
                "file_path": path,
            }
        )

    async def _api_getupdates(self, params: dict[str, Any]) -> Response:
        if self.webhook.get("url"):
            return _error(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        self.updates = [u for u in self.updates if u["update_id"] >= offset]
        # At most a second: an empty answer is valid, and shutdown need not wait for it.
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), 1.0)
        while not self.updates and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)  # push() may come from another thread: no Event
        allowed = params.get("allowed_updates")
        batch = [u for u in self.updates if not allowed or any(k in u for k in allowed)]
        return _ok(batch[: int(params.get("limit") or 100)])

    async def _download(self, request: Request) -> Response:
        if request.path_params["token"] != self.token:
            return Response(status_code=401)
        path = request.path_params["path"]
        if path in self.lost_paths:
            return JSONResponse({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
        for stored_path, content in self.files.values():
            if stored_path == path:
                return Response(content, media_type="application/octet-stream")
        return JSONResponse({"ok": False, "error_code": 404, "description": "Not Found"}, 404)


def _ok(result: Any, description: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"ok": True, "result": result}
    if description:
        body["description"] = description
    return JSONResponse(body)


def _error(status: int, description: str, retry_after: int | None = None) -> JSONResponse:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return JSONResponse(body, status_code=status)


async def _params(request: Request) -> dict[str, Any]:
    """The call's parameters from the query string and a form, multipart or JSON body."""
    params: dict[str, Any] = dict(request.query_params)
    body = await request.body()
    kind = request.headers.get("content-type", "")
    if kind.startswith("application/json") and body:
        params.update(json.loads(body))
        return params
    if kind.startswith("multipart/form-data"):
        head = f"Content-Type: {kind}\r\n\r\n".encode()
        parsed = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
        for part in parsed.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name:
                params[str(name)] = part.get_content()
    elif body:
        params.update(parse_qsl(body.decode(), keep_blank_values=True))
    for name in JSON_FIELDS & params.keys():
        if isinstance(params[name], str):
            params[name] = json.loads(params[name])
    return params


class _Server(uvicorn.Server):
    """uvicorn without signal handlers: Ctrl-C stays with pytest."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def _server(fake: FakeTelegram) -> _Server:
    config = uvicorn.Config(
        fake.app, log_level="warning", lifespan="off", access_log=False, loop="none", ws="none"
    )
    return _Server(config)


@contextlib.asynccontextmanager
async def running_fake_telegram(*, token: str = DEFAULT_TOKEN) -> AsyncIterator[FakeTelegram]:
    """Run a ``FakeTelegram`` on a free loopback port in the current event loop."""
    fake = FakeTelegram(token=token)
    sock = _bound_socket()
    server = _server(fake)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("the fake Telegram server stopped during startup")
            await asyncio.sleep(0.01)
        fake.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        yield fake
    finally:
        server.should_exit = True
        try:
            await asyncio.wait_for(task, timeout=5)
        finally:
            sock.close()


@contextlib.contextmanager
def fake_telegram_in_thread(*, token: str = DEFAULT_TOKEN) -> Iterator[FakeTelegram]:
    """Run a ``FakeTelegram`` in a thread of its own, for code that runs its own event loop."""
    fake = FakeTelegram(token=token)
    sock = _bound_socket()
    server = _server(fake)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])))
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake Telegram server did not start")
            time.sleep(0.01)
        fake.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        yield fake
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
