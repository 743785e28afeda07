"""A merchant's account: /plan, /balance and /stats (admins: /stats for the platform).

Balances come from the ledger, figures from ``stats``; nothing is computed
here but the date of the next settlement run, from the settings' time of day
in the business time zone.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot import callbacks
from bot.clock import BUSINESS_TZ, business_date
from bot.commerce import cycles, ledger, merchants, payees, payments, stats
from bot.commerce.errors import DepositRequired, Forbidden
from bot.commerce.settlement import timeline
from bot.context import ShopContext
from bot.handlers import payee
from bot.handlers.errors import answers_errors, describe
from bot.handlers.merchant import as_merchant, button, button_id, my_merchant, say
from bot.i18n import Translator
from bot.payments.trade_links import trade_pay_url
from bot.store.enums import MerchantStatus, SettlementPlan
from bot.store.models import Merchant, Payment

SET_PLAN = callbacks.action("plan_set")
PAY_DEPOSIT = callbacks.action("deposit_pay")
PLANS = {1: SettlementPlan.T15, 2: SettlementPlan.T0}
PLAN_NAMES = {SettlementPlan.T15: "T+15", SettlementPlan.T0: "T+0"}
PERIODS = (7, 30)


def next_settlement(now: dt.datetime, time_of_day: str) -> dt.datetime:
    """The next settlement run after ``now``: ``time_of_day`` (HH:MM) in the business time zone."""
    hour, minute = (int(part) for part in time_of_day.split(":"))
    local = now.astimezone(BUSINESS_TZ)
    run = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if run <= local:
        run = (run + dt.timedelta(days=1)).replace(hour=hour, minute=minute)
    return run


def _plan_text(merchant: Merchant, t: Translator, deposit_fen: int) -> str:
    text = t("Settlement plan: {plan}.", plan=PLAN_NAMES[merchant.plan])
    if merchant.next_plan:
        text += "\n" + t("From the next cycle: {plan}.", plan=PLAN_NAMES[merchant.next_plan])
    return text + "\n" + t("T+15: an order is paid out at the 02:00 cycle 15 days after the day it was paid; "
                           "no deposit. T+0: orders paid before 02:00 are paid out at that day's 02:00 "
                           "cycle, later ones at the next day's; needs a deposit of {deposit}. The platform "
                           "fee is worked out per order and rounded half up to the fen.",
                           deposit=t.money(deposit_fen)) + "\n" + t(
        "A refund after payout is taken from your balance, then from the deposit; what is still missing "
        "is deducted from your next payouts. Only a top-up refills the deposit: while it is below "
        "{deposit}, T+0 is paused and sales settle on T+15.", deposit=t.money(deposit_fen))


@answers_errors
async def plan(update: Update, context: ShopContext) -> None:
    """/plan: the current and next plan, with a button to switch."""
    merchant = await as_merchant(update, context, lambda _s, m: _echo(m))
    t = context.t
    text = _plan_text(merchant, t, context.services.rules.t0_deposit_fen)
    target = merchant.next_plan or merchant.plan
    other = SettlementPlan.T0 if target == SettlementPlan.T15 else SettlementPlan.T15
    key = next(k for k, v in PLANS.items() if v == other)
    keyboard = InlineKeyboardMarkup([[button(t("Switch to {plan}", plan=PLAN_NAMES[other]), SET_PLAN, key)]])
    await say(update, text, reply_markup=keyboard)


async def _echo(value: Merchant) -> Merchant:
    return value


async def set_plan(update: Update, context: ShopContext) -> None:
    """Switch plan from the next cycle; T+0 without the full deposit says what is missing."""
    choice = PLANS.get(button_id(update))
    if choice is None:
        await update.callback_query.answer(context.t("This button is no longer valid."))
        return
    rules, t = context.services.rules, context.t
    try:
        merchant = await as_merchant(update, context, lambda s, m: merchants.choose_plan(
            s, merchant=m, plan=choice, rules=rules, now=context.services.clock.now()))
    except DepositRequired as refusal:
        await update.callback_query.answer()
        await say(update, describe(refusal, t), reply_markup=deposit_markup(context, refusal))
        return
    await update.callback_query.answer()
    await say(update, t("From the next cycle you are on {plan}.",
                        plan=PLAN_NAMES[merchant.next_plan or merchant.plan]))


def deposit_markup(context: ShopContext, refusal: DepositRequired) -> InlineKeyboardMarkup | None:
    """The hook for paying the deposit: a button only when a payment gateway is configured."""
    if context.services.gateway is None:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(
        context.t("Pay the deposit"), callback_data=callbacks.encode(PAY_DEPOSIT))]])


@answers_errors
async def pay_deposit(update: Update, context: ShopContext) -> None:
    """Open a deposit trade for what is missing and give its checkout link."""
    services, t = context.services, context.t
    await my_merchant(update, context)
    if services.gateway is None:
        await update.callback_query.answer(t("Payments are not available right now."))
        return
    now, required = services.clock.now(), services.rules.t0_deposit_fen

    async def work(session: AsyncSession, merchant: Merchant) -> Payment | None:
        held = await ledger.balance(session, ledger.merchant_account(merchant.id, "deposit"))
        if held >= required:
            return None
        # One trade per business day and amount held: a second tap reuses it, a top-up opens a new one.
        key = f"{business_date(now):%Y%m%d}-{held}"
        return await payments.deposit_payment(session, merchant_id=merchant.id, amount_fen=required - held,
                                              key=key, now=now)

    payment = await as_merchant(update, context, work)
    await update.callback_query.answer()
    if payment is None:
        await say(update, t("Your deposit is complete."))
        return
    url = trade_pay_url(services.settings, payment.out_trade_no)
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton(
        t("Pay {amount}", amount=t.money(payment.amount_fen)), url=url)]])
    await say(update, t("Pay the deposit of {amount} at the payment provider:",
                        amount=t.money(payment.amount_fen)), reply_markup=keyboard)


@answers_errors
async def balance(update: Update, context: ShopContext) -> None:
    """/balance: pending, available, deposit, and when the next payout runs."""
    services = context.services
    t, settings, now = context.t, services.settings, services.clock.now()
    at = cycles.parse_time_of_day(settings.settlement_time)

    async def work(session: AsyncSession, merchant: Merchant):  # type: ignore[no-untyped-def]
        return merchant, await ledger.merchant_balances(session, merchant.id), \
            await timeline.unsettled_timeline(session, merchant_id=merchant.id, rules=services.rules, at=at,
                                              now=now)

    merchant, funds, expected = await as_merchant(update, context, work)
    when = next_settlement(now, settings.settlement_time)
    lines = [
        t("Pending (not yet settled): {amount}", amount=t.money(funds["pending"])),
        t("Available for payout: {amount}", amount=t.money(funds["available"])),
        t("Deposit: {amount}", amount=t.money(funds["deposit"])),
        t("Next settlement run: {when} (Beijing time), plan {plan}.",
          when=when.strftime("%Y-%m-%d %H:%M"), plan=PLAN_NAMES[merchant.plan]),
    ]
    if merchant.plan == SettlementPlan.T15:
        days = settings.settlement_days_t15
        lines.append(t.plural("On T+15 an order is paid out {days} day after payment.",
                              "On T+15 an order is paid out {days} days after payment.", days, days=days))
    else:
        lines.append(t("On T+0 paid orders are paid out at the next run."))
    lines += _payee_lines(merchant, t, now)
    if expected:
        lines += ["", t("When your unsettled orders become available (Beijing time):"),
                  *(_expected_line(t, e) for e in expected)]
    await say(update, "\n".join(lines))


def _payee_lines(merchant: Merchant, t: Translator, now: dt.datetime) -> list[str]:
    """Where payouts go, and why none goes out for now (no account, or a change holds them)."""
    lines = [t("Payouts go to: {account} (/payee)",
               account=payee.shown(merchant.payout_account, merchant.payout_name, t))]
    until = payees.held_until(merchant, now)
    if not payees.has_payee(merchant):
        lines.append(t("⏸ No payouts until you set your payout account: the money stays in your balance."))
    elif until is not None:
        lines.append(t("⏸ Payouts are paused until {until} (Beijing time) after a change of payout account: "
                       "money available before then goes out at the first run after it.",
                       until=payee.when(until)))
    return lines


def _expected_line(t: Translator, e: timeline.Expected) -> str:
    """One order of the timeline: its net, when it becomes available, and why."""
    paid = e.paid_at.astimezone(BUSINESS_TZ).strftime("%m-%d %H:%M")
    if e.available_at is None:
        return t("#{id} {amount}: held until its refund request is decided", id=e.order_id,
                 amount=t.money(e.net_fen))
    why = {"t15": t("T+15, paid {paid}", paid=paid), "t0": t("T+0, paid {paid}", paid=paid),
           "t0_paused": t("T+0 paused (deposit short): as T+15, paid {paid}", paid=paid)}[e.reason]
    return t("#{id} {amount}: {when} cycle ({why})", id=e.order_id, amount=t.money(e.net_fen),
             when=e.available_at.astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M"), why=why)


def _figures(title: str, periods: dict[int, dict[str, int]], t: Translator) -> str:
    lines = [title]
    for days, figures in periods.items():
        opens, taps, orders = figures["opens"], figures["buy_taps"], figures["orders"]
        lines.append(t("Last {days} days: {opens}, {taps}, {orders}, {paid} paid, revenue {revenue}.",
                       days=days, paid=figures["paid_orders"], revenue=t.money(figures["revenue_fen"]),
                       opens=t.plural("{count} card open", "{count} card opens", opens, count=opens),
                       taps=t.plural("{count} Buy tap", "{count} Buy taps", taps, count=taps),
                       orders=t.plural("{count} order", "{count} orders", orders, count=orders)))
    return "\n".join(lines)


async def _stats(
    session: AsyncSession, merchant_id: int | None, now: dt.datetime
) -> dict[int, dict[str, int]]:
    return {days: await stats.merchant_stats(session, merchant_id=merchant_id,
                                             since=now - dt.timedelta(days=days))
            for days in PERIODS}


@answers_errors
async def show_stats(update: Update, context: ShopContext) -> None:
    """/stats: the shop's figures for its merchant, the platform's for admins."""
    services, t, user_id = context.services, context.t, update.effective_user.id
    now = services.clock.now()
    merchant = await services.run(lambda s: merchants.merchant_of(s, user_id))
    parts = []
    if merchant is not None and merchant.status == MerchantStatus.APPROVED:
        figures = await services.run(lambda s: _stats(s, merchant.id, now))
        parts.append(_figures(t("Your shop {name}:", name=merchant.name), figures, t))
    if services.is_admin(user_id):
        figures = await services.run(lambda s: _stats(s, None, now))
        parts.append(_figures(t("The whole platform:"), figures, t))
    if not parts:
        raise Forbidden(role="merchant", status=merchant.status if merchant else None)
    await say(update, "\n\n".join(parts))


def register(application: Application) -> None:
    """Add /plan, /balance, /stats and the plan buttons."""
    application.add_handler(CommandHandler("plan", plan))
    application.add_handler(CommandHandler("balance", balance))
    application.add_handler(CommandHandler("stats", show_stats))
    application.add_handler(CallbackQueryHandler(pay_deposit, pattern=callbacks.pattern(PAY_DEPOSIT)))
    application.add_handler(CallbackQueryHandler(answers_errors(set_plan),
                                                 pattern=callbacks.pattern(SET_PLAN)))
