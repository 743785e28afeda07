"""The control API under ``/sandbox/api``: the web chat's and the tests' side of Telegram.

Plain JSON in and out. Errors are ``{"ok": false, "description": ...}`` with
an HTTP status that says whose fault it was. Actions a user takes live in
``control_actions.py``; this module holds the world's setup and inspection:
users, chats, channels, messages, clock, limits, files.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import actions
from .chats import commands_for
from .params import ApiError
from .world import World

Handler = Callable[[World, Request], Awaitable[Any]]
MAX_POLL_SECONDS = 30.0
MAX_TITLE = 128  # Telegram's limit on a channel's title
CHANNEL_USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{4,31}$")
SAFE_INLINE = {"image/png", "image/jpeg", "image/gif", "image/webp"}


def endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler: JSON result or a JSON error, never a stack trace."""

    @functools.wraps(handler)
    async def run(request: Request) -> Response:
        try:
            result = await handler(request.app.state.world, request)
        except ApiError as err:
            return JSONResponse({"ok": False, "description": err.description},
                                status_code=err.code)
        except (ValueError, TypeError) as err:  # int("abc") and the like in a request body
            return JSONResponse({"ok": False, "description": f"bad value: {err}"},
                                status_code=400)
        if isinstance(result, Response):
            return result
        return JSONResponse(result)

    return run


async def body(request: Request) -> dict[str, Any]:
    """The JSON object a control call was given (empty if none)."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError as err:
        raise ApiError(400, "body is not JSON") from err
    if not isinstance(data, dict):
        raise ApiError(400, "body must be a JSON object")
    return data


def path_int(request: Request, name: str) -> int:
    """An integer path parameter, or 400."""
    try:
        return int(request.path_params[name])
    except ValueError as err:
        raise ApiError(400, f"{name} must be an integer") from err


def need(data: dict[str, Any], name: str) -> Any:
    """A required field of a control call's body, or 400."""
    if data.get(name) in (None, ""):
        raise ApiError(400, f"{name} is required")
    return data[name]


async def info(world: World, request: Request) -> Any:
    """Who the bot is, the personas, the limits and the clock: what the web chat starts with."""
    return {"bot": world.store.bot_user, "personas": [p.model_dump() for p in
                                                      world.settings.personas],
            "limits": world.limiter.snapshot(), "clock": clock_state(world),
            "webhook": world.updates.webhook_info()}


async def list_users(world: World, request: Request) -> Any:
    """Every user, with whether they blocked the bot."""
    return {"users": [{**u, "blocked": u["id"] in world.store.blocked}
                      for u in world.store.users.values()]}


async def create_user(world: World, request: Request) -> Any:
    """Create a user; without an id a fresh one is picked (the web chat's "New user").

    Like a real newcomer, the user has not started the bot (``"started": false``) until
    they write to it, unless the body says ``"started": true``.
    """
    data = await body(request)
    user_id = data.get("id")
    user = world.store.add_user(int(user_id) if user_id is not None else None,
                                str(data.get("first_name") or "New user"), data.get("username"),
                                data.get("language_code") or "en",
                                started=bool(data.get("started", False)))
    return {"user": user}


async def block_user(world: World, request: Request) -> Any:
    """``{"blocked": bool}``: block or unblock the bot as this user."""
    data = await body(request)
    user_id = path_int(request, "user_id")
    actions.set_blocked(world, user_id, bool(data.get("blocked", True)))
    return {"user_id": user_id, "blocked": user_id in world.store.blocked}


async def user_chats(world: World, request: Request) -> Any:
    """The chats a user sees in the web chat's tab bar."""
    user_id = path_int(request, "user_id")
    actions.user_of(world, user_id)
    return {"chats": world.store.chats_of(user_id)}


async def user_commands(world: World, request: Request) -> Any:
    """The bot's command menu as this user sees it (setMyCommands by scope and language)."""
    user = actions.user_of(world, path_int(request, "user_id"))
    return {"commands": commands_for(world, user["id"], user.get("language_code", ""))}


async def list_channels(world: World, request: Request) -> Any:
    """Every channel with its owner and whether the bot is admin there."""
    store = world.store
    return {"channels": [{**c, "bot_admin": store.chat_meta[c["id"]].get("bot_admin", False),
                          "owner_id": store.chat_meta[c["id"]].get("owner_id")}
                         for c in store.chats.values() if c["type"] == "channel"]}


async def create_channel(world: World, request: Request) -> Any:
    """``{"title", "owner_id", "username"?, "bot_admin"?}`` → the new channel.

    ``bot_admin`` defaults to true (a channel set up long ago, the bot told nothing); the
    web chat creates channels without the bot, and its owner adds it (``/channels/{id}/admin``).
    """
    data = await body(request)
    owner = actions.user_of(world, int(need(data, "owner_id")))
    title = str(need(data, "title")).strip()
    if not 1 <= len(title) <= MAX_TITLE:
        raise ApiError(400, f"the title must be 1 to {MAX_TITLE} characters")
    username = str(data.get("username") or "").strip().lstrip("@") or None
    if username is not None:
        if not CHANNEL_USERNAME.match(username):
            raise ApiError(400, "USERNAME_INVALID: 5-32 characters a-z, 0-9 and _, "
                                "starting with a letter")
        if world.store.resolve_chat("@" + username) is not None or any(
                u.get("username", "").lower() == username.lower()
                for u in [*world.store.users.values(), world.store.bot_user]):
            raise ApiError(400, "USERNAME_OCCUPIED: this link is already taken")
    chat = world.store.add_channel(title, username, owner["id"],
                                   bot_admin=bool(data.get("bot_admin", True)))
    return {"chat": chat}


async def set_channel_admin(world: World, request: Request) -> Any:
    """``{"bot_admin": bool, "user_id"?}``: the owner adds the bot as admin (or removes it).

    The bot gets the ``my_chat_member`` update Telegram would send; ``user_id``, when
    given, must be the owner (the web chat sends the persona's id).
    """
    chat_id = path_int(request, "chat_id")
    if world.store.chats.get(chat_id, {}).get("type") != "channel":
        raise ApiError(404, f"no channel {chat_id}")
    data = await body(request)
    owner_id = world.store.chat_meta[chat_id].get("owner_id")
    user_id = int(data["user_id"]) if data.get("user_id") not in (None, "") else owner_id
    actions.set_bot_admin(world, user_id, chat_id, bool(data.get("bot_admin", True)))
    return {"chat_id": chat_id, "bot_admin": world.store.chat_meta[chat_id]["bot_admin"]}


async def create_group(world: World, request: Request) -> Any:
    """``{"title", "member_ids", "owner_id"?}`` → a basic group with the bot."""
    data = await body(request)
    members = [actions.user_of(world, int(m))["id"] for m in data.get("member_ids", [])]
    owner = int(data.get("owner_id") or (members[0] if members else 0))
    chat = world.store.add_group(str(need(data, "title")), [*members, owner], owner)
    return {"chat": chat}


def view(rec: dict[str, Any]) -> dict[str, Any]:
    """A message as the web chat needs it: Telegram's JSON plus the sandbox's bookkeeping."""
    extra = {"_rev": rec["rev"], "_deleted": rec["deleted"]}
    if rec.get("inline_message_id"):
        extra["_inline_message_id"] = rec["inline_message_id"]
    if rec.get("keyboard"):
        extra["_keyboard"] = rec["keyboard"]
    return {**rec["message"], **extra}


async def chat_messages(world: World, request: Request) -> Any:
    """Messages changed after revision ``after``; waits up to ``timeout`` s for a change."""
    chat_id = path_int(request, "chat_id")
    if chat_id not in world.store.chats:
        raise ApiError(404, f"no chat {chat_id}")
    try:
        after = int(request.query_params.get("after", 0))
        timeout = min(float(request.query_params.get("timeout", 0)), MAX_POLL_SECONDS)
    except ValueError as err:
        raise ApiError(400, "after and timeout must be numbers") from err
    changes = world.store.changes(chat_id, after)
    while not changes and timeout > 0 and not world.closing:
        await world.store.changed.wait(min(timeout, 1.0))
        timeout -= 1.0
        changes = world.store.changes(chat_id, after)
    rev = max((r["rev"] for r in changes), default=after)
    return {"rev": rev, "messages": [view(r) for r in changes]}


def clock_state(world: World) -> dict[str, Any]:
    """The offset, the sandbox's current time, and the time zone the web chat shows times in (the bot's)."""
    return {"offset_seconds": world.clock.offset_seconds(),
            "now": world.clock.clock.now().isoformat(), "unix": world.clock.unix_now(),
            "time_zone": world.settings.time_zone}


async def get_clock(world: World, request: Request) -> Any:
    """The sandbox clock."""
    return clock_state(world)


async def advance_clock(world: World, request: Request) -> Any:
    """``{"seconds": N}``: move the shared clock forward."""
    seconds = float(need(await body(request), "seconds"))
    if seconds < 0:
        raise ApiError(400, "the clock only moves forward")
    world.clock.advance(seconds)
    return clock_state(world)


async def limits(world: World, request: Request) -> Any:
    """GET the flood limits, or POST changes such as ``{"enabled": false}``."""
    if request.method == "POST":
        try:
            world.limiter.configure(**await body(request))
        except (ValueError, TypeError) as err:
            raise ApiError(400, str(err)) from err
    return world.limiter.snapshot()


async def file_bytes(world: World, request: Request) -> Any:
    """An image by file_id, for the web chat's ``<img>`` tags."""
    found = world.files.read(request.path_params["file_id"])
    if found is None:
        raise ApiError(404, "no such file")
    data, mime = found
    headers = {"Cache-Control": "max-age=86400", "X-Content-Type-Options": "nosniff"}
    if mime not in SAFE_INLINE:
        # A bot's document could be HTML or SVG: never render it on the sandbox's origin.
        mime = "application/octet-stream"
        headers["Content-Disposition"] = "attachment"
    return Response(data, media_type=mime, headers=headers)


async def pending_updates(world: World, request: Request) -> Any:
    """Updates the bot has not confirmed yet (for debugging a bot that seems deaf)."""
    return {"pending": world.updates.pending, "webhook": world.updates.webhook_info()}


def routes() -> list[Route]:
    """Every control endpoint under ``/sandbox/api``."""
    from .control_actions import routes as action_routes

    def r(path: str, handler: Handler, *methods: str) -> Route:
        return Route(f"/sandbox/api{path}", endpoint(handler), methods=list(methods or ["GET"]))

    return [
        r("/info", info), r("/users", list_users), r("/users", create_user, "POST"),
        r("/users/{user_id}/block", block_user, "POST"), r("/users/{user_id}/chats", user_chats),
        r("/users/{user_id}/commands", user_commands),
        r("/channels", list_channels), r("/channels", create_channel, "POST"),
        r("/channels/{chat_id}/admin", set_channel_admin, "POST"),
        r("/channels/{chat_id}/posts", chat_messages), r("/groups", create_group, "POST"),
        r("/chats/{chat_id}/messages", chat_messages),
        r("/clock", get_clock), r("/clock/advance", advance_clock, "POST"),
        r("/limits", limits, "GET", "POST"), r("/files/{file_id}", file_bytes),
        r("/updates", pending_updates),
        *[r(path, handler, *methods) for path, handler, methods in action_routes()],
    ]
