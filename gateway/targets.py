"""``OriginForm``: a request target in absolute form is routed like its origin form.

HTTP/1.1 servers must accept ``POST http://host/gateway.do?…`` as well as
``POST /gateway.do?…`` (RFC 9112 §3.2.2), and Alipay's official SDK sends
the first. uvicorn's h11 protocol copies the target as it came into the ASGI
scope's ``path`` and ``raw_path``, so the router saw ``http://host/gateway.do``
and answered 404. This middleware keeps the path alone and, as the RFC says,
lets the target's authority stand for the Host header.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

ABSOLUTE = (b"http://", b"https://")


class OriginForm:
    """Wraps an ASGI app: ``http(s)://authority/path`` targets reach it as ``/path``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw: bytes = scope.get("raw_path") or b""
        if scope["type"] == "http" and raw[:8].lower().startswith(ABSOLUTE):
            scope = _origin_form(scope, raw)
        await self.app(scope, receive, send)


def _origin_form(scope: Scope, target: bytes) -> Scope:
    parts = urlsplit(target)  # the query string was split off already
    path = parts.path or b"/"
    authority = parts.netloc.rpartition(b"@")[2]  # never userinfo
    headers = [(name, value) for name, value in scope["headers"] if name != b"host"]
    return {**scope, "raw_path": path, "path": unquote(path.decode("ascii")),
            "headers": [*headers, (b"host", authority)]}
