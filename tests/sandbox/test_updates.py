"""Updates reach the bot in PTB's parsed shapes, by long polling or by webhook."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InlineQueryResultCachedPhoto,
    InputTextMessageContent,
)
from telegram.constants import MessageEntityType
from telegram.error import BadRequest, Conflict

from sandbox.testing import SandboxError, sandbox_settings, serve_app, serve_sandbox

from .conftest import BUYER, CHANNEL, MERCHANT

BUY = InlineKeyboardMarkup([[InlineKeyboardButton("Buy", callback_data="buy:5")]])


async def next_update(bot, offset: int | None = None):
    updates = await bot.get_updates(offset=offset, timeout=10)  # returns as soon as one is there
    assert updates, "no update arrived"
    return updates[0]


async def test_long_poll_returns_a_command_with_its_entity(bot, sandbox):
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.2)
    await sandbox.client.send_text(BUYER, "/start p_5")
    (update,) = await poll
    message = update.message
    assert (message.text, message.from_user.id, message.chat.type) == ("/start p_5", BUYER,
                                                                       "private")
    assert message.entities[0].type == MessageEntityType.BOT_COMMAND
    assert message.from_user.language_code == "zh"


async def test_offset_confirms_earlier_updates(bot, sandbox):
    await sandbox.client.send_text(BUYER, "one")
    await sandbox.client.send_text(BUYER, "two")
    first = await next_update(bot)
    second = await next_update(bot, offset=first.update_id + 1)
    assert (second.message.text, second.update_id) == ("two", first.update_id + 1)
    assert await bot.get_updates(offset=second.update_id + 1, timeout=0) == ()


async def test_button_press_is_a_callback_query_and_its_answer_reaches_the_user(bot, sandbox):
    card = await bot.send_message(BUYER, "Oolong", reply_markup=BUY)
    press = asyncio.create_task(sandbox.client.press_button(
        BUYER, "buy:5", chat_id=BUYER, message_id=card.message_id))
    query = (await next_update(bot)).callback_query
    assert (query.data, query.from_user.id, query.message.message_id) == (
        "buy:5", BUYER, card.message_id)
    assert query.chat_instance
    await query.answer("Reserved for 15 minutes", show_alert=True)
    answer = await press
    assert answer["answered"] and answer["show_alert"]
    assert answer["text"] == "Reserved for 15 minutes"
    with pytest.raises(BadRequest, match="Query is too old"):
        await query.answer("again")


async def test_unanswered_press_reports_so(tmp_path):
    settings = sandbox_settings(tmp_path, rate_limits_enabled=False, answer_wait_seconds=0.2)
    async with serve_sandbox(settings) as sandbox, Bot(sandbox.token, base_url=sandbox.bot_base_url) as bot:
        card = await bot.send_message(BUYER, "Oolong", reply_markup=BUY)
        answer = await sandbox.client.press_button(BUYER, "buy:5", chat_id=BUYER,
                                                   message_id=card.message_id)
        assert not answer["answered"]  # no one answers: the press gives up after its 0.2 s


async def test_buttons_in_a_channel_post_are_pressed_by_readers(bot, sandbox):
    post = await bot.send_message(CHANNEL, "Oolong ¥12", reply_markup=BUY)
    press = asyncio.create_task(sandbox.client.press_button(
        BUYER, "buy:5", chat_id=CHANNEL, message_id=post.message_id))
    query = (await next_update(bot)).callback_query
    assert query.message.chat.id == CHANNEL and query.from_user.id == BUYER
    await query.answer()
    assert (await press)["answered"]


async def test_inline_query_results_can_be_sent_via_the_bot(bot, sandbox):
    asking = asyncio.create_task(sandbox.client.inline_query(MERCHANT, "oolong",
                                                             chat_id=CHANNEL))
    inline = (await next_update(bot)).inline_query
    assert (inline.query, inline.from_user.id, inline.chat_type) == ("oolong", MERCHANT,
                                                                     "channel")
    article = InlineQueryResultArticle("p5", "Oolong", InputTextMessageContent(
        "<b>Oolong</b> ¥12", parse_mode="HTML"), reply_markup=BUY)
    await inline.answer([article])
    shown = await asking
    assert [r["id"] for r in shown["results"]] == ["p5"]
    sent = await sandbox.client.choose_inline_result(MERCHANT, shown["inline_query_id"], "p5")
    assert sent["chat"]["id"] == CHANNEL and sent["via_bot"]["id"] == bot.id
    updates = await bot.get_updates(offset=0, timeout=1)
    chosen = next(u.chosen_inline_result for u in updates if u.chosen_inline_result)
    assert chosen.result_id == "p5" and chosen.inline_message_id
    pressing = asyncio.create_task(sandbox.client.press_button(
        BUYER, "buy:5", inline_message_id=chosen.inline_message_id))
    updates = await bot.get_updates(offset=updates[-1].update_id + 1, timeout=3)
    query = updates[-1].callback_query
    assert query.inline_message_id == chosen.inline_message_id and query.message is None
    await query.answer()
    await pressing
    assert await bot.edit_message_text("Sold out", inline_message_id=query.inline_message_id)


async def test_inline_results_longer_than_telegram_takes_are_refused(bot, sandbox):
    """Lengths count after parsing, in UTF-16 code units: 1,000 "&amp;" fit a caption, 513 emoji do not."""
    asking = asyncio.create_task(sandbox.client.inline_query(MERCHANT, "oolong"))
    inline = (await next_update(bot)).inline_query
    too_long = [InlineQueryResultArticle("a", "Oolong", InputTextMessageContent("🍵" * 2049)),
                InlineQueryResultCachedPhoto("p", "AgACphoto", caption="🍵" * 513)]
    for result, error in zip(too_long, ("MESSAGE_TOO_LONG", "MEDIA_CAPTION_TOO_LONG"), strict=True):
        with pytest.raises(BadRequest, match=f"(?i){error}"):
            await inline.answer([result])
    fits = InlineQueryResultCachedPhoto("p", "AgACphoto", caption="&amp;" * 1000, parse_mode="HTML")
    await inline.answer([fits])
    assert [r["id"] for r in (await asking)["results"]] == ["p"]


async def test_a_second_poller_ends_the_first_with_conflict(bot, sandbox):
    first = asyncio.create_task(bot.get_updates(timeout=10))
    async with httpx.AsyncClient() as other_instance:
        url = f"{sandbox.bot_base_url}{sandbox.token}/getUpdates"
        # Another instance polls until the first poll, once the sandbox has it, is ended (a second
        # poll that comes first ends nothing). Were it never ended, it would return () after 10 s.
        while not first.done():
            second = await other_instance.post(url, data={"timeout": "0"})
            assert second.json() == {"ok": True, "result": []}
            await asyncio.sleep(0.05)
    with pytest.raises(Conflict, match="terminated by other getUpdates"):
        await first


@contextlib.asynccontextmanager
async def receiver(fail_first: int = 0) -> AsyncIterator[tuple[str, list]]:
    """A tiny webhook endpoint on a free port that records (headers, update) pairs."""
    received: list[tuple[dict, dict]] = []
    failures = {"left": fail_first}

    async def hook(request: Request) -> Response:
        received.append((dict(request.headers), await request.json()))
        if failures["left"]:
            failures["left"] -= 1
            return Response(status_code=500)
        return Response("ok")

    app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    async with serve_app(app) as base_url:
        yield f"{base_url}/hook", received


async def wait_until(condition, seconds: float = 30.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def test_webhook_gets_updates_with_the_secret_header_and_retries(bot, sandbox):
    async with receiver(fail_first=1) as (url, received):
        assert await bot.set_webhook(url, secret_token="s3cret-token")
        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates()
        await sandbox.client.send_text(BUYER, "/start")
        await wait_until(lambda: len(received) >= 2)
        (_, u1), (h2, u2) = received[:2]
        assert u1 == u2 and u1["message"]["text"] == "/start"
        assert h2["x-telegram-bot-api-secret-token"] == "s3cret-token"
        info = await bot.get_webhook_info()
        assert info.url == url and info.pending_update_count == 0
        assert "500" in info.last_error_message
    assert await bot.delete_webhook()
    assert await bot.get_updates(timeout=0) == ()


async def test_users_can_only_press_buttons_that_exist_unless_forging(bot, sandbox):
    card = await bot.send_message(BUYER, "Oolong", reply_markup=BUY)
    with pytest.raises(SandboxError, match="no button"):
        await sandbox.client.press_button(BUYER, "refund:all", chat_id=BUYER,
                                          message_id=card.message_id)
    forging = asyncio.create_task(sandbox.client.press_button(
        BUYER, "refund:all", chat_id=BUYER, message_id=card.message_id, force=True))
    query = (await next_update(bot)).callback_query
    assert query.data == "refund:all"
    await query.answer("Not allowed")
    assert (await forging)["text"] == "Not allowed"


async def test_blocking_the_bot_is_reported_as_my_chat_member(bot, sandbox):
    await sandbox.client.block(BUYER)
    update = await next_update(bot)
    member = update.my_chat_member
    assert (member.old_chat_member.status, member.new_chat_member.status) == ("member", "kicked")
    assert member.from_user.id == BUYER


async def test_a_late_answer_is_too_old(tmp_path):
    settings = sandbox_settings(tmp_path, callback_answer_ttl_seconds=0.2,
                                answer_wait_seconds=0.1)
    async with serve_sandbox(settings) as sandbox, Bot(
        sandbox.token, base_url=sandbox.bot_base_url
    ) as bot:
        card = await bot.send_message(BUYER, "Oolong", reply_markup=BUY)
        answer = await sandbox.client.press_button(BUYER, "buy:5", chat_id=BUYER,
                                                   message_id=card.message_id)
        assert not answer["answered"]
        query = (await next_update(bot)).callback_query
        await asyncio.sleep(0.2)
        with pytest.raises(BadRequest, match="Query is too old"):
            await query.answer("Reserved")


async def test_allowed_updates_filter_what_is_queued(bot, sandbox):
    assert await bot.get_updates(allowed_updates=["callback_query"]) == ()
    card = await bot.send_message(BUYER, "Oolong", reply_markup=BUY)
    await sandbox.client.send_text(BUYER, "this text is not wanted")
    pressing = asyncio.create_task(sandbox.client.press_button(
        BUYER, "buy:5", chat_id=BUYER, message_id=card.message_id))
    (update,) = await bot.get_updates(timeout=2)
    assert update.callback_query is not None
    await update.callback_query.answer()
    await pressing
