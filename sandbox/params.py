"""Bot API request parameters and errors, whatever body encoding the bot chose.

Telegram takes the same parameters as a query string, urlencoded form,
multipart form or JSON. python-telegram-bot sends forms whose values are
JSON-encoded (so ``reply_markup`` arrives as a JSON string and ``123`` as the
text "123"), and multipart when it uploads a file. ``Params`` hides that.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request


class ApiError(Exception):
    """An error answer in Telegram's shape: ``{"ok": false, "error_code", "description"}``."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters

    def body(self) -> dict[str, Any]:
        """The JSON body of an error answer."""
        body: dict[str, Any] = {"ok": False, "error_code": self.code,
                                "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(detail: str) -> ApiError:
    """400 with Telegram's "Bad Request: " prefix."""
    return ApiError(400, f"Bad Request: {detail}")


@dataclass
class Upload:
    """A file part of a multipart request."""

    data: bytes
    filename: str | None
    content_type: str | None


@dataclass
class Params:
    """Typed access to one request's parameters."""

    values: dict[str, Any]
    uploads: dict[str, Upload] = field(default_factory=dict)

    @classmethod
    async def from_request(cls, request: Request) -> Params:
        """Read query string and body, whatever the encoding."""
        values: dict[str, Any] = dict(request.query_params)
        uploads: dict[str, Upload] = {}
        ctype = request.headers.get("content-type", "")
        if "application/json" in ctype:
            body = await request.body()
            if body.strip():
                try:
                    values.update(json.loads(body))
                except (ValueError, TypeError) as err:
                    raise bad_request("can't parse JSON object") from err
        elif "form" in ctype:
            from .forms import parse_form

            fields, uploads = parse_form(ctype, await request.body())
            values.update(fields)
        return cls(values, uploads)

    def has(self, name: str) -> bool:
        """Whether a parameter was given (non-empty) or uploaded."""
        return self.values.get(name) not in (None, "") or name in self.uploads

    def str(self, name: str, default: str | None = None) -> str | None:
        """A text parameter."""
        value = self.values.get(name)
        return default if value is None else str(value)

    def int(self, name: str, default: int | None = None) -> int | None:
        """An integer parameter; 400 if it is not one."""
        value = self.values.get(name)
        if value in (None, ""):
            return default
        try:
            return int(value)
        except (TypeError, ValueError) as err:
            raise bad_request(f"invalid {name} specified") from err

    def require_int(self, name: str) -> int:
        """An integer parameter that must be present."""
        value = self.int(name)
        if value is None:
            raise bad_request(f"{name} is empty")
        return value

    def bool(self, name: str, default: bool = False) -> bool:
        """A boolean parameter (JSON true or the text true)."""
        value = self.values.get(name)
        if value in (None, ""):
            return default
        if isinstance(value, bool):
            return value
        return str(value).lower() in ("true", "1")

    def json(self, name: str, default: Any = None) -> Any:
        """A structured parameter: already decoded (JSON body) or a JSON string (forms)."""
        value = self.values.get(name)
        if value in (None, ""):
            return default
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError as err:
                raise bad_request(f"can't parse {name} JSON object") from err
        return value

    def chat_ref(self, name: str = "chat_id") -> int | str:
        """``chat_id`` as an int, or ``@channelusername``."""
        value = self.values.get(name)
        if value in (None, ""):
            raise bad_request("chat_id is empty")
        text = str(value)
        if text.startswith("@"):
            return text
        try:
            return int(text)
        except ValueError as err:
            raise bad_request("chat not found") from err

    def file(self, name: str) -> Upload | str | None:
        """An uploaded part, or the string (file_id, URL or ``attach://part``) given instead."""
        if name in self.uploads:
            return self.uploads[name]
        value = self.str(name)
        if value and value.startswith("attach://"):
            return self.uploads.get(value[len("attach://") :])
        return value
