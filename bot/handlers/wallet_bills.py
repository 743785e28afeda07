"""Phone top-ups and utility bills, paid from the wallet through the biller service.

Phone: operator → number → one of the operator's fixed amounts → confirm.
Bill: company → account number → the amount the biller says is due →
confirm. The catalogue comes from the biller; the draft keeps the codes it
offered, and a button carries only an index into them, checked on the server.
The core holds the money before the call and settles it with the answer: a
receipt, or — declined, failed, timed out — the news that the wallet was
refunded. An answer that never came is settled later and told through the
outbox (``wallet_bill_paid`` / ``wallet_bill_refunded``).
"""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.ext import Application, CallbackQueryHandler, MessageHandler

from bot import callbacks
from bot.commerce import wallet
from bot.commerce.wallet import billers, billing
from bot.context import ShopContext
from bot.handlers import awaiting
from bot.handlers.merchant import button
from bot.handlers.wallet import (
    BILLS,
    PHONE,
    answers_wallet_errors,
    confirm_keyboard,
    current_draft,
    edit_or_send,
    escape,
    new_draft,
    pressed_draft,
    seal,
    stale,
)
from bot.i18n import Translator
from bot.notices import Notice, RenderContext, renderer
from bot.payments import wallet_calls
from bot.store.enums import WalletOpState
from bot.store.wallet import WalletOperation

PICK = callbacks.action("w_bill_pick")  # draft number, index of the biller offered
AMOUNT = callbacks.action("w_bill_amount")  # draft number, index of the operator's amount
PAY = callbacks.action("w_bill_ok")  # draft number
INPUT_KINDS = {"w_bill_account"}


def _draft_args(update: Update, context: ShopContext) -> tuple[dict[str, Any], int] | None:
    """The bill draft and the index a two-id button names, if both are genuine."""
    decoded = callbacks.decode(update.callback_query.data)
    draft = current_draft(context, "bill")
    if decoded is None or len(decoded.args) != 2 or draft is None or draft["no"] != decoded.args[0]:
        return None
    return draft, decoded.args[1]


async def _offer(update: Update, context: ShopContext, *, mobile: bool) -> None:
    """Phone top-up or Pay a bill: the companies of that kind as buttons."""
    t = context.t
    catalogue = await wallet_calls.biller_catalogue(context.services)  # unreachable: the press says so
    await update.callback_query.answer()
    billers = [b for b in catalogue if (b.kind == "mobile") == mobile]
    number = new_draft(context, "bill", mobile=mobile, offered=[(b.code, b.name(t.lang), b.amounts_fen)
                                                                for b in billers])
    rows = [[button(b.name(t.lang), PICK, number, i)] for i, b in enumerate(billers)]
    prompt = t("Choose your mobile operator:") if mobile else t("Which bill do you want to pay?")
    await update.effective_chat.send_message(prompt, reply_markup=InlineKeyboardMarkup(rows))


async def start_phone(update: Update, context: ShopContext) -> None:
    """Phone top-up: pick the operator."""
    await _offer(update, context, mobile=True)


async def start_bill(update: Update, context: ShopContext) -> None:
    """Pay a bill: pick the company."""
    await _offer(update, context, mobile=False)


async def pick(update: Update, context: ShopContext) -> None:
    """A company was picked: ask for the phone number or the account number."""
    t = context.t
    found = _draft_args(update, context)
    if found is None or not 0 <= found[1] < len(found[0]["offered"]):
        await stale(update, context)
        return
    draft, index = found
    draft["biller"], draft["biller_name"], draft["amounts"] = draft["offered"][index]
    awaiting.wait_for(context.user_data, "w_bill_account", draft["no"])
    await update.callback_query.answer()
    name = escape(draft["biller_name"])
    prompt = (t("Send the {operator} phone number to top up.", operator=name) if draft["mobile"]
              else t("Send your account number at {company}.", company=name))
    await edit_or_send(update, prompt)


async def receive_account(update: Update, context: ShopContext) -> None:
    """The phone number (then the amounts) or the account number (then the amount due)."""
    message, t = update.effective_message, context.t
    draft = current_draft(context, "bill")
    if draft is None or "biller" not in draft:
        awaiting.done(context.user_data)
        return
    draft["account"] = billing.clean_account_no(message.text)
    awaiting.done(context.user_data)
    if draft["mobile"]:
        rows = [[button(t.money(fen), AMOUNT, draft["no"], i) for i, fen in enumerate(draft["amounts"])]]
        await message.reply_text(t("How much for {phone}?", phone=escape(draft["account"])),
                                 parse_mode=ParseMode.HTML, reply_markup=InlineKeyboardMarkup(rows))
        return
    quote = await wallet_calls.quote_bill(context.services, biller=draft["biller"],
                                          account_no=draft["account"])
    if quote is None:
        await message.reply_text(t("{company} has no bill to pay for account {account}.",
                                   company=escape(draft["biller_name"]), account=escape(draft["account"])),
                                 parse_mode=ParseMode.HTML)
        return
    draft["amount"] = quote.amount_due_fen
    lines = [f"<b>{escape(draft['biller_name'])}</b>",
             t("Account: {account} ({holder})", account=escape(quote.account_no),
               holder=escape(quote.holder)),
             t("Period: {period}", period=escape(quote.period)),
             t("Amount due: {amount}", amount=t.money(quote.amount_due_fen)),
             t("Pay it from your wallet?")]
    await _confirm(message, draft, "\n".join(lines), t)


async def _confirm(message: Message, draft: dict[str, Any], text: str, t: Translator) -> None:
    label = "✅ " + t("Pay {amount}", amount=t.money(draft["amount"]))
    await message.chat.send_message(text, parse_mode=ParseMode.HTML,
                                    reply_markup=confirm_keyboard(label, PAY, seal(draft), t))


async def choose_amount(update: Update, context: ShopContext) -> None:
    """One of the operator's fixed amounts: the confirmation."""
    t = context.t
    found = _draft_args(update, context)
    if found is None or "account" not in found[0] or not 0 <= found[1] < len(found[0]["amounts"]):
        await stale(update, context)
        return
    draft, index = found
    draft["amount"] = draft["amounts"][index]
    await update.callback_query.answer()
    await _confirm(update.effective_message, draft, t(
        "Top up {amount} to {phone} ({operator}) from your wallet?", amount=t.money(draft["amount"]),
        phone=escape(draft["account"]), operator=escape(draft["biller_name"])), t)


async def pay(update: Update, context: ShopContext) -> None:
    """Confirm: the biller is paid from the wallet; a receipt, or the refund explained."""
    t, query = context.t, update.callback_query
    draft = pressed_draft(update, context, "bill")
    if draft is None or "amount" not in draft:
        await stale(update, context)
        return
    op = await wallet_calls.pay_bill(context.services, user_id=update.effective_user.id,
                                     biller=draft["biller"], account_no=draft["account"],
                                     amount_fen=draft["amount"], key=draft["key"])
    balance = await context.services.run(lambda s: wallet.balance(s, user_id=update.effective_user.id))
    await query.answer()  # only now: a refusal above is this press's one answer
    await edit_or_send(update, bill_result(op, draft["biller_name"], t) + "\n"
                       + t("Balance: {amount}", amount=t.money(balance)))


def bill_result(op: wallet.WalletOp | WalletOperation, company: str, t: Translator) -> str:
    """A receipt, the refund explained, or the wait announced."""
    amount, account = t.money(op.amount_fen), escape(op.account_no)
    company = escape(company)
    if op.state == WalletOpState.SUCCEEDED:
        return "\n".join(["🧾 " + t("Receipt"), f"{company} · {account}", t("Paid: {amount}", amount=amount),
                          t("Biller's receipt no.: {reference}", reference=escape(op.reference)),
                          t("Receipt no. {id}", id=op.id)])
    if op.state == WalletOpState.FAILED:
        why = (t("did not answer in time") if op.failure_reason == "biller_timeout"
               else t("could not be reached") if op.failure_reason == "biller_unavailable"
               else t("declined the payment"))
        return "⚠️ " + t("{company} {why} ({account}). The {amount} is back in your wallet.",
                         company=company, why=why, account=account, amount=amount)
    return "⏳ " + t("{company} has not answered yet. The {amount} stays reserved; "
                     "I'll tell you how it ends.", company=company, amount=amount)


@renderer("wallet_bill_paid")
@renderer("wallet_bill_refunded")
async def bill_settled_later(ctx: RenderContext, params: dict[str, Any]) -> Notice | None:
    """A bill whose answer came late: its receipt, or its refund."""
    op = await ctx.session.get(WalletOperation, int(params.get("op_id") or 0))
    if op is None:
        return None
    known = (await billers.directory(ctx.session, {op.biller or ""})).get(op.biller or "")
    return Notice(bill_result(op, known.name(ctx.t.lang) if known else ctx.t("The biller"), ctx.t))


def register(application: Application) -> None:
    """Phone top-up, Pay a bill, their buttons and the account number step."""
    for action, callback in ((PHONE, start_phone), (BILLS, start_bill), (PICK, pick),
                             (AMOUNT, choose_amount), (PAY, pay)):
        application.add_handler(CallbackQueryHandler(answers_wallet_errors(callback),
                                                     pattern=callbacks.pattern(action)))
    application.add_handler(MessageHandler(awaiting.AwaitingInput(application, INPUT_KINDS),
                                           answers_wallet_errors(receive_account)))
