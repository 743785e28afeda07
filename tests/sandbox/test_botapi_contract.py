"""The sandbox answers python-telegram-bot's calls as Telegram would."""

from __future__ import annotations

import datetime as dt
import struct
import zlib

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputMediaPhoto
from telegram.constants import ChatMemberStatus, MessageEntityType
from telegram.error import BadRequest, EndPointNotFound, Forbidden, InvalidToken, RetryAfter

from sandbox.testing import serve_app

from .conftest import BUYER, CHANNEL

BUY = InlineKeyboardMarkup([[InlineKeyboardButton("Buy", callback_data="buy:5")]])


def tiny_png(width: int = 3, height: int = 2) -> bytes:
    """A valid PNG of the given size, so the sandbox can report width and height."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x00\x80\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


async def test_get_me_describes_the_demo_bot(bot):
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (123456, "shopbot_demo_bot", True)
    assert me.supports_inline_queries


async def test_html_message_with_keyboard_reaches_the_user(bot, sandbox):
    sent = await bot.send_message(BUYER, "<b>Oolong</b> ¥12.00", parse_mode="HTML",
                                  reply_markup=BUY)
    assert sent.text == "Oolong ¥12.00"
    assert sent.entities[0].type == MessageEntityType.BOLD
    assert sent.reply_markup == BUY
    assert sent.from_user.id == bot.id
    seen = (await sandbox.client.messages(BUYER))[-1]
    assert seen["message_id"] == sent.message_id
    assert seen["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "buy:5"


async def test_message_ids_increase_per_chat(bot):
    first = await bot.send_message(BUYER, "one")
    second = await bot.send_message(BUYER, "two")
    other_chat = await bot.send_message(1002, "hello")
    assert second.message_id == first.message_id + 1
    assert other_chat.message_id == 1


async def test_bad_html_is_refused_like_telegram(bot):
    with pytest.raises(BadRequest, match="Can't parse entities: unsupported start tag"):
        await bot.send_message(BUYER, "<div>card</div>", parse_mode="HTML")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"chat_id": 424242, "text": "hi"}, "Chat not found"),
        ({"chat_id": BUYER, "text": " "}, "Message text is empty"),
        ({"chat_id": BUYER, "text": "x" * 4097}, "Message is too long"),
        ({"chat_id": BUYER, "text": "hi", "reply_markup": InlineKeyboardMarkup(
            [[InlineKeyboardButton("Buy", callback_data="x" * 65)]])}, "Button_data_invalid"),
    ],
)
async def test_send_message_errors(bot, kwargs, message):
    with pytest.raises(BadRequest, match=message):
        await bot.send_message(**kwargs)


async def test_editing_to_the_same_text_is_not_modified(bot):
    sent = await bot.send_message(BUYER, "Stock: 3", reply_markup=BUY)
    edited = await bot.edit_message_text("Stock: 2", BUYER, sent.message_id, reply_markup=BUY)
    assert edited.text == "Stock: 2" and edited.edit_date is not None
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("Stock: 2", BUYER, sent.message_id, reply_markup=BUY)
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("Stock: 1", BUYER, 999)


async def test_edit_without_markup_removes_the_keyboard(bot, sandbox):
    sent = await bot.send_message(BUYER, "Pay now", reply_markup=BUY)
    edited = await bot.edit_message_text("Paid", BUYER, sent.message_id)
    assert edited.reply_markup is None
    assert "reply_markup" not in (await sandbox.client.messages(BUYER))[-1]


async def test_deleted_messages_disappear_and_cannot_be_deleted_twice(bot, sandbox):
    sent = await bot.send_message(BUYER, "temporary")
    assert await bot.delete_message(BUYER, sent.message_id)
    assert await sandbox.client.messages(BUYER) == []
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(BUYER, sent.message_id)


async def test_photo_upload_then_get_file_downloads_the_same_bytes(bot):
    png = tiny_png()
    sent = await bot.send_photo(BUYER, png, caption="<i>Tea</i>", parse_mode="HTML")
    photo = sent.photo[-1]
    assert (photo.width, photo.height, sent.caption) == (3, 2, "Tea")
    again = await bot.send_photo(BUYER, photo.file_id)
    assert again.photo[-1].file_unique_id == photo.file_unique_id
    file = await bot.get_file(photo.file_id)
    assert bytes(await file.download_as_bytearray()) == png


async def test_bot_is_administrator_of_the_seeded_channel(bot, sandbox):
    member = await bot.get_chat_member(CHANNEL, bot.id)
    assert member.status == ChatMemberStatus.ADMINISTRATOR and member.can_post_messages
    owner = await bot.get_chat_member("@meis_tea_channel", 2001)
    assert owner.status == ChatMemberStatus.OWNER
    admins = await bot.get_chat_administrators(CHANNEL)
    assert {a.user.id for a in admins} == {2001, bot.id}
    assert await bot.get_chat_member_count(CHANNEL) >= 4
    post = await bot.send_message("@meis_tea_channel", "New: Oolong", reply_markup=BUY)
    assert post.chat.id == CHANNEL and post.sender_chat.id == CHANNEL


async def test_bot_cannot_post_where_it_is_not_admin(bot, sandbox):
    channel = await sandbox.client.create_channel("Side shop", 2001, bot_admin=False)
    member = await bot.get_chat_member(channel["id"], bot.id)
    assert member.status == ChatMemberStatus.LEFT
    with pytest.raises(Forbidden):
        await bot.send_message(channel["id"], "card")
    await sandbox.client.set_bot_admin(channel["id"])
    assert (await bot.get_chat_member(channel["id"], bot.id)).status == "administrator"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_flood_limit_answers_429_with_retry_after(bot, sandbox):
    await sandbox.client.set_limits(enabled=True, per_chat_per_second=1, per_chat_burst=2)
    await bot.send_message(BUYER, "1")
    await bot.send_message(BUYER, "2")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(BUYER, "3")
    retry = caught.value.retry_after
    seconds = retry.total_seconds() if isinstance(retry, dt.timedelta) else retry
    assert seconds >= 1
    await bot.send_message(1002, "another chat still gets its message")


async def test_blocked_user_gives_403_until_they_write_again(bot, sandbox):
    await sandbox.client.block(BUYER)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(BUYER, "Your order shipped")
    await sandbox.client.send_text(BUYER, "/start")
    assert (await bot.send_message(BUYER, "Welcome back")).text == "Welcome back"


async def test_unknown_method_is_404_and_unknown_token_is_401(bot, sandbox):
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("sendTeapot")
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{sandbox.bot_base_url}{sandbox.token}/sendTeapot")
    assert response.status_code == 404
    assert response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    with pytest.raises(InvalidToken):
        async with Bot("999:WRONG", base_url=sandbox.bot_base_url):
            pass


async def test_json_bodies_are_accepted_too(sandbox):
    url = f"{sandbox.bot_base_url}{sandbox.token}/sendMessage"
    async with httpx.AsyncClient() as http:
        response = await http.post(url, json={"chat_id": BUYER, "text": "<u>hi</u>",
                                              "parse_mode": "HTML"})
    result = response.json()["result"]
    assert result["entities"] == [{"type": "underline", "offset": 0, "length": 2}]


async def test_commands_are_kept_per_scope(bot):
    await bot.set_my_commands([("start", "Start shopping"), ("orders", "My orders")])
    assert [c.command for c in await bot.get_my_commands()] == ["start", "orders"]
    assert await bot.get_my_commands(language_code="zh") == ()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_channels_are_also_limited_per_minute(bot, sandbox):
    await sandbox.client.set_limits(enabled=True, per_chat_per_second=100, per_chat_burst=100,
                                    group_per_minute=2)
    await bot.send_message(CHANNEL, "card 1")
    await bot.send_message(CHANNEL, "card 2")
    with pytest.raises(RetryAfter):
        await bot.send_message(CHANNEL, "card 3")
    assert (await bot.send_message(BUYER, "private chats are not affected")).message_id


async def test_photo_by_url_is_fetched_and_stored(bot, sandbox):
    png = tiny_png(5, 7)

    async def image(request: Request) -> Response:
        return Response(png, media_type="image/png")

    async with serve_app(Starlette(routes=[Route("/oolong.png", image)])) as base_url:
        sent = await bot.send_photo(BUYER, f"{base_url}/oolong.png")
        with pytest.raises(BadRequest, match="Failed to get http url content"):
            await bot.send_photo(BUYER, f"{base_url}/missing.png")
    assert (sent.photo[-1].width, sent.photo[-1].height) == (5, 7)
    file = await bot.get_file(sent.photo[-1].file_id)
    assert bytes(await file.download_as_bytearray()) == png


async def test_documents_are_stored_and_served_as_downloads(bot, sandbox):
    csv = b"order,amount_fen\n1,1200\n"
    sent = await bot.send_document(2001, csv, filename="orders.csv", caption="Today's orders")
    assert (sent.document.file_name, sent.document.file_size) == ("orders.csv", len(csv))
    file = await bot.get_file(sent.document.file_id)
    assert bytes(await file.download_as_bytearray()) == csv
    with pytest.raises(BadRequest, match="Type of file mismatch"):
        await bot.send_photo(BUYER, sent.document.file_id)
    served = await sandbox.client.http.get(f"/files/{sent.document.file_id}")
    assert served.content == csv and served.headers["content-disposition"] == "attachment"


async def test_caption_and_keyboard_edits(bot, sandbox):
    card = await bot.send_photo(CHANNEL, tiny_png(), caption="Oolong ¥12", reply_markup=BUY)
    recaptioned = await bot.edit_message_caption(CHANNEL, card.message_id,
                                                 caption="<b>Sold out</b>", parse_mode="HTML",
                                                 reply_markup=BUY)
    assert recaptioned.caption == "Sold out" and recaptioned.photo
    stripped = await bot.edit_message_reply_markup(CHANNEL, card.message_id)
    assert stripped.reply_markup is None
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_reply_markup(CHANNEL, card.message_id)
    with pytest.raises(BadRequest, match="There is no text in the message to edit"):
        await bot.edit_message_text("text", CHANNEL, card.message_id)
    assert await bot.send_chat_action(BUYER, "typing")


async def test_media_edits_replace_a_photo_and_add_one_to_a_text_message(bot, sandbox):
    card = await bot.send_message(CHANNEL, "Oolong ¥12", reply_markup=BUY)
    first = await bot.edit_message_media(InputMediaPhoto(tiny_png(4, 4), caption="<b>Oolong</b> ¥12",
                                                         parse_mode="HTML"),
                                         CHANNEL, card.message_id, reply_markup=BUY)
    assert (first.photo[-1].width, first.caption, first.text) == (4, "Oolong ¥12", None)
    assert first.caption_entities[0].type == MessageEntityType.BOLD and first.reply_markup == BUY
    other = await bot.send_photo(BUYER, tiny_png(5, 5))
    second = await bot.edit_message_media(InputMediaPhoto(other.photo[-1].file_id, caption="🍵" * 512),
                                          CHANNEL, card.message_id)
    assert second.photo[-1].width == 5 and second.reply_markup is None
    with pytest.raises(BadRequest, match=r"(?i)caption is too long"):  # 513 emoji: 1,026 UTF-16 units
        await bot.edit_message_media(InputMediaPhoto(other.photo[-1].file_id, caption="🍵" * 513),
                                     CHANNEL, card.message_id)
    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
        await bot.edit_message_media(InputMediaPhoto("no-such-file"), CHANNEL, card.message_id)
    seen = (await sandbox.client.messages(CHANNEL))[-1]
    assert seen["caption"] == "🍵" * 512 and "text" not in seen


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_overall_limit_spans_chats(bot, sandbox):
    await sandbox.client.set_limits(enabled=True, overall_per_second=2)
    await bot.send_message(1001, "a")
    await bot.send_message(1002, "b")
    with pytest.raises(RetryAfter):
        await bot.send_message(2001, "c")


async def test_malformed_parameters_are_400_not_500(sandbox):
    url = f"{sandbox.bot_base_url}{sandbox.token}/sendMessage"
    async with httpx.AsyncClient() as http:
        response = await http.post(url, json={"chat_id": BUYER, "text": "hi",
                                              "reply_markup": {"inline_keyboard": [["oops"]]}})
    assert response.status_code == 400 and response.json()["ok"] is False


async def test_markdown_v2_is_checked_like_telegram(bot):
    sent = await bot.send_message(BUYER, "*Oolong* ¥12\\.00", parse_mode="MarkdownV2")
    assert sent.text == "Oolong ¥12.00" and sent.entities[0].type == MessageEntityType.BOLD
    with pytest.raises(BadRequest, match="is reserved and must be escaped"):
        await bot.send_message(BUYER, "Oolong ¥12.00", parse_mode="MarkdownV2")
