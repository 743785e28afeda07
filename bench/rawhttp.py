"""A lean HTTP/1.1 client for the load generator: one keep-alive connection, JSON POSTs.

The benchmark plays Telegram on the same two cores as the worker it
measures. Telegram's own servers cost the bot nothing; httpx, the first load
generator, cost about as much CPU per request as the worker's whole tap, so
the figures measured the load generator as much as the bot. This client
writes a request with one ``write`` and reads the answer's head and body
with two reads; nothing here is the bot's code.
"""

from __future__ import annotations

import asyncio
import contextlib


class Closed(Exception):
    """The server closed the connection before a whole answer came (e.g. an idle keep-alive)."""


class RawPoster:
    """Posts JSON bodies over one keep-alive connection to ``host:port``; reconnects when closed.

    It reads only what the bot's server (uvicorn) sends: a status line, headers
    with ``Content-Length``, the body. Anything else (chunked bodies) is refused.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """POST ``body`` (JSON) to ``path``; the status and body of the answer. ``Closed`` if cut off."""
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self._writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{extra}\r\n".encode("latin-1") + body)
        try:
            head = await self._reader.readuntil(b"\r\n\r\n")
            status, length, close = _parse_head(head)
            answer = await self._reader.readexactly(length) if length else b""
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            await self.close()
            raise Closed from exc
        if close:
            await self.close()
        return status, answer

    async def close(self) -> None:
        """Close the connection (the next post opens a new one)."""
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


def _parse_head(head: bytes) -> tuple[int, int, bool]:
    """Status, ``Content-Length`` and ``Connection: close`` of a response head."""
    lines = head.decode("latin-1").split("\r\n")
    status, length, close = int(lines[0].split(" ", 2)[1]), None, False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection":
            close = value.strip().lower() == "close"
        elif name == "transfer-encoding":
            raise ValueError("chunked answers are not read here")
    if length is None:
        raise ValueError("an answer without Content-Length")
    return status, length, close
