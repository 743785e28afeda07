"""Control API endpoints for what users do: send, press, query, pick.

Calls that wait for the bot (a button press, an inline query) return when
the bot answers or after ``answer_wait_seconds`` with ``"answered": false``.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from starlette.requests import Request

from . import actions
from .control import body, need, view
from .forms import parse_form
from .params import ApiError
from .world import World


def _shown(world: World, message: dict[str, Any]) -> dict[str, Any]:
    """A message just created, as the messages endpoint shows it (with its ``_rev``)."""
    rec = world.store.record(message["chat"]["id"], message["message_id"])
    return view(rec) if rec is not None else message


def _opt_int(data: dict[str, Any], name: str) -> int | None:
    value = data.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError) as err:
        raise ApiError(400, f"{name} must be an integer") from err


async def send_message(world: World, request: Request) -> Any:
    """``{"user_id", "text", "chat_id"?, "reply_to_message_id"?}`` → the user's message."""
    data = await body(request)
    return {"message": _shown(world, actions.send_text(
        world, int(need(data, "user_id")), str(need(data, "text")),
        chat_id=_opt_int(data, "chat_id"),
        reply_to_message_id=_opt_int(data, "reply_to_message_id")))}


async def send_photo(world: World, request: Request) -> Any:
    """Multipart (``photo`` file part) or JSON with ``photo_base64``."""
    ctype = request.headers.get("content-type", "")
    if "multipart/form-data" in ctype:
        fields, uploads = parse_form(ctype, await request.body())
        data: dict[str, Any] = dict(fields)
        raw = uploads["photo"].data if "photo" in uploads else b""
    else:
        data = await body(request)
        try:
            raw = base64.b64decode(str(need(data, "photo_base64")))
        except binascii.Error as err:
            raise ApiError(400, "photo_base64 is not base64") from err
    if not raw:
        raise ApiError(400, "photo is required")
    return {"message": _shown(world, actions.send_photo(
        world, int(need(data, "user_id")), raw, caption=str(data.get("caption") or ""),
        chat_id=_opt_int(data, "chat_id")))}


async def press_button(world: World, request: Request) -> Any:
    """``{"user_id", "data", "chat_id"+"message_id" | "inline_message_id", "force"?}``."""
    data = await body(request)
    return await actions.press_button(
        world, int(need(data, "user_id")), str(need(data, "data")),
        chat_id=_opt_int(data, "chat_id"), message_id=_opt_int(data, "message_id"),
        inline_message_id=data.get("inline_message_id"), force=bool(data.get("force")))


async def inline_query(world: World, request: Request) -> Any:
    """``{"user_id", "query", "chat_id"?, "offset"?}`` → the bot's results."""
    data = await body(request)
    return await actions.inline_query(
        world, int(need(data, "user_id")), str(data.get("query") or ""),
        chat_id=_opt_int(data, "chat_id"), offset=str(data.get("offset") or ""))


async def inline_result(world: World, request: Request) -> Any:
    """``{"user_id", "inline_query_id", "result_id", "chat_id"?}`` → the message sent."""
    data = await body(request)
    return {"message": _shown(world, await actions.choose_inline_result(
        world, int(need(data, "user_id")), str(need(data, "inline_query_id")),
        str(need(data, "result_id")), chat_id=_opt_int(data, "chat_id")))}


def routes() -> list[tuple[str, Any, tuple[str, ...]]]:
    """(path, handler, methods) of the user-action endpoints."""
    return [
        ("/messages", send_message, ("POST",)),
        ("/photos", send_photo, ("POST",)),
        ("/callbacks", press_button, ("POST",)),
        ("/inline_queries", inline_query, ("POST",)),
        ("/inline_results", inline_result, ("POST",)),
    ]
