"""``BodyLimit``: an ASGI middleware that refuses an oversized request body while reading it.

The bot's web endpoints, the simulated gateway (with the billers it mounts)
and the sandbox each wrap their Starlette app in it. They share no other
code: this package knows none of them, as a small third-party library would.

The body is read before the app runs, bytes counted as they arrive. A
``Content-Length`` over the limit is refused before a byte is read; a body
without one (chunked) is refused the moment the count passes the limit.
Either way the answer is ``413`` with ``Connection: close``, so the server
stops reading, and never more than ``max_bytes`` were held (uvicorn itself
reads ahead at most its 64 KiB flow-control window). A body within the limit
reaches the app unchanged, as one message, before anything parses it.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

TOO_LARGE = b"Request body too large\n"


class _TooLarge(Exception):
    """The body is over the limit."""


class _ClientGone(Exception):
    """The client disconnected before the body was complete."""


class BodyLimit:
    """Wraps an ASGI app: HTTP request bodies over ``max_bytes`` get 413 and never reach it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            body = await self._read(scope, receive)
        except _TooLarge:
            await _too_large(send)
            return
        except _ClientGone:
            return  # nobody to answer
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, scope: Scope, receive: Receive) -> bytes:
        """The whole body; _TooLarge as soon as it is known to be over the limit."""
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            raise _TooLarge
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise _ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server (h11, httptools) refuses such a request before us
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the app the body read, then whatever the server says next."""
    given = False

    async def replayed() -> Message:
        nonlocal given
        if given:
            return await receive()  # http.disconnect, when the client goes
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


async def _too_large(send: Send) -> None:
    headers = [(b"content-type", b"text/plain; charset=utf-8"),
               (b"content-length", str(len(TOO_LARGE)).encode()), (b"connection", b"close")]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": TOO_LARGE})
