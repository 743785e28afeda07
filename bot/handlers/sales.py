"""/sales: a merchant's orders, filtered by state, with Ship and refund decisions.

(/orders is the buyer's list; a merchant buys too.) Ship asks for a tracking
note, a refund is approved at once or rejected with a reason. The commerce
core checks on every press that the order is this merchant's and in a state
that allows the action; the payment client sends approved refunds on.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot import callbacks, delivery, states
from bot.commerce import addresses, orders, refunds, sales
from bot.commerce.addresses import Delivery
from bot.commerce.errors import Forbidden, IllegalTransition
from bot.commerce.lines import Line, lines_by_order, summary
from bot.commerce.money import clean_text
from bot.context import ShopContext
from bot.handlers.errors import answers_errors
from bot.handlers.merchant import as_merchant, button, button_id, conversation, decoded_args, say
from bot.i18n import Translator
from bot.payments.refunding import send_refund
from bot.payments.syncing import close_trades
from bot.store.enums import OrderState, RefundState
from bot.store.models import Merchant, Order

FILTER = callbacks.action("sales_f")
SHIP = callbacks.action("ship")
REFUND_OK = callbacks.action("rf_ok")
REFUND_NO = callbacks.action("rf_no")
FILTERS = {0: None, 1: OrderState.PAID, 2: OrderState.REFUND_REQUESTED, 3: OrderState.SHIPPED,
           4: OrderState.COMPLETED}
FILTER_LABELS = {0: "All", 1: "To ship", 2: "Refund requests", 3: "Shipped", 4: "Completed"}
ANSWER = 0
ADDRESS_SHOWN = 50  # characters of an address in the list; Ship and the new-order message show all


def order_line(order: Order, items: list[Line], t: Translator, where: Delivery | None = None) -> str:
    """One order in a list, in plain text, with where it goes (the address shortened to fit 15)."""
    what = f"{summary(items)} × {order.quantity}" if len(items) == 1 else summary(items)
    line = (f"#{order.id} · {what} · {t.money(order.total_fen, order.currency)} · "
            + states.state_name(states.ORDER, order.state, t))
    if where is not None and len(where.address) > ADDRESS_SHOWN:
        where = dataclasses.replace(where, address=where.address[:ADDRESS_SHOWN - 1] + "…")
    return "\n".join([line, *("   " + text for text in delivery.address_lines(where, t, html=False))])


async def _listing(session: AsyncSession, merchant: Merchant, state: str | None, now: dt.datetime) -> tuple:
    found = await orders.merchant_orders(session, merchant_id=merchant.id, state=state, limit=15)
    expired = await orders.expire_if_due(session, found, now=now)  # past their time to pay: shown expired
    titles = await lines_by_order(session, found)
    open_refunds = await sales.open_refunds(session, order_ids=[o.id for o in found])
    return found, titles, open_refunds, expired


@answers_errors
async def list_sales(update: Update, context: ShopContext) -> None:
    """/sales, or a filter button: the orders and the buttons to act on them."""
    key = next(iter(decoded_args(update)), 0) if update.callback_query else 0
    if key not in FILTERS:
        raise Forbidden(role="filter")
    state = FILTERS[key]
    now, rules = context.services.clock.now(), context.services.rules
    found, titles, open_refunds, expired = await as_merchant(
        update, context, lambda s, m: _listing(s, m, state, now))
    for order_id in expired:  # as the expiry job would: the trade closed right after
        await close_trades(context.services, order_id=order_id)
    t = context.t
    lines = [t("Your sales ({filter}):", filter=t(FILTER_LABELS[key]))]
    lines += [order_line(o, titles[o.id], t,
                         addresses.for_merchant(o, now=now, rules=rules))
              for o in found] or [t("No orders here.")]
    rows = [[button(t(label), FILTER, k) for k, label in FILTER_LABELS.items() if k != key]]
    for order in found:
        if order.state == OrderState.PAID:
            rows.append([button(t("Ship #{id}", id=order.id), SHIP, order.id)])
        if refund := open_refunds.get(order.id):
            rows.append([button(t("Refund #{id}: approve", id=order.id), REFUND_OK, refund.id),
                         button(t("Refund #{id}: reject", id=order.id), REFUND_NO, refund.id)])
    if update.callback_query:
        await update.callback_query.answer()
    await say(update, "\n".join(lines), reply_markup=InlineKeyboardMarkup(rows))


async def _owned_order(session: AsyncSession, merchant: Merchant, order_id: int) -> Order:
    order = await orders.get_order(session, order_id)
    if order.merchant_id != merchant.id:
        raise Forbidden(role="owner")
    return order


@answers_errors
async def ask_tracking(update: Update, context: ShopContext) -> int:
    """Ship: check the order now, then ask for the tracking note."""
    order_id = button_id(update)
    order = await as_merchant(update, context, lambda s, m: _owned_order(s, m, order_id))
    if order.state != OrderState.PAID:
        raise IllegalTransition(state=order.state, what="order", id=order.id)
    context.user_data["ask"] = (SHIP, order.id)
    await update.callback_query.answer()
    where = addresses.for_merchant(order, now=context.services.clock.now(), rules=context.services.rules)
    await say(update, "\n".join([*delivery.address_lines(where, context.t, html=False), context.t(
        "Tracking note for order #{id} (carrier and number)? (/cancel to stop)", id=order.id)]))
    return ANSWER


@answers_errors
async def ask_refund_reason(update: Update, context: ShopContext) -> int:
    """Reject a refund: check it is ours and still undecided, then ask why."""
    refund_id = button_id(update)

    async def check(session: AsyncSession, merchant: Merchant) -> int:
        refund = await refunds.get_refund(session, refund_id)
        order_id = (await _owned_order(session, merchant, refund.order_id)).id
        if refund.state != RefundState.REQUESTED:  # a leftover button: say how it was decided, not ask why
            raise IllegalTransition(state=refund.state, what="refund", id=order_id)
        return order_id

    order_id = await as_merchant(update, context, check)
    context.user_data["ask"] = (REFUND_NO, refund_id)
    await update.callback_query.answer()
    await say(update, context.t("Why do you reject the refund for order #{id}? The buyer will read it. "
                                "(/cancel to stop)", id=order_id))
    return ANSWER


@answers_errors
async def got_answer(update: Update, context: ShopContext) -> int:
    """The tracking note or the rejection reason: act on it."""
    action, target = context.user_data["ask"]
    field = "tracking" if action == SHIP else "reason"
    text, now = clean_text(update.message.text, field=field, max_chars=300), context.services.clock.now()
    if action == SHIP:
        await as_merchant(update, context, lambda s, m: orders.ship_order(
            s, order_id=target, merchant_id=m.id, tracking=text, now=now))
        done = context.t("Order #{id} is shipped; the buyer is told.", id=target)
    else:
        refund = await as_merchant(update, context, lambda s, m: refunds.reject_refund(
            s, refund_id=target, merchant_id=m.id, reason=text, now=now))
        done = context.t("Refund for order #{id} rejected; the buyer is told why.", id=refund.order_id)
    context.user_data.pop("ask", None)
    await say(update, done)
    return ConversationHandler.END


@answers_errors
async def approve_refund(update: Update, context: ShopContext) -> None:
    """Approve a refund; the payment client sends it to the gateway."""
    refund_id, now = button_id(update), context.services.clock.now()
    refund = await as_merchant(update, context, lambda s, m: refunds.approve_refund(
        s, refund_id=refund_id, merchant_id=m.id, now=now))
    await update.callback_query.answer()
    await say(update, context.t("Refund of {amount} for order #{id} approved. The money goes back to the "
                                "buyer through the payment provider.",
                                amount=context.t.money(refund.amount_fen), id=refund.order_id))
    # Sent now rather than on the scheduler's next retry pass; a gateway outage leaves it to that pass.
    await send_refund(context.services, refund.out_request_no)


def register(application: Application) -> None:
    """Add /sales and its buttons."""
    application.add_handler(CommandHandler("sales", list_sales))
    application.add_handler(CallbackQueryHandler(list_sales, pattern=callbacks.pattern(FILTER)))
    application.add_handler(CallbackQueryHandler(approve_refund, pattern=callbacks.pattern(REFUND_OK)))
    application.add_handler(conversation(
        "sales_answer",
        entry_points=[CallbackQueryHandler(ask_tracking, pattern=callbacks.pattern(SHIP)),
                      CallbackQueryHandler(ask_refund_reason, pattern=callbacks.pattern(REFUND_NO))],
        states={ANSWER: [MessageHandler(filters.TEXT & ~filters.COMMAND, got_answer)]},
    ))
