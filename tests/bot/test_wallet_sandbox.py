"""The wallet over real HTTP: the whole application polls the Telegram sandbox, people use its control API.

Here the request's QR code is a real multipart upload, which the sandbox
stores only if it is an image it can read.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from telegram.ext import Application

from bot.app import build_application
from bot.clock import ManualClock
from bot.config import Settings
from bot.services import build_services
from tests.bot.wallet_helpers import balance, funded
from tests.sandbox.conftest import WAIT_S, long_polling, sandbox  # noqa: F401 (sandbox: the fixture)

LING, ALEX = 1001, 1002  # the sandbox's personas: Ling reads Chinese, Alex English


@pytest.fixture
async def polling(db, sandbox, tmp_path: Path) -> AsyncIterator[SimpleNamespace]:  # noqa: F811
    """The real application, long-polling the sandbox with PTB's own HTTP client; its services and clock."""
    settings = Settings(_env_file=None, database_url=db.url, data_dir=tmp_path, telegram_token=sandbox.token,
                        telegram_base_url=sandbox.bot_base_url, telegram_file_base_url=sandbox.file_base_url)
    services = build_services(settings, db=db, clock=ManualClock())
    app: Application = build_application(settings, services=services)
    async with long_polling(app):
        yield SimpleNamespace(services=services, clock=services.clock)


async def _press(client, user_id: int, message: dict, label: str) -> dict:
    buttons = [b for row in message["reply_markup"]["inline_keyboard"] for b in row]
    [button] = [b for b in buttons if label in b["text"] and "callback_data" in b]
    return await client.press_button(user_id, button["callback_data"], chat_id=user_id,
                                     message_id=message["message_id"])


async def test_a_request_qr_code_is_uploaded_and_its_link_pays_the_requester(polling, sandbox):  # noqa: F811
    client = sandbox.client
    await funded(polling, LING, 100_00, username="ling_buys", first_name="Ling")
    await funded(polling, ALEX, 0, lang="en", username="alex_buys", first_name="Alex")
    sent = await client.send_text(ALEX, "/wallet")
    menu = await client.wait_for_message(ALEX, lambda m: "Request money" in str(m.get("reply_markup")),
                                         after=sent["_rev"], within=WAIT_S)
    await _press(client, ALEX, menu, "Request money")
    sent = await client.send_text(ALEX, "25")
    qr = await client.wait_for_message(ALEX, lambda m: "photo" in m, after=sent["_rev"], within=WAIT_S)
    assert qr["photo"][-1]["width"] >= 100 and "25.00" in qr["caption"]
    token = re.search(r"start=(rq_[\w-]+)", qr["caption"])[1]

    sent = await client.send_text(LING, f"/start {token}")
    confirmation = await client.wait_for_message(LING, lambda m: "@alex_buys" in m.get("text", ""),
                                                 after=sent["_rev"], within=WAIT_S)
    assert "¥25.00" in confirmation["text"]
    answer = await _press(client, LING, confirmation, "确认转账")
    assert answer["answered"]
    receipt = await client.wait_for_message(LING, lambda m: "已向" in m.get("text", ""),
                                            after=sent["_rev"], within=WAIT_S)
    assert "¥75.00" in receipt["text"]
    assert (await balance(polling, LING), await balance(polling, ALEX)) == (75_00, 25_00)
