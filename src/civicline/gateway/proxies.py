"""Who the client is: proxy headers are believed only from the reverse proxies named in
``CIVICLINE_TRUSTED_PROXIES`` (comma-separated addresses or networks, e.g.
``127.0.0.1,10.0.0.0/8``; default none).

* A request whose TCP peer is a trusted proxy: its ``X-Forwarded-For`` names the client and
  ``X-Forwarded-Proto`` the scheme (uvicorn's ProxyHeadersMiddleware, run inside the app so
  this one setting decides; the CLI starts uvicorn with its own proxy handling off).
* Any other request: the client is the TCP peer, and every proxy header is ignored.

``is_local`` (the ``/metrics`` rule) builds on that: the client is loopback, as told by a
trusted proxy or as the peer itself when no proxy header of any kind came with it. A proxy
nobody configured (nginx on the same host setting only ``X-Real-IP``, say) is forwarding
someone else's request, so it is not local.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# Headers by which some proxy tells whom it forwards for.
PROXY_HEADERS = frozenset(
    {
        b"forwarded",
        b"x-forwarded-for",
        b"x-forwarded-host",
        b"x-real-ip",
        b"x-client-ip",
        b"true-client-ip",
        b"cf-connecting-ip",
        b"x-cluster-client-ip",
    }
)
_PEER = "civicline.peer"  # the scope key holding the TCP peer, before any rewriting


def networks(spec: str) -> tuple[Network, ...]:
    """``127.0.0.1, 10.0.0.0/8`` as networks; ValueError naming a wrong entry."""
    found = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        try:
            found.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"not an address or network: {item!r}") from None
    return tuple(found)


def _within(host: str | None, trusted: Iterable[Network]) -> bool:
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return False
    return any(address in network for network in trusted)


class TrustedProxies:
    """Records the TCP peer, and lets uvicorn's proxy middleware rewrite the client and the
    scheme only for a trusted peer."""

    def __init__(self, app: ASGIApp, trusted: tuple[Network, ...]) -> None:
        self.app = app
        self.trusted = trusted
        hosts = [str(n) for n in trusted]
        self.rewrite = ProxyHeadersMiddleware(app, trusted_hosts=hosts) if hosts else None  # type: ignore[arg-type]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        peer = scope["client"][0] if scope.get("client") else None
        scope[_PEER] = peer
        if self.rewrite is not None and _within(peer, self.trusted):
            await self.rewrite(scope, receive, send)  # type: ignore[arg-type]
            return
        await self.app(scope, receive, send)


def is_local(request: Request, trusted: tuple[Network, ...]) -> bool:
    """Whether the client is this host, as far as the trusted proxies and the peer tell."""
    scope = request.scope
    peer = scope.get(_PEER, scope["client"][0] if scope.get("client") else None)
    if _within(peer, trusted):
        told = any(name == b"x-forwarded-for" for name, _ in scope["headers"])
        client = scope["client"][0] if told and scope.get("client") else None
    elif any(name in PROXY_HEADERS for name, _ in scope["headers"]):
        return False  # forwarded by a proxy nobody said to trust
    else:
        client = peer
    try:
        return ipaddress.ip_address(client or "").is_loopback
    except ValueError:
        return False
