"""Admins: review applications, suspend or reinstate shops.

An application shows where the shop asks to be paid (account and holder),
and what the business registry said: an enterprise it did
not confirm gets, besides **Approve** (it sells without the Verified mark),
**Verify and approve**, the admin's explicit check of its documents.

Every command and button checks ``settings.admin_ids`` on the server; anyone
else is refused and nothing changes. Decisions reach the merchant through
the outbox, written by the commerce core in the same transaction. Every
message that shows an application with Approve and Reject (the new-application
notice, each entry of /applications) is edited to the decision once it is made,
whoever made it, and its buttons go.
"""

from __future__ import annotations

import html
from typing import Any

from telegram import InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

import bot.notice_kinds  # noqa: F401  (the plain renderer registers first, so ours below replaces it)
from bot import callbacks, states
from bot.commerce import directory, merchants, outbox, verification
from bot.commerce.errors import IllegalTransition
from bot.context import ShopContext
from bot.handlers.errors import answers_errors
from bot.handlers.menus import refresh_menu
from bot.handlers.merchant import button, button_id, conversation, require_admin, say
from bot.i18n import Translator
from bot.notices import Notice, RenderContext, renderer
from bot.payments.syncing import close_trades
from bot.store.enums import MerchantKind, MerchantStatus
from bot.store.models import Merchant

APPROVE = callbacks.action("app_ok")
VERIFY = callbacks.action("app_verify")
REJECT = callbacks.action("app_no")
SUSPEND = callbacks.action("m_suspend")
REINSTATE = callbacks.action("m_reinstate")
REASON = 0
MAX_LISTED = 10


APPLICATION = "application"  # outbox kind of an /applications entry, so a decision redraws it


def _decision(merchant: Merchant, t: Translator) -> InlineKeyboardMarkup | str:
    """The buttons while the application waits; afterwards the line that says how it ended.

    Approve, Verify and approve (an enterprise not verified yet: the admin's explicit check), Reject.
    """
    if merchant.status == MerchantStatus.PENDING:
        row = [button(t("Approve"), APPROVE, merchant.id)]
        if verification.may_verify(merchant):
            row.append(button(t("Verify and approve"), VERIFY, merchant.id))
        row.append(button(t("Reject"), REJECT, merchant.id))
        return InlineKeyboardMarkup([row])
    return "\n" + t("Status: {state}", state=states.state_name(states.SHOP, merchant.status, t))


def _registry_line(merchant: Merchant, t: Translator) -> str:
    """What the business registry said of an enterprise's number, for the admin who decides."""
    if merchant.verified_at is not None:
        return t("✅ The business registry confirmed this number and name.")
    return t("⚠️ The business registry did not confirm this number under this name: "
             "check the documents before you verify.")


def payee_line(merchant: Merchant, t: Translator) -> str:
    """Where the shop asks to be paid, in full: the admin checks the holder matches the applicant."""
    if not merchant.payout_account:
        return t("Payout account: none yet")
    return t("Payout account: {account} (holder: {holder})", account=html.escape(merchant.payout_account),
             holder=html.escape(merchant.payout_name or "—"))


def application_card(merchant: Merchant, t: Translator) -> Notice:
    """An application as /applications lists it, with its buttons or its decision."""
    kind = t("Enterprise") if merchant.kind == MerchantKind.ENTERPRISE else t("Individual")
    lines = [f"<b>{html.escape(merchant.name)}</b> (#{merchant.id}, {kind})",
             html.escape(merchant.description or "—"),
             t("Contact: {contact}", contact=html.escape(merchant.contact)), payee_line(merchant, t)]
    if merchant.registration_no:
        lines.append(t("Registration no.: {number}", number=html.escape(merchant.registration_no)))
        lines.append(_registry_line(merchant, t))
    decision = _decision(merchant, t)
    if isinstance(decision, str):
        return Notice("\n".join(lines) + decision)
    return Notice("\n".join(lines), decision)


@answers_errors
async def applications(update: Update, context: ShopContext) -> None:
    """/applications: pending applications, each with Approve and Reject."""
    require_admin(update, context)
    pending = await context.services.run(merchants.pending_applications)
    t = context.t
    if not pending:
        await say(update, t("No applications are waiting."))
        return
    await say(update, t("Applications waiting: {count}", count=len(pending)))
    chat_id, now = update.effective_chat.id, context.services.clock.now()
    for merchant in pending[:MAX_LISTED]:
        card = application_card(merchant, t)
        sent = await context.bot.send_message(chat_id, card.text, parse_mode=ParseMode.HTML,
                                              reply_markup=card.keyboard)
        await context.services.run(lambda s, m=merchant.id, shown=sent.message_id: outbox.shown(
            s, chat_id=chat_id, message_id=shown, kind=APPLICATION, shows=outbox.subject("merchant", m),
            now=now, merchant_id=m))


@answers_errors
async def approve(update: Update, context: ShopContext) -> None:
    """Approve a pending application (or reinstate a suspended shop); Verify also marks it verified."""
    require_admin(update, context)
    merchant_id = button_id(update)
    verified = callbacks.decode(update.callback_query.data).action == VERIFY
    now = context.services.clock.now()
    merchant = await context.services.run(
        lambda s: merchants.approve_merchant(s, merchant_id=merchant_id, now=now, verified=verified))
    await update.callback_query.answer()
    done = "{name} is verified and approved, and may sell now." if verified else \
        "{name} is approved and may sell now."
    await say(update, context.t(done, name=merchant.name))
    await refresh_menu(context.bot, context.services, merchant.owner_id)


@answers_errors
async def ask_reason(update: Update, context: ShopContext) -> int:
    """Reject or suspend: first ask for the reason the merchant will read."""
    require_admin(update, context)
    decoded = callbacks.decode(update.callback_query.data)
    merchant_id = button_id(update)
    merchant = await context.services.run(lambda s: merchants.get_merchant(s, merchant_id))
    waits_for = MerchantStatus.PENDING if decoded.action == REJECT else MerchantStatus.APPROVED
    if merchant.status != waits_for:  # a leftover button: say how it stands (the core checks again)
        what = "application" if decoded.action == REJECT else "shop"
        raise IllegalTransition(state=merchant.status, what=what, name=merchant.name)
    context.user_data["ask"] = (decoded.action, merchant.id)
    await update.callback_query.answer()
    prompt = ("Why is {name} rejected? The applicant will read your reason. (/cancel to stop)"
              if decoded.action == REJECT else
              "Why is {name} suspended? The merchant will read your reason. (/cancel to stop)")
    await say(update, context.t(prompt, name=merchant.name))
    return REASON


@answers_errors
async def got_reason(update: Update, context: ShopContext) -> int:
    """The reason: reject or suspend, and confirm."""
    require_admin(update, context)
    action, merchant_id = context.user_data["ask"]
    reason, now = update.message.text, context.services.clock.now()
    decide = merchants.reject_merchant if action == REJECT else merchants.suspend_merchant
    merchant = await context.services.run(
        lambda s: decide(s, merchant_id=merchant_id, reason=reason, now=now))
    context.user_data.pop("ask", None)
    done = "{name} is rejected." if action == REJECT else "{name} is suspended: its cards stop selling now."
    await say(update, context.t(done, name=merchant.name))
    await refresh_menu(context.bot, context.services, merchant.owner_id)
    if action == SUSPEND:  # checkout pages opened before stay payable until their trades are closed
        await close_trades(context.services, merchant_id=merchant_id)
    return ConversationHandler.END


@answers_errors
async def list_merchants(update: Update, context: ShopContext) -> None:
    """/merchants: shops with a button to suspend or reinstate each."""
    require_admin(update, context)
    shops = await context.services.run(directory.listed_merchants)
    t = context.t
    if not shops:
        await say(update, t("No shops yet."))
        return
    rows = []
    for shop in shops:
        if shop.status == MerchantStatus.APPROVED:
            rows.append([button(t("Suspend {name}", name=shop.name), SUSPEND, shop.id)])
        else:
            rows.append([button(t("Reinstate {name}", name=shop.name), REINSTATE, shop.id)])
    await say(update, t("Shops ({count}):", count=len(shops)), reply_markup=InlineKeyboardMarkup(rows))


@renderer("admin_new_application")
async def new_application_notice(ctx: RenderContext, params: dict[str, Any]) -> Notice | None:
    """Tell an admin of a new application, with Approve and Reject at hand (replaces the plain notice).

    One decided before the notice goes out is not news; one decided after turns the notice into its outcome.
    """
    merchant = await ctx.session.get(Merchant, int(params.get("merchant_id") or 0))
    if merchant is None or (merchant.status != MerchantStatus.PENDING and not ctx.editing):
        return None
    t = ctx.t
    kind = t("enterprise") if merchant.kind == MerchantKind.ENTERPRISE else t("individual")
    lines = [t("New shop application: {name} ({kind}). See /applications.",
               name=html.escape(merchant.name), kind=kind), payee_line(merchant, t)]
    if merchant.registration_no:
        lines.append(_registry_line(merchant, t))
    if params.get("rejected_before"):
        lines.append(t("Rejected before: {reason}", reason=html.escape(str(params["rejected_before"]))))
    text, decision = "\n".join(lines), _decision(merchant, t)
    return Notice(text + decision) if isinstance(decision, str) else Notice(text, decision)


@renderer(APPLICATION)
async def application_entry(ctx: RenderContext, params: dict[str, Any]) -> Notice | None:
    """An /applications entry drawn again after its decision."""
    merchant = await ctx.session.get(Merchant, int(params.get("merchant_id") or 0))
    return None if merchant is None else application_card(merchant, ctx.t)


def register(application: Application) -> None:
    """Add the admin commands and buttons."""
    application.add_handler(CommandHandler("applications", applications))
    application.add_handler(CommandHandler("merchants", list_merchants))
    application.add_handler(CallbackQueryHandler(
        approve, pattern=callbacks.pattern(APPROVE, VERIFY, REINSTATE)))
    application.add_handler(conversation(
        entry_points=[CallbackQueryHandler(ask_reason, pattern=callbacks.pattern(REJECT, SUSPEND))],
        states={REASON: [MessageHandler(filters.TEXT & ~filters.COMMAND, got_reason)]},
        name="admin_reason",
    ))
