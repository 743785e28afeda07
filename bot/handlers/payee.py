"""/payee: where a merchant is paid, and changing it with a confirmation.

/payee shows the payout account (masked) and whether payouts are paused,
then asks for a new account and its holder's real name. Nothing changes until
the merchant presses **Confirm** on a message that shows the old account
(masked) and the new one; that message is then edited to the outcome and
loses its buttons. ``payees.change_payee`` holds payouts for the configured
time and tells the admins; ``payee_notices`` renders what is told later.
"""

from __future__ import annotations

import html
from typing import Any

from telegram import InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot import callbacks
from bot.commerce import merchants, payees
from bot.commerce.errors import CommerceError, Forbidden
from bot.context import ShopContext
from bot.handlers.errors import answers_errors, describe
from bot.handlers.merchant import button, conversation, decoded_args, say
from bot.handlers.payee_notices import when  # also registers the notices of changes and holds
from bot.i18n import Translator
from bot.store.enums import MerchantStatus
from bot.store.models import Merchant

CONFIRM = callbacks.action("payee_ok")
CANCEL = callbacks.action("payee_no")
ACCOUNT, NAME = range(2)
# user_data: the draft, the drafts awaiting Confirm by number, and the last number given
DRAFT, PENDING, SEQUENCE = "payee_draft", "payee_pending", "payee_seq"
TEXT = filters.TEXT & ~filters.COMMAND


def shown(account: str, name: str, t: Translator) -> str:
    """An account as the merchant sees it in a message: masked, with the holder masked too."""
    if not account:
        return t("none")
    return f"{payees.mask_account(account)} ({payees.mask_name(name)})"


async def _shop(update: Update, context: ShopContext) -> Merchant:
    """The user's shop, approved or suspended (a suspended shop is still paid what it is owed)."""
    owner_id = update.effective_user.id
    merchant = await context.services.run(lambda s: merchants.merchant_of(s, owner_id))
    if merchant is None or merchant.status not in (MerchantStatus.APPROVED, MerchantStatus.SUSPENDED):
        raise Forbidden(role="merchant", status=merchant.status if merchant else None)
    return merchant


@answers_errors
async def start_payee(update: Update, context: ShopContext) -> int:
    """/payee: the account payouts go to, any pause, and an offer to change it."""
    merchant, t = await _shop(update, context), context.t
    now, hours = context.services.clock.now(), context.services.settings.payee_change_hold_hours
    lines = [t("Payouts go to: {account}", account=shown(merchant.payout_account, merchant.payout_name, t))]
    until = payees.held_until(merchant, now)
    if not payees.has_payee(merchant):
        lines.append(t("No payout account yet: your money waits in your balance until you set one."))
    elif until is not None:
        lines.append(t("Payouts are paused until {until} (Beijing time), after the last change.",
                       until=when(until)))
    lines.append(t("To change it, send the new Alipay account (the email address or mainland mobile number "
                   "you log in with), or /cancel. Payouts pause for {hours} hours after a change.",
                   hours=hours))
    context.user_data[DRAFT] = {"expected": merchant.payout_account}
    await say(update, "\n".join(lines))
    return ACCOUNT


@answers_errors
async def got_account(update: Update, context: ShopContext) -> int:
    """The new account, checked as it comes; then the holder's name."""
    context.user_data[DRAFT]["account"] = payees.validate_account(update.message.text)
    await say(update, context.t("The account holder's real name, as Alipay shows it? "
                                "Payouts to another name are refused."))
    return NAME


@answers_errors
async def got_name(update: Update, context: ShopContext) -> int:
    """The holder's name: show old → new with Confirm and Cancel; nothing changes yet."""
    name, t = payees.validate_name(update.message.text), context.t
    merchant = await _shop(update, context)
    draft = context.user_data.pop(DRAFT)
    draft["name"] = name
    # Numbers are never reused: a button of an answered question must not confirm a later one.
    number = context.user_data[SEQUENCE] = context.user_data.get(SEQUENCE, 0) + 1
    context.user_data.setdefault(PENDING, {})[number] = draft
    text = t("Change your payout account?\nFrom: {old}\nTo: {new} (holder: {holder})\n"
             "Payouts pause for {hours} hours after the change; the platform's admins are told.",
             old=html.escape(shown(merchant.payout_account, merchant.payout_name, t)),
             new=html.escape(draft["account"]), holder=html.escape(draft["name"]),
             hours=context.services.settings.payee_change_hold_hours)
    keyboard = InlineKeyboardMarkup([[button(t("Confirm"), CONFIRM, number),
                                      button(t("Cancel"), CANCEL, number)]])
    await say(update, text, parse_mode=ParseMode.HTML, reply_markup=keyboard)
    return -1  # ConversationHandler.END


async def decide(update: Update, context: ShopContext) -> None:
    """Confirm or Cancel: change the account (or not) and edit the question into its outcome."""
    query, t, services = update.callback_query, context.t, context.services
    args = decoded_args(update)
    draft = context.user_data.get(PENDING, {}).pop(args[0], None) if len(args) == 1 else None
    if draft is None:
        await query.answer(t("This button is no longer valid."))  # forged, or its question was answered
        return
    await query.answer()
    if callbacks.decode(query.data).action == CANCEL:
        await query.edit_message_text(t("Cancelled. Nothing was changed."))
        return
    now, owner_id = services.clock.now(), update.effective_user.id

    async def work(session: Any) -> Merchant:
        merchant = await merchants.merchant_of(session, owner_id)
        if merchant is None or merchant.status not in (MerchantStatus.APPROVED, MerchantStatus.SUSPENDED):
            raise Forbidden(role="merchant", status=merchant.status if merchant else None)
        return await payees.change_payee(session, merchant=merchant, account=draft["account"],
                                         name=draft["name"], expected=draft["expected"], rules=services.rules,
                                         now=now, admin_ids=tuple(sorted(services.admin_ids)))

    try:
        merchant = await services.run(work)
    except CommerceError as refusal:
        await query.edit_message_text(describe(refusal, t))
        return
    await query.edit_message_text(t(
        "✅ Payouts now go to {account}. They are paused until {until} (Beijing time); we'll tell you when "
        "they resume.", account=shown(merchant.payout_account, merchant.payout_name, t),
        until=when(merchant.payout_held_until)))


def register(application: Application) -> None:
    """Add /payee and its Confirm and Cancel buttons."""
    application.add_handler(conversation(
        entry_points=[CommandHandler("payee", start_payee, filters.ChatType.PRIVATE)],
        states={ACCOUNT: [MessageHandler(TEXT, got_account)], NAME: [MessageHandler(TEXT, got_name)]},
        name="payee",
    ))
    application.add_handler(CallbackQueryHandler(answers_errors(decide),
                                                 pattern=callbacks.pattern(CONFIRM, CANCEL)))
