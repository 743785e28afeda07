"""Money in and out of the wallet: pay an order with it, top it up, withdraw from it.

**Pay with wallet** sits beside the gateway's Pay on the order message: one
tap turns the message into a confirmation, a second pays and redraws the
order in place — no page to leave. Its key is the order itself
(``order:<id>``): an order is paid once, however often the button is pressed.

**Top up** opens a gateway trade and gives its Pay link; the balance changes
only when the gateway's signed notification arrives (the core credits it and
the user hears of it through the outbox, and the message with its Pay
button is edited to say the money arrived, its button gone). **Withdraw** holds the money and
sends it out through the gateway's transfer; the expected arrival date is
shown before the user confirms.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.ext import Application, CallbackQueryHandler, MessageHandler

from bot import callbacks, cards
from bot.clock import business_date
from bot.commerce import outbox, shopping, wallet
from bot.commerce.errors import IllegalTransition, InsufficientFunds, NotFound
from bot.commerce.wallet import funding as wallet_funding
from bot.commerce.wallet import payments as wallet_payments
from bot.commerce.wallet import top_ups
from bot.config import Settings
from bot.context import ShopContext
from bot.handlers import awaiting
from bot.handlers.buyer_orders import close_expired, expired_answer, keep_up_to_date, order_message
from bot.handlers.merchant import button
from bot.handlers.wallet import (
    TOPUP,
    WITHDRAW,
    answers_wallet_errors,
    confirm_keyboard,
    current_draft,
    edit_or_send,
    escape,
    new_draft,
    pressed_draft,
    seal,
    stale,
    wallet_rules,
)
from bot.i18n import Translator
from bot.notices import Notice, RenderContext, renderer
from bot.payments import wallet_calls
from bot.payments.trade_links import trade_pay_url
from bot.store.enums import OrderState, WalletOpKind, WalletOpState

ORDER_PAY_OK = callbacks.action("w_order_ok")  # order id
ORDER_BACK = callbacks.action("w_order_back")  # order id
WITHDRAW_OK = callbacks.action("w_withdraw_ok")  # draft number
INPUT_KINDS = {"w_topup", "w_wd_amount", "w_wd_account", "w_wd_name"}
TOP_UP = "wallet_topup"  # outbox kind of a top-up's Pay message, so its outcome redraws it


def _order_id(update: Update) -> int | None:
    decoded = callbacks.decode(update.callback_query.data)
    return decoded.args[0] if decoded and len(decoded.args) == 1 else None


async def _order_and_balance(
    session: AsyncSession, order_id: int, user_id: int, now: dt.datetime
) -> tuple[shopping.OrderView, int]:
    view = await shopping.order_view(session, order_id=order_id, user_id=user_id, now=now)
    return view, await wallet.balance(session, user_id=user_id)


async def ask_pay_order(update: Update, context: ShopContext) -> None:
    """Pay with wallet: turn the order message into a confirmation (or say what is missing)."""
    t, query = context.t, update.callback_query
    if (order_id := _order_id(update)) is None:
        await stale(update, context)
        return
    user_id, now = update.effective_user.id, context.services.clock.now()
    view, balance = await context.services.run(lambda s: _order_and_balance(s, order_id, user_id, now))
    await close_expired(context.services, [view])  # past its time to pay: expired by this press
    order = view.order
    if order.state != OrderState.AWAITING_PAYMENT:
        raise IllegalTransition(state=order.state, what="order", id=order.id)
    if balance < order.total_fen:
        raise InsufficientFunds(account="wallet", amount_fen=order.total_fen, balance_fen=balance)
    amount = t.money(order.total_fen, order.currency)
    text = (t("Pay order #{id} ({title}), {amount}, from your wallet?", id=order.id,
              title=escape(view.title), amount=amount)
            + "\n" + t("Balance: {amount}", amount=t.money(balance)))
    keyboard = InlineKeyboardMarkup([[
        button("✅ " + t("Pay {amount}", amount=amount), ORDER_PAY_OK, order.id),
        button(t("Back"), ORDER_BACK, order.id)]])
    await query.answer()
    await edit_or_send(update, text, keyboard)


async def pay_order(update: Update, context: ShopContext) -> None:
    """Confirm: pay from the wallet and redraw the order, paid."""
    t, query = context.t, update.callback_query
    if (order_id := _order_id(update)) is None:
        await stale(update, context)
        return
    user_id, now = update.effective_user.id, context.services.clock.now()

    async def work(session: AsyncSession) -> shopping.OrderView:
        view = await shopping.order_view(session, order_id=order_id, user_id=user_id, now=now)
        if view.just_expired:  # past its time to pay: expired by this press, nothing is paid
            return view
        await wallet_payments.pay_order(session, user_id=user_id, order_id=order_id, key=f"order:{order_id}",
                                        now=now)
        return await shopping.order_view(session, order_id=order_id, user_id=user_id)

    view = await context.services.run(work)
    await close_expired(context.services, [view])
    await query.answer(expired_answer(view, t) if view.just_expired else t("Paid from your wallet."))
    await _show(update, context, view)


async def back_to_order(update: Update, context: ShopContext) -> None:
    """Back: the order as it was, with its buttons."""
    if (order_id := _order_id(update)) is None:
        await stale(update, context)
        return
    now = context.services.clock.now()
    view = await context.services.run(lambda s: shopping.order_view(
        s, order_id=order_id, user_id=update.effective_user.id, now=now))
    await close_expired(context.services, [view])  # past its time to pay: shown expired, no Pay
    await update.callback_query.answer()
    await _show(update, context, view)


async def _show(update: Update, context: ShopContext, view: shopping.OrderView) -> None:
    """The order in the pressed message; in a new one kept up to date when that one is too old to edit."""
    if (sent := await edit_or_send(update, *order_message(view, context))) is not None:
        await keep_up_to_date(context.services, chat_id=sent.chat_id, message_id=sent.message_id,
                              drawn=view.order)


# --- top-up


async def start_top_up(update: Update, context: ShopContext) -> None:
    """Top up: ask how much."""
    t = context.t
    await update.callback_query.answer()
    if context.services.gateway is None:
        await update.effective_chat.send_message(t("Payments are not available right now."))
        return
    awaiting.wait_for(context.user_data, "w_topup", new_draft(context, "topup"))
    await update.effective_chat.send_message(t("How much do you want to add to your wallet? Send an amount, "
                                               "like 100 or 12.50."))


async def _top_up_amount(message: Message, context: ShopContext, text: str) -> None:
    """Open the top-up's trade and give its Pay link."""
    t, services, draft = context.t, context.services, current_draft(context, "topup")
    rules = wallet_rules(context)
    amount = wallet.parse_wallet_amount(text, rules=rules)
    op = await services.run(lambda s: wallet_funding.start_top_up(
        s, user_id=message.chat_id, amount_fen=amount, key=draft["key"], rules=rules,
        now=services.clock.now()))
    awaiting.done(context.user_data)
    notice = top_up_notice(op, t, services.settings)
    sent = await message.reply_text(notice.text, reply_markup=notice.keyboard)
    await services.run(lambda s: outbox.shown(s, chat_id=message.chat_id, message_id=sent.message_id,
                                              kind=TOP_UP, shows=outbox.subject("wallet_op", op.id),
                                              now=services.clock.now(), op_id=op.id))


def top_up_notice(op: wallet.WalletOp, t: Translator, settings: Settings) -> Notice:
    """A top-up as it stands: its Pay link while it waits for the money, then what became of it."""
    money = t.money(op.amount_fen)
    if op.state == WalletOpState.SUCCEEDED:
        return Notice("✅ " + t("{amount} was added to your wallet. See /wallet.", amount=money))
    if op.failure_reason in (top_ups.LATE_PAYMENT, top_ups.LATE_REFUNDED):
        return Notice(t("Your payment of {amount} arrived after this top-up had expired, so it was not "
                        "added to your wallet: it is refunded in full to where you paid from.", amount=money))
    if op.failure_reason == top_ups.EXPIRED:
        return Notice(t("This top-up of {amount} expired unpaid; nothing was taken. Start a new one from "
                        "/wallet.", amount=money))
    if op.state == WalletOpState.FAILED:
        return Notice(t("The top-up of {amount} did not go through; nothing was taken.", amount=money))
    url = trade_pay_url(settings, op.out_trade_no)
    pay = InlineKeyboardButton("💳 " + t("Pay {amount}", amount=money), url=url)
    return Notice(t("Pay {amount} at the payment provider. Your balance changes as soon as the "
                    "payment arrives; I'll tell you here.", amount=money), InlineKeyboardMarkup([[pay]]))


@renderer(TOP_UP)
async def top_up_message(ctx: RenderContext, params: dict[str, Any]) -> Notice | None:
    """A top-up's Pay message drawn again once its money arrived."""
    try:
        op = await wallet.operation_of_kind(ctx.session, op_id=int(params.get("op_id") or 0),
                                            kind=WalletOpKind.TOPUP)
    except NotFound:
        return None
    return top_up_notice(op, ctx.t, ctx.settings)


# --- withdrawal


async def start_withdrawal(update: Update, context: ShopContext) -> None:
    """Withdraw: ask how much, showing what there is."""
    t, user_id = context.t, update.effective_user.id
    await update.callback_query.answer()
    if context.services.gateway is None:
        await update.effective_chat.send_message(t("Payments are not available right now."))
        return
    balance = await context.services.run(lambda s: wallet.balance(s, user_id=user_id))
    if balance <= 0:
        await update.effective_chat.send_message(t("Your wallet is empty: nothing to withdraw."))
        return
    awaiting.wait_for(context.user_data, "w_wd_amount", new_draft(context, "withdraw"))
    await update.effective_chat.send_message(t("How much do you want to withdraw to your bank account? "
                                               "You have {amount}.", amount=t.money(balance)))


async def _withdrawal_step(message: Message, context: ShopContext, kind: str, text: str) -> None:
    """Amount, then bank account, then the holder's name, then the confirmation."""
    t, draft, rules = context.t, current_draft(context, "withdraw"), wallet_rules(context)
    if kind == "w_wd_amount":
        amount = wallet.parse_wallet_amount(text, rules=rules)
        balance = await context.services.run(lambda s: wallet.balance(s, user_id=message.chat_id))
        if amount > balance:  # said now, not after two more questions; the core checks it again
            raise InsufficientFunds(account="wallet", amount_fen=amount, balance_fen=balance)
        draft["amount"] = amount
        awaiting.wait_for(context.user_data, "w_wd_account", draft["no"])
        await message.reply_text(t("Send the number of the bank account that should receive it."))
        return
    if kind == "w_wd_account":
        draft["account"] = wallet_funding.clean_bank_account(text)
        awaiting.wait_for(context.user_data, "w_wd_name", draft["no"])
        await message.reply_text(t("Send the account holder's full name, as the bank knows it."))
        return
    draft["name"] = wallet_funding.clean_account_name(text)
    awaiting.done(context.user_data)
    now = context.services.clock.now()
    arrival = wallet_funding.expected_arrival(now, rules.withdrawal_delay_working_days)
    amount = t.money(draft["amount"])
    text = "\n".join([
        t("Withdraw {amount} to account {account} ({name})?", amount=amount, account=escape(draft["account"]),
          name=escape(draft["name"])),
        t("Expected to arrive by {date}.", date=arrival.isoformat())])
    await message.reply_text(text, parse_mode=ParseMode.HTML, reply_markup=confirm_keyboard(
        "✅ " + t("Withdraw {amount}", amount=amount), WITHDRAW_OK, seal(draft), t))


async def confirm_withdrawal(update: Update, context: ShopContext) -> None:
    """Hold the money and send it through the gateway; say when it should arrive."""
    t, query, services = context.t, update.callback_query, context.services
    draft = pressed_draft(update, context, "withdraw")
    if draft is None or "name" not in draft:
        await stale(update, context)
        return
    await query.answer()
    op = await wallet_calls.withdraw(services, user_id=update.effective_user.id,
                                     amount_fen=draft["amount"], bank_account=draft["account"],
                                     account_name=draft["name"], key=draft["key"])
    await edit_or_send(update, withdrawal_text(op, t))


def withdrawal_text(op: wallet.WalletOp, t: Translator) -> str:
    """Where a withdrawal stands, with its expected arrival date."""
    amount, account = t.money(op.amount_fen), escape(op.account_no)
    if op.state == WalletOpState.FAILED:
        return t("The withdrawal of {amount} was returned by the bank transfer; the money is back in your "
                 "wallet.", amount=amount)
    arrival = business_date(op.expected_at).isoformat() if op.expected_at else ""
    return "\n".join(["🏦 " + t("Withdrawal of {amount} to account {account} is on its way.", amount=amount,
                                 account=account),
                       t("Expected to arrive by {date}.", date=arrival), t("Receipt no. {id}", id=op.id)])


@renderer("wallet_topped_up")
async def topped_up(ctx: RenderContext, params: dict[str, Any]) -> Notice | None:
    """The top-up's payment arrived."""
    return Notice("✅ " + ctx.t("{amount} was added to your wallet. See /wallet.",
                               amount=ctx.t.money(int(params.get("amount_fen") or 0))))


@renderer("wallet_topup_late_refunded")
async def top_up_late_refunded(ctx: RenderContext, params: dict[str, Any]) -> Notice | None:
    """A payment came for a top-up that had expired: it is refunded, and why."""
    return Notice("↩️ " + ctx.t("Your payment of {amount} arrived after this top-up had expired, so it was "
                               "not added to your wallet: it is refunded in full to where you paid from.",
                               amount=ctx.t.money(int(params.get("amount_fen") or 0))))


@renderer("wallet_withdrawal_sent")
async def withdrawal_sent(ctx: RenderContext, params: dict[str, Any]) -> Notice | None:
    """The gateway made the transfer."""
    return Notice("🏦 " + ctx.t("Your withdrawal of {amount} was sent to your bank; expected by {date}.",
                               amount=ctx.t.money(int(params.get("amount_fen") or 0)),
                               date=escape(str(params.get("expected_on", "")))))


@renderer("wallet_withdrawal_returned")
async def withdrawal_returned(ctx: RenderContext, params: dict[str, Any]) -> Notice | None:
    """The gateway refused or returned the transfer; the money is back."""
    return Notice("⚠️ " + ctx.t("Your withdrawal of {amount} was returned by the bank transfer; the money is "
                               "back in your wallet. Please check the account number and name.",
                               amount=ctx.t.money(int(params.get("amount_fen") or 0))))


async def receive_text(update: Update, context: ShopContext) -> None:
    """The typed amount of a top-up, or a step of a withdrawal."""
    kind, _number = awaiting.waiting(context.user_data)
    message = update.effective_message
    if current_draft(context, "topup" if kind == "w_topup" else "withdraw") is None:
        awaiting.done(context.user_data)
        return
    if kind == "w_topup":
        await _top_up_amount(message, context, message.text)
    else:
        await _withdrawal_step(message, context, kind, message.text)


def register(application: Application) -> None:
    """Pay with wallet, top-up and withdrawal."""
    for action, callback in ((cards.ORDER_WALLET_PAY, ask_pay_order), (ORDER_PAY_OK, pay_order),
                             (ORDER_BACK, back_to_order), (TOPUP, start_top_up),
                             (WITHDRAW, start_withdrawal), (WITHDRAW_OK, confirm_withdrawal)):
        application.add_handler(CallbackQueryHandler(answers_wallet_errors(callback),
                                                     pattern=callbacks.pattern(action)))
    application.add_handler(MessageHandler(awaiting.AwaitingInput(application, INPUT_KINDS),
                                           answers_wallet_errors(receive_text)))
