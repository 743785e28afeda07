"""Follow-ups: a merchant's /followup to followers, a buyer's /following.

/followup takes the text (after the command, or as the next message), shows
a preview with the number of recipients after opt-outs, blocks and the weekly
cap, and sends on confirmation: one outbox message per recipient, each with a
one-tap "Stop messages from X" button. The draft lives in ``user_data`` (UI
state); its id is the key that makes a double tap on Send send once.
"""

from __future__ import annotations

import contextlib
import html

from telegram import InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler

from bot import callbacks
from bot.cards import FOLLOW_RESUME, FOLLOW_STOP, button, resume_button, stop_button
from bot.commerce import followups, merchants
from bot.context import ShopContext
from bot.handlers import awaiting
from bot.handlers.errors import answers_errors

FOLLOWUP_SEND = callbacks.action("fu_send")  # draft id
FOLLOWUP_DISCARD = callbacks.action("fu_discard")  # draft id
DRAFT = "followup_draft"


@answers_errors
async def followup_command(update: Update, context: ShopContext) -> None:
    """/followup [text]: preview a message to followers, or ask for it."""
    owner_id = update.effective_user.id
    await context.services.run(lambda s: merchants.approved_merchant_of(s, owner_id))
    text = update.effective_message.text.partition(" ")[2].strip()
    if not text:
        awaiting.wait_for(context.user_data, "followup")
        await update.effective_message.reply_text(
            context.t("Send the message for your followers in one message."))
        return
    await preview(update, context, text)


@answers_errors
async def followup_text(update: Update, context: ShopContext) -> None:
    """The follow-up text, sent after a bare /followup."""
    await preview(update, context, update.effective_message.text)


async def preview(update: Update, context: ShopContext, text: str) -> None:
    """Show the draft, who it will reach, and Send / Discard."""
    services, t, owner_id = context.services, context.t, update.effective_user.id
    per_week, now = services.settings.followups_per_week, services.clock.now()
    text = followups.validate_text(text)

    async def work(session):
        merchant = await merchants.approved_merchant_of(session, owner_id)
        return await followups.audience(session, merchant_id=merchant.id, per_week=per_week, now=now)

    reach = await services.run(work)
    awaiting.done(context.user_data)
    draft_id = update.effective_message.message_id
    context.user_data[DRAFT] = {"id": draft_id, "text": text}
    summary = t.plural("It will reach {count} of your {followers} follower (not those who stopped your "
                       "messages or already got {cap} this week).",
                       "It will reach {count} of your {followers} followers (not those who stopped your "
                       "messages or already got {cap} this week).",
                       reach.followers, count=len(reach.recipients), followers=reach.followers, cap=per_week)
    keyboard = InlineKeyboardMarkup([[button(t("Send"), FOLLOWUP_SEND, draft_id),
                                      button(t("Discard"), FOLLOWUP_DISCARD, draft_id)]])
    await update.effective_message.reply_text(
        t("Preview:") + "\n\n" + html.escape(text) + "\n\n" + summary,
        parse_mode=ParseMode.HTML, reply_markup=keyboard)


def _draft(update: Update, context: ShopContext) -> dict | None:
    decoded = callbacks.decode(update.callback_query.data)
    draft = context.user_data.get(DRAFT)
    if decoded is None or len(decoded.args) != 1 or not draft or draft["id"] != decoded.args[0]:
        return None
    return draft


@answers_errors
async def send(update: Update, context: ShopContext) -> None:
    """Send the previewed follow-up; once, however often Send is pressed."""
    query, services, t = update.callback_query, context.services, context.t
    if (draft := _draft(update, context)) is None:
        await query.answer(t("This button is no longer valid."))
        return
    owner_id, now = update.effective_user.id, services.clock.now()

    async def work(session):
        merchant = await merchants.approved_merchant_of(session, owner_id)
        return await followups.send_followup(
            session, merchant=merchant, text=draft["text"], key=str(draft["id"]),
            per_week=services.settings.followups_per_week, now=now)

    sent = await services.run(work)
    context.user_data.pop(DRAFT, None)
    await query.answer()
    with contextlib.suppress(BadRequest):
        await query.edit_message_text(t("Sent to followers: {count}.", count=sent.recipients))


async def discard(update: Update, context: ShopContext) -> None:
    """Drop the draft."""
    query = update.callback_query
    if _draft(update, context) is None:
        await query.answer(context.t("This button is no longer valid."))
        return
    context.user_data.pop(DRAFT, None)
    await query.answer()
    with contextlib.suppress(BadRequest):
        await query.edit_message_text(context.t("Discarded."))


@answers_errors
async def following_command(update: Update, context: ShopContext) -> None:
    """/following: the shops you follow, each with Stop or Resume."""
    t = context.t
    found = await context.services.run(
        lambda s: followups.following(s, buyer_id=update.effective_user.id))
    if not found:
        await update.effective_message.reply_text(
            t("You don't follow any shop yet. You follow a shop when you buy from it."))
        return
    lines, rows = [t("Shops you follow:")], []
    for follow in found:
        name = html.escape(follow.name)
        if follow.opted_out:
            lines.append(t("{shop}: messages stopped", shop=name))
            rows.append([button(t("Resume messages from {shop}", shop=follow.name), FOLLOW_RESUME,
                                follow.merchant_id)])
        else:
            lines.append(t("{shop}: receiving messages", shop=name))
            rows.append([button(t("Stop messages from {shop}", shop=follow.name), FOLLOW_STOP,
                                follow.merchant_id)])
    await update.effective_message.reply_text("\n".join(lines), parse_mode=ParseMode.HTML,
                                              reply_markup=InlineKeyboardMarkup(rows))


@answers_errors
async def stop_or_resume(update: Update, context: ShopContext) -> None:
    """Stop or resume one shop's follow-ups with one tap."""
    query, t = update.callback_query, context.t
    decoded = callbacks.decode(query.data)
    if decoded is None or len(decoded.args) != 1:
        await query.answer(t("This button is no longer valid."))
        return
    stop = decoded.action == FOLLOW_STOP
    follow = await context.services.run(lambda s: followups.set_opted_out(
        s, buyer_id=update.effective_user.id, merchant_id=decoded.args[0], opted_out=stop))
    if stop:
        await query.answer(t("You won't get messages from {shop} any more.", shop=follow.name))
        keyboard = resume_button(follow.merchant_id, follow.name, t)
    else:
        await query.answer(t("You will get messages from {shop} again.", shop=follow.name))
        keyboard = stop_button(follow.merchant_id, follow.name, t)
    with contextlib.suppress(BadRequest):
        await query.edit_message_reply_markup(reply_markup=keyboard)


def register(application: Application) -> None:
    """/followup, /following and their buttons."""
    application.add_handler(CommandHandler("followup", followup_command))
    application.add_handler(CommandHandler("following", following_command))
    application.add_handler(MessageHandler(awaiting.AwaitingInput(application, {"followup"}), followup_text))
    application.add_handler(CallbackQueryHandler(send, pattern=callbacks.pattern(FOLLOWUP_SEND)))
    application.add_handler(CallbackQueryHandler(discard, pattern=callbacks.pattern(FOLLOWUP_DISCARD)))
    application.add_handler(CallbackQueryHandler(
        stop_or_resume, pattern=callbacks.pattern(FOLLOW_STOP, FOLLOW_RESUME)))
