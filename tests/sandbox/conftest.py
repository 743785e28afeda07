"""Fixtures: a sandbox served on a free port and a PTB ``Bot`` pointed at it; an application polling it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from telegram import Bot
from telegram.ext import Application
from telegram.request import HTTPXRequest

from sandbox.testing import RunningSandbox, sandbox_settings, serve_sandbox

BUYER, OTHER_BUYER, MERCHANT = 1001, 1002, 2001
CHANNEL = -1002001
# How long a test waits for a polling bot's message (``wait_for_message(within=...)``): it returns
# as soon as the message is there, so this only bounds a loaded CI machine (the default 5 s may not).
WAIT_S = 30.0


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[RunningSandbox]:
    """A fresh sandbox with the default personas and channel, flood limits off.

    A button press waits up to 10 s for the bot's answer, as long as a loaded CI machine may need
    for a bot's poll, handler and answer (1 s was not); it returns as soon as the answer comes.
    """
    async with serve_sandbox(sandbox_settings(tmp_path, rate_limits_enabled=False,
                                              answer_wait_seconds=10)) as running:
        yield running


def loopback_request() -> HTTPXRequest:
    """PTB's own request class; without the CA bundle (plain HTTP), which saves time per test."""
    return HTTPXRequest(httpx_kwargs={"verify": False})


@pytest.fixture
async def bot(sandbox: RunningSandbox) -> AsyncIterator[Bot]:
    """python-telegram-bot's ``Bot``, unchanged, talking to the sandbox."""
    async with Bot(sandbox.token, base_url=sandbox.bot_base_url,
                   base_file_url=sandbox.file_base_url, request=loopback_request(),
                   get_updates_request=loopback_request()) as ptb_bot:
        yield ptb_bot


@contextlib.asynccontextmanager
async def long_polling(application: Application) -> AsyncIterator[Application]:
    """``application`` started and long-polling the sandbox, as ``shopbot run`` does; stopped after."""
    await application.initialize()
    await application.start()
    await application.updater.start_polling(poll_interval=0, timeout=1)
    try:
        yield application
    finally:
        await application.updater.stop()
        await application.stop()
        await application.shutdown()
