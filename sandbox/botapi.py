"""The Bot API endpoint: ``/bot<token>/<method>`` and file downloads.

Method names are case-insensitive, as on Telegram. Every answer is
``{"ok": true, "result": ...}`` or Telegram's error shape; an unknown token
is 401 and an unknown method 404 "Not Found", which is what PTB maps to
``InvalidToken`` and ``EndPointNotFound``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import answers, chats, editing, polling, sending
from .params import ApiError, Params
from .world import World

log = logging.getLogger(__name__)
Method = Callable[[World, Params], Awaitable[Any]]
METHODS: dict[str, Method] = {
    **sending.METHODS, **editing.METHODS, **chats.METHODS, **polling.METHODS, **answers.METHODS,
}


def error_response(err: ApiError) -> JSONResponse:
    """Telegram's error envelope with the matching HTTP status."""
    return JSONResponse(err.body(), status_code=err.code)


def _check_token(world: World, token: str) -> None:
    if token != world.settings.bot_token:
        raise ApiError(401, "Unauthorized")


async def call_method(request: Request) -> Response:
    """Run one Bot API method and wrap its result in Telegram's envelope."""
    world: World = request.app.state.world
    name = request.path_params["method"]
    try:
        _check_token(world, request.path_params["token"])
        method = METHODS.get(name.lower())
        if method is None:
            # Telegram answers 404 for a method it does not know; say which one we lack.
            log.warning("Bot API method %r is not emulated by the sandbox", name)
            raise ApiError(404, "Not Found")
        params = await Params.from_request(request)
        result = await method(world, params)
    except ApiError as err:
        log.debug("%s -> %s %s", name, err.code, err.description)
        return error_response(err)
    except (ValueError, TypeError, KeyError, AttributeError) as err:
        # Malformed parameters the checks did not foresee: a 400, like Telegram, but logged
        # with its traceback in case it is the sandbox's own bug.
        log.warning("%s failed on its parameters", name, exc_info=True)
        return error_response(ApiError(400, f"Bad Request: can't parse parameters: {err}"))
    return JSONResponse({"ok": True, "result": result})


async def run_reply(world: World, call: dict[str, Any]) -> None:
    """A Bot API call the bot put in its webhook response (``{"method": …, params…}``)."""
    params = {k: v for k, v in call.items() if k != "method"}
    method = METHODS.get(str(call["method"]).lower())
    if method is None:
        raise ApiError(404, "Not Found")
    await method(world, Params(params))


async def download_file(request: Request) -> Response:
    """``/file/bot<token>/<file_path>``: the bytes behind getFile's file_path."""
    world: World = request.app.state.world
    try:
        _check_token(world, request.path_params["token"])
    except ApiError as err:
        return error_response(err)
    found = world.files.read(request.path_params["file_path"])
    if found is None:
        return error_response(ApiError(404, "Not Found"))
    data, mime = found
    return Response(data, media_type=mime)


def routes() -> list[Route]:
    """Telegram's URL scheme; the token is part of the path, as in ``bot123:ABC``."""
    return [
        Route("/bot{token}/{method}", call_method, methods=["GET", "POST"]),
        Route("/file/bot{token}/{file_path:path}", download_file, methods=["GET"]),
    ]
