"""A merchant's money going out: /payouts with each payout's orders and a CSV, and /withdraw.

Messages here are plain text (no parse mode), so nothing needs escaping.
/payouts lists the latest payouts (amount, date, state), a button per payout
that lists the orders it covers, and **Export CSV**, which sends every payout
and its orders as a CSV document. /withdraw shows what can go out now (for
T+0, today's sales too) and a button carrying the withdrawal's number: a
double tap, or a stale button, never makes a second withdrawal.
"""

from __future__ import annotations

import io

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot import callbacks, states
from bot.clock import business_date
from bot.commerce import merchants, payees
from bot.commerce.errors import NotFound
from bot.commerce.settlement import runs as settlement_runs
from bot.commerce.wallet import withdrawals
from bot.context import ShopContext
from bot.handlers import payee, payout_notices  # noqa: F401  (registers the scheduler's outbox renderers)
from bot.handlers.errors import answers_errors
from bot.i18n import Translator
from bot.store.enums import PayoutState
from bot.store.models import Payout

PAYOUT_ORDERS = callbacks.action("payout_orders")
PAYOUTS_CSV = callbacks.action("payouts_csv")
WITHDRAW = callbacks.action("withdraw")


def _line(t: Translator, payout: Payout) -> str:
    return t("#{id} · {date} · {amount} · {state}", id=payout.id,
             date=business_date(payout.created_at).isoformat(), amount=t.money(payout.amount_fen),
             state=states.state_name(states.PAYOUT, payout.state, t))


def _one_id(update: Update) -> int:
    decoded = callbacks.decode(update.callback_query.data)
    if decoded is None or len(decoded.args) != 1:
        raise NotFound(what="button")
    return decoded.args[0]


@answers_errors
async def payouts_command(update: Update, context: ShopContext) -> None:
    """List the merchant's latest payouts, with buttons for their orders and the CSV."""
    t, owner = context.t, update.effective_user.id

    async def work(session: AsyncSession) -> list[Payout]:
        merchant = await merchants.approved_merchant_of(session, owner)
        return await withdrawals.merchant_payouts(session, merchant_id=merchant.id)

    found = await context.services.run(work)
    if not found:
        await update.effective_message.reply_text(
            t("No payouts yet. Settled funds are paid out at each daily cycle."))
        return
    buttons = [[InlineKeyboardButton(t("Orders of #{id}", id=p.id),
                                     callback_data=callbacks.encode(PAYOUT_ORDERS, p.id))] for p in found]
    buttons.append([InlineKeyboardButton(t("Export CSV"), callback_data=callbacks.encode(PAYOUTS_CSV))])
    text = "\n".join([t("Your payouts:"), *(_line(t, p) for p in found)])
    await update.effective_message.reply_text(text, reply_markup=InlineKeyboardMarkup(buttons))


@answers_errors
async def payout_orders(update: Update, context: ShopContext) -> None:
    """Show the orders one payout covers."""
    t, owner, payout_id = context.t, update.effective_user.id, _one_id(update)

    async def work(session: AsyncSession):  # type: ignore[no-untyped-def]
        merchant = await merchants.approved_merchant_of(session, owner)
        return await withdrawals.payout_orders(session, payout_id=payout_id, merchant_id=merchant.id)

    payout, orders = await context.services.run(work)
    lines = [_line(t, payout)]
    if payout.payee_account:
        account = payee.shown(payout.payee_account, payout.payee_name or "", t)
        lines.append(t("To: {account}", account=account))
    if payout.held_since:
        lines.append(t("It carries the money of the cycles held since {cycle} (no payout account, or one "
                       "changed too recently).", cycle=payout.held_since))
    for order in orders:
        line = t("Order #{id} · {total}", id=order.id, total=t.money(order.total_fen))
        if order.refunded_fen:
            line += " " + t("(refunded {amount})", amount=t.money(order.refunded_fen))
        lines.append(line)
    if not orders:
        lines.append(t("This payout covers no orders: it paid a balance carried over."))
    await update.callback_query.answer()
    await update.effective_chat.send_message("\n".join(lines))


@answers_errors
async def payouts_csv(update: Update, context: ShopContext) -> None:
    """Send every payout and its orders as a CSV document."""
    owner = update.effective_user.id

    async def work(session: AsyncSession) -> tuple[int, str]:
        merchant = await merchants.approved_merchant_of(session, owner)
        return merchant.id, await withdrawals.payouts_csv(session, merchant_id=merchant.id)

    merchant_id, text = await context.services.run(work)
    await update.callback_query.answer()
    document = InputFile(io.BytesIO(text.encode("utf-8-sig")), filename=f"payouts-{merchant_id}.csv")
    await update.effective_chat.send_document(document, caption=context.t("Your payouts and their orders."))


@answers_errors
async def withdraw_command(update: Update, context: ShopContext) -> None:
    """Show what can be withdrawn now, with a button to do it."""
    t, owner, services = context.t, update.effective_user.id, context.services
    now = services.clock.now()

    async def work(session: AsyncSession):  # type: ignore[no-untyped-def]
        merchant = await merchants.approved_merchant_of(session, owner)
        withdrawals.check_payable(merchant, now)
        offer = await withdrawals.withdrawal_offer(session, merchant_id=merchant.id, rules=services.rules,
                                                   now=now)
        return offer, payees.mask_account(merchant.payout_account)

    offer, payee = await services.run(work)
    amount = t.money(offer.available_fen)
    if offer.available_fen <= 0:
        await update.effective_message.reply_text(
            t("Nothing to withdraw right now ({amount}).", amount=amount))
        return
    button = InlineKeyboardButton(t("Withdraw {amount}", amount=amount),
                                  callback_data=callbacks.encode(WITHDRAW, offer.number))
    await update.effective_message.reply_text(
        t("You can withdraw {amount} now, to {account}.", amount=amount, account=payee),
        reply_markup=InlineKeyboardMarkup([[button]]))


@answers_errors
async def withdraw_pressed(update: Update, context: ShopContext) -> None:
    """Withdraw (once per number) and say how it went."""
    t, owner, services, number = context.t, update.effective_user.id, context.services, _one_id(update)
    merchant = await services.run(lambda s: merchants.approved_merchant_of(s, owner))
    payout, state = await settlement_runs.withdraw(
        services.db, services.gateway, merchant_id=merchant.id, number=number, rules=services.rules,
        now=services.clock.now())
    amount = t.money(payout.amount_fen)
    text = {PayoutState.SUCCEEDED: t("Withdrawal of {amount} sent.", amount=amount),
            PayoutState.FAILED: t("The withdrawal of {amount} failed: please check your payout account.",
                                  amount=amount)}.get(
        state, t("Withdrawal of {amount} is on its way; you will be told when it arrives.", amount=amount))
    await update.callback_query.answer()
    await update.callback_query.edit_message_text(text)


def register(application: Application) -> None:
    """Add /payouts, /withdraw and their buttons."""
    application.add_handler(CommandHandler("payouts", payouts_command))
    application.add_handler(CommandHandler("withdraw", withdraw_command))
    application.add_handler(CallbackQueryHandler(payout_orders, pattern=callbacks.pattern(PAYOUT_ORDERS)))
    application.add_handler(CallbackQueryHandler(payouts_csv, pattern=callbacks.pattern(PAYOUTS_CSV)))
    application.add_handler(CallbackQueryHandler(withdraw_pressed, pattern=callbacks.pattern(WITHDRAW)))
