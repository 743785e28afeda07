"""Form bodies without python-multipart: urlencoded and multipart/form-data, stdlib only.

Starlette's ``request.form()`` needs the ``python-multipart`` package, which
is not a dependency of Shopbot; the standard library's ``email`` parser reads
multipart bodies well enough for what bots and the web chat send.
"""

from __future__ import annotations

from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import parse_qsl

from .params import Upload

FormData = tuple[dict[str, str], dict[str, Upload]]


def parse_form(content_type: str, body: bytes) -> FormData:
    """Plain fields and file parts of a form body (either encoding)."""
    if "multipart/form-data" in content_type:
        return _multipart(content_type, body)
    text = body.decode("utf-8", errors="replace")
    return dict(parse_qsl(text, keep_blank_values=True)), {}


def _multipart(content_type: str, body: bytes) -> FormData:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    values: dict[str, str] = {}
    uploads: dict[str, Upload] = {}
    if not message.is_multipart():
        return values, uploads
    for part in message.iter_parts():
        name = _param(part, "name")
        if name is None:
            continue
        payload = part.get_payload(decode=True) or b""
        filename = _param(part, "filename")
        if filename is not None or part.get_content_type() not in ("text/plain",):
            uploads[name] = Upload(payload, filename, part.get_content_type())
        else:
            charset = part.get_content_charset() or "utf-8"
            values[name] = payload.decode(charset, errors="replace")
    return values, uploads


def _param(part: Message, key: str) -> str | None:
    value = part.get_param(key, header="content-disposition")
    if value is None:
        return None
    if isinstance(value, tuple):  # RFC 2231 encoded
        return value[2]
    return str(value)
