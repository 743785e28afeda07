"""Posting cards: /linkchannel, /post, and keeping posted cards true.

A merchant links a channel or group where both they and the bot are admins
(asked of Telegram with getChatMember, never taken on trust), then /post
sends a product's card there, or gives the deep link to share anywhere.
Each posted card remembers what it showed; ``refresh_cards`` edits only the
stale ones, each at most once per ``min_interval``, a few per chat per run,
so a flash sale does not hammer Telegram (about 20 messages a minute per group).
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import html
import logging
import re

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot, InlineKeyboardMarkup, InputMediaPhoto, Message, Update
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot import callbacks, cards
from bot.commerce import catalog, merchants, posting, shopping
from bot.commerce.errors import NotSelling
from bot.context import ShopContext
from bot.handlers.errors import answers_errors
from bot.handlers.merchant import as_merchant, button, button_id, decoded_args, say
from bot.handlers.preview import deep_link
from bot.i18n import Translator
from bot.metrics import metrics
from bot.ratelimit import handles_429_itself
from bot.services import Services
from bot.store.enums import MerchantStatus, ProductStatus
from bot.store.models import Merchant, Product

log = logging.getLogger(__name__)

PICK = callbacks.action("post_pick")  # product id
POST_TO = callbacks.action("post_to")  # product id, linked channel id
_CHAT_REF = re.compile(r"^(@[A-Za-z][A-Za-z0-9_]{3,31}|-?\d{1,15})$")
ADMINS = {ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER}
MAX_LISTED = 20


def render(
    product: Product, merchant: Merchant, t: Translator, bot_username: str, max_per_order: int,
    options: cards.Options = (),
) -> tuple[str, InlineKeyboardMarkup]:
    """The card's text and buttons, as posted in a channel or group (the buyer side's card)."""
    return cards.render_card(product, merchant, t, bot_username=bot_username, max_per_order=max_per_order,
                             options=options)


async def _is_admin(bot: Bot, chat_id: int, user_id: int, *, must_post: bool) -> bool:
    member = await bot.get_chat_member(chat_id, user_id)
    if member.status not in ADMINS:
        return False
    return not must_post or member.status == ChatMemberStatus.OWNER or getattr(member, "can_post_messages",
                                                                                None) is not False


@answers_errors
async def link_channel(update: Update, context: ShopContext) -> None:
    """/linkchannel @name|id: check both admin rights with Telegram, then remember the chat."""
    merchant_ok = await as_merchant(update, context, lambda _s, m: _noop(m))
    t, args = context.t, context.args or []
    if len(args) != 1 or not _CHAT_REF.match(args[0]):
        await say(update, t("Usage: /linkchannel @channel_name (or the chat's numeric id). "
                            "Or add me to the channel as an admin: then I link it by myself."))
        return
    ref: str | int = args[0] if args[0].startswith("@") else int(args[0])
    try:
        chat = await context.bot.get_chat(ref)
        is_channel = chat.type == ChatType.CHANNEL
        bot_ok = await _is_admin(context.bot, chat.id, context.bot.id, must_post=is_channel)
        user_ok = bot_ok and await _is_admin(context.bot, chat.id, update.effective_user.id, must_post=False)
    except (BadRequest, Forbidden):
        await say(update, t("I can't see that chat. Add me there as an admin first."))
        return
    if chat.type == ChatType.PRIVATE:
        await say(update, t("Link a channel or a group, not a private chat."))
    elif not bot_ok:
        await say(update, t("Make me an admin of that chat (allowed to post messages) first."))
    elif not user_ok:
        await say(update, t("Only an admin of that chat can link it."))
    else:
        title, lang = chat.title or chat.username or str(chat.id), context.lang
        now = context.services.clock.now()
        await context.services.run(lambda s: posting.link_channel(
            s, merchant=merchant_ok, chat_id=chat.id, title=title, language=lang, now=now))
        await say(update, t("Linked {title}. Use /post to send a card there.", title=title))


async def _noop(merchant: Merchant) -> Merchant:
    return merchant


@answers_errors
async def post(update: Update, context: ShopContext) -> None:
    """/post: choose which product to post."""
    products = await as_merchant(update, context, lambda s, m: catalog.merchant_products(s, merchant_id=m.id))
    products = [p for p in products if p.status == ProductStatus.ACTIVE]
    if not products:
        await say(update, context.t("Nothing on sale to post. Add a product with /newproduct."))
        return
    rows = [[button(p.title[:40], PICK, p.id)] for p in products[:MAX_LISTED]]
    await say(update, context.t("Which product?"), reply_markup=InlineKeyboardMarkup(rows))


@answers_errors
async def pick(update: Update, context: ShopContext) -> None:
    """A product chosen: offer the linked chats, and the link to share anywhere."""
    product_id = button_id(update)

    async def work(session: AsyncSession, merchant: Merchant) -> tuple:
        product = await catalog.owned_product(session, product_id=product_id, merchant=merchant)
        return product, await posting.merchant_channels(session, merchant_id=merchant.id)

    product, channels = await as_merchant(update, context, work)
    t, link = context.t, deep_link(context.bot.username, product.id)
    await update.callback_query.answer()
    text = t("Share this link anywhere to open the card of {title}:", title=html.escape(product.title))
    text += f"\n{link}"
    if channels:
        text += "\n\n" + t("Or post the card to a linked chat:")
    else:
        text += "\n\n" + t("To post into a channel or group, add me there as an admin "
                           "(then I link it by myself), or link it with /linkchannel @name.")
    rows = [[button(c.title[:40], POST_TO, product.id, c.id)] for c in channels]
    markup = InlineKeyboardMarkup(rows) if rows else None
    await say(update, text, parse_mode=ParseMode.HTML, reply_markup=markup)  # the title is escaped


@answers_errors
async def post_to(update: Update, context: ShopContext) -> None:
    """Send the card to a linked chat and remember it for in-place edits."""
    args = decoded_args(update)
    if len(args) != 2:
        await update.callback_query.answer(context.t("This button is no longer valid."))
        return
    product_id, channel_id = args

    async def work(session: AsyncSession, merchant: Merchant) -> tuple:
        product = await catalog.owned_product(session, product_id=product_id, merchant=merchant)
        if product.status != ProductStatus.ACTIVE:
            raise NotSelling()
        channel = await posting.owned_channel(session, channel_id=channel_id, merchant=merchant)
        return product, merchant, channel, await shopping.options_of(session, product)

    product, merchant, channel, options = await as_merchant(update, context, work)
    text, markup = render(product, merchant, context.translator(channel.language), context.bot.username,
                          context.services.rules.max_quantity_per_order, options)
    try:
        sent = await _send_card(context.bot, channel.chat_id, product, text, markup)
    except TelegramError as error:
        log.info("could not post product %s to chat %s: %s", product.id, channel.chat_id, error)
        await update.callback_query.answer(context.t("I couldn't post there. Am I still an admin?"),
                                           show_alert=True)
        return
    now = context.services.clock.now()
    await context.services.run(lambda s: posting.record_posted_card(
        s, product=product, chat_id=channel.chat_id, message_id=sent.message_id,
        has_photo=bool(product.photo), language=channel.language, now=now))
    await update.callback_query.answer(context.t("Posted to {title}.", title=channel.title))


async def _send_card(
    bot: Bot, chat_id: int, product: Product, text: str, markup: InlineKeyboardMarkup
) -> Message:
    if product.photo:
        return await bot.send_photo(chat_id, product.photo, caption=text, parse_mode=ParseMode.HTML,
                                    reply_markup=markup)
    return await bot.send_message(chat_id, text, parse_mode=ParseMode.HTML, reply_markup=markup)


@handles_429_itself  # a 429 ends the run (below), rather than the Bot retrying it
async def refresh_cards(
    bot: Bot, services: Services, *, min_interval: dt.timedelta = dt.timedelta(seconds=10),
    max_edits: int = 20, per_chat: int = 3,
) -> int:
    """Edit posted cards whose price, stock, status or content changed; returns how many were edited.

    Run it every few seconds. A card is edited at most once per ``min_interval``
    and at most ``per_chat`` cards of one chat per run; a 429 ends the run.
    """
    now = services.clock.now()
    stale = await services.run(lambda s: posting.stale_cards(s, now=now, min_interval=min_interval,
                                                             limit=max_edits * 3))
    edited, chats = 0, collections.Counter[int | str]()
    for card in stale:
        where = card.chat_id if card.chat_id is not None else str(card.inline_message_id)
        if edited >= max_edits or chats[where] >= per_chat:
            continue
        chats[where] += 1
        product, merchant, options = await services.run(lambda s, c=card: _load(s, c.product_id))
        shown = dataclasses.replace(card, price_fen=product.price_fen, stock=product.stock,
                                    status=_shown_status(product, merchant))
        text, markup = render(product, merchant, Translator(card.language, services.catalogs), bot.username,
                              services.rules.max_quantity_per_order, options)
        try:
            await _edit(bot, card, product, text, markup)
            edited += 1
            photo_now = card.has_photo or (card.edited and bool(product.photo))  # a text card may gain one
            shown = dataclasses.replace(shown, has_photo=photo_now)
        except RetryAfter as error:
            metrics().telegram_429.labels("cards").inc()
            log.warning("card refresh throttled by Telegram: %s", error.message)
            break
        except BadRequest as error:
            if "not modified" not in error.message.lower():
                log.info("posted card %s can't be edited (%s); left as it is", card.card_id, error.message)
        except Forbidden as error:
            log.info("posted card %s: the bot may not edit in %s (%s)", card.card_id, card.chat_id, error)
        except NetworkError:
            log.warning("card refresh failed for %s; will retry", card.card_id, exc_info=True)
            continue
        await services.run(lambda s, c=shown: posting.mark_rendered(s, card=c, now=now))
    return edited


async def _load(session: AsyncSession, product_id: int) -> tuple[Product, Merchant, tuple]:
    product = await catalog.get_product(session, product_id)
    return (product, await merchants.get_merchant(session, product.merchant_id),
            await shopping.options_of(session, product))


def _shown_status(product: Product, merchant: Merchant) -> str:
    return product.status if merchant.status == MerchantStatus.APPROVED else ProductStatus.PAUSED


async def _edit(bot: Bot, card: posting.StaleCard, product: Product, text: str,
                markup: InlineKeyboardMarkup) -> None:
    # After the merchant's edit the photo may be a new one, or the first: Telegram's editMessageMedia
    # replaces a photo and adds one to a text message alike.
    where = ({"inline_message_id": card.inline_message_id} if card.inline_message_id
             else {"chat_id": card.chat_id, "message_id": card.message_id})
    if card.edited and product.photo:
        await bot.edit_message_media(InputMediaPhoto(product.photo, caption=text, parse_mode=ParseMode.HTML),
                                     reply_markup=markup, **where)
    elif card.has_photo:
        await bot.edit_message_caption(caption=text, parse_mode=ParseMode.HTML, reply_markup=markup, **where)
    else:
        await bot.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=markup, **where)


def register(application: Application) -> None:
    """Add /linkchannel, /post and the posting buttons."""
    application.add_handler(CommandHandler("linkchannel", link_channel))
    application.add_handler(CommandHandler("post", post))
    application.add_handler(CallbackQueryHandler(pick, pattern=callbacks.pattern(PICK)))
    application.add_handler(CallbackQueryHandler(post_to, pattern=callbacks.pattern(POST_TO)))
