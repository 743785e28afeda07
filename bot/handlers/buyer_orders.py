"""A buyer's orders: /orders, and what each order allows in its state.

Pay (the bot's signed /pay link), cancel, confirm receipt, ask for a refund
(the reason is the user's next message) and write to the seller. The seller
answers with the **Reply** button on the relayed message; both sides see the
order it is about. Relayed messages go through the outbox (kinds
``relay_to_seller`` and ``relay_to_buyer``), so the dispatcher's pacing, 429
and blocked-user handling apply to them too. Every action checks on the
server that the order belongs to the user who pressed.
"""

from __future__ import annotations

import contextlib
import html

from telegram import CallbackQuery, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot import callbacks, cards
from bot.commerce import orders, refunds, relay, shopping
from bot.commerce.errors import IllegalTransition
from bot.commerce.orders import REFUNDABLE_STATES
from bot.context import ShopContext
from bot.handlers import awaiting
from bot.handlers.errors import answers_errors, describe
from bot.i18n import Translator
from bot.payments.links import pay_url
from bot.payments.syncing import close_trades
from bot.services import Services
from bot.store.models import Order

INPUT_KINDS = {"refund", "write", "answer"}
REFUND_LINE = callbacks.action("ord_rf_line")  # order id, line id (0: everything left)
REFUND_OF_LINE = "refund_of_line"  # user_data: the cart line the awaited refund reason is for


def order_message(view: shopping.OrderView, context: ShopContext) -> tuple[str, InlineKeyboardMarkup]:
    """The order's text and the buyer's buttons."""
    t, services = context.t, context.services
    text = cards.order_text(view.order, view.title, view.shop_name, t, now=services.clock.now(),
                            items=view.lines)
    return text, cards.order_buttons(view.order, t, pay_url=pay_url(services.settings, view.order.id))


async def show_order(update: Update, context: ShopContext, order_id: int) -> None:
    """Send the buyer one of their orders with its buttons (``/start o_<id>`` too), kept up to date.

    An unpaid order opened past its time to pay is expired by reading it (the scheduler may be down).
    """
    user_id, services = update.effective_user.id, context.services
    now = services.clock.now()
    view = await services.run(lambda s: shopping.order_view(s, order_id=order_id, user_id=user_id, now=now))
    await close_expired(services, [view])
    text, keyboard = order_message(view, context)
    sent = await context.bot.send_message(user_id, text, parse_mode=ParseMode.HTML, reply_markup=keyboard)
    await keep_up_to_date(services, chat_id=user_id, message_id=sent.message_id, drawn=view.order)


async def keep_up_to_date(services: Services, *, chat_id: int, message_id: int,
                          drawn: Order) -> None:
    """A message a handler drew the order in (as ``drawn``): redrawn like the order's confirmation when the
    order changes, and at once if it changed while the message was on its way (``shopping.order_shown``)."""
    await services.run(lambda s: shopping.order_shown(s, chat_id=chat_id, message_id=message_id, drawn=drawn,
                                                      now=services.clock.now()))


async def orders_command(update: Update, context: ShopContext) -> None:
    """List the buyer's latest orders; each button opens one."""
    t, services = context.t, context.services
    now = services.clock.now()
    views = await services.run(
        lambda s: shopping.buyer_order_views(s, buyer_id=update.effective_user.id, now=now))
    await close_expired(services, views)
    if not views:
        await update.effective_message.reply_text(t("You have no orders yet."))
        return
    lines = [t("Your orders:")]
    rows = []
    for view in views:
        order = view.order
        lines.append(f"#{order.id} · {html.escape(view.title)} · {t.money(order.total_fen, order.currency)}"
                     f" · {cards.state_label(order.state, t)}")
        rows.append([cards.button(f"#{order.id} · {view.title[:40]}", cards.ORDER_VIEW, order.id)])
    await update.effective_message.reply_text("\n".join(lines), parse_mode=ParseMode.HTML,
                                              reply_markup=InlineKeyboardMarkup(rows))


def _order_id(update: Update) -> int | None:
    decoded = callbacks.decode(update.callback_query.data)
    return decoded.arg(0) if decoded and len(decoded.args) == 1 else None


async def close_expired(services: Services, views: list[shopping.OrderView]) -> None:
    """Close at the gateway the trades of orders a read just expired, as the expiry job would."""
    for view in views:
        if view.just_expired:
            await close_trades(services, order_id=view.order.id)


def expired_answer(view: shopping.OrderView, t: Translator) -> str:
    """What a press on an order that ran out of time to pay answers: it expired, nothing else done."""
    return describe(IllegalTransition(state=view.order.state, what="order", id=view.order.id), t)


async def _stale(update: Update, context: ShopContext) -> None:
    await update.callback_query.answer(context.t("This button is no longer valid."))


@answers_errors
async def view_order(update: Update, context: ShopContext) -> None:
    """The Order button of /orders: show it with its actions."""
    if (order_id := _order_id(update)) is None:
        return await _stale(update, context)
    await show_order(update, context, order_id)
    await update.callback_query.answer()


async def _edit(query: CallbackQuery, text: str, keyboard: InlineKeyboardMarkup) -> None:
    # "message is not modified", or too old to edit: the callback answer already told the user.
    with contextlib.suppress(BadRequest):
        await query.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=keyboard)


async def _change(update: Update, context: ShopContext, command, done_text: str) -> None:
    """Run ``command`` on the pressed order, answer, and redraw the order."""
    if (order_id := _order_id(update)) is None:
        return await _stale(update, context)
    user_id, now = update.effective_user.id, context.services.clock.now()

    async def work(session):
        view = await shopping.order_view(session, order_id=order_id, user_id=user_id, now=now)
        if view.just_expired:  # past its time to pay: expired by this press, which does nothing more
            return view
        await command(session, order_id=order_id, buyer_id=user_id, now=now)
        return await shopping.order_view(session, order_id=order_id, user_id=user_id)

    view = await context.services.run(work)
    await close_expired(context.services, [view])
    await update.callback_query.answer(expired_answer(view, context.t) if view.just_expired else done_text)
    await _edit(update.callback_query, *order_message(view, context))


@answers_errors
async def cancel(update: Update, context: ShopContext) -> None:
    """Cancel an unpaid order; its units go back on sale and its checkout can no longer be paid."""
    await _change(update, context, orders.cancel_order, context.t("Order cancelled."))
    if (order_id := _order_id(update)) is not None:
        await close_trades(context.services, order_id=order_id)


@answers_errors
async def confirm(update: Update, context: ShopContext) -> None:
    """Confirm a shipped order arrived."""
    await _change(update, context, orders.confirm_receipt, context.t("Thank you! The order is complete."))


@answers_errors
async def ask_refund(update: Update, context: ShopContext) -> None:
    """Ask for the reason; the next message requests the refund.

    An order checked out from a cart with more than one line still to refund asks first which:
    one line (its goods), or everything left (``REFUND_LINE``, line 0).
    """
    decoded = callbacks.decode(update.callback_query.data)
    if decoded is None or not 1 <= len(decoded.args) <= 2:
        return await _stale(update, context)
    order_id, line_id = decoded.args[0], decoded.arg(1)
    now, t = context.services.clock.now(), context.t
    view = await context.services.run(
        lambda s: shopping.order_view(s, order_id=order_id, user_id=update.effective_user.id, now=now))
    await close_expired(context.services, [view])  # an unpaid one past its time: expired, and said so
    if view.order.state not in REFUNDABLE_STATES:
        raise IllegalTransition(state=view.order.state, what="order", id=order_id)
    left = [line for line in view.lines if line.id is not None and not line.refunded]
    await update.callback_query.answer()
    if line_id is None and len(left) > 1:
        order, rest = view.order, view.order.total_fen - view.order.refunded_fen
        money = order.currency
        rows = [[cards.button(f"↩️ {line.name} × {line.quantity} · {t.money(line.goods_fen, money)}",
                              REFUND_LINE, order_id, line.id)] for line in left]
        rows.append([cards.button("↩️ " + t("Everything left · {amount}", amount=t.money(rest, money)),
                                  REFUND_LINE, order_id, 0)])
        await context.bot.send_message(update.effective_user.id,
                                       t("What do you want refunded from order #{id}?", id=order_id),
                                       reply_markup=InlineKeyboardMarkup(rows))
        return
    line = next((line for line in left if line.id == line_id), None)
    if line_id and line is None:  # another order's line, made up, or already refunded
        return await _stale(update, context)
    awaiting.wait_for(context.user_data, "refund", order_id)
    context.user_data[REFUND_OF_LINE] = line.id if line is not None else None
    prompt = (t("Why do you want a refund of {item} from order #{id}? Send the reason in one message.",
                item=f"{line.name} × {line.quantity}", id=order_id) if line is not None
              else t("Why do you want a refund for order #{id}? Send the reason in one message.",
                     id=order_id))
    await context.bot.send_message(update.effective_user.id, prompt)


@answers_errors
async def ask_message(update: Update, context: ShopContext) -> None:
    """Write to the seller (buyer) or answer the buyer (seller): the next message is relayed."""
    decoded = callbacks.decode(update.callback_query.data)
    if (order_id := _order_id(update)) is None:
        return await _stale(update, context)
    as_merchant = decoded.action == cards.ORDER_ANSWER
    now = context.services.clock.now()
    view = await context.services.run(lambda s: shopping.order_view(
        s, order_id=order_id, user_id=update.effective_user.id, as_merchant=as_merchant, now=now))
    if view.just_expired:  # unpaid past its time to pay: expired by this press, nothing left to write about
        await close_expired(context.services, [view])
        return await update.callback_query.answer(expired_answer(view, context.t))
    awaiting.wait_for(context.user_data, "answer" if as_merchant else "write", order_id)
    t = context.t
    prompt = (t("Write your answer to the buyer of order #{id} in one message.", id=order_id) if as_merchant
              else t("Write your message to {shop} about order #{id} in one message.",
                     shop=view.shop_name, id=order_id))
    await update.callback_query.answer()
    await context.bot.send_message(update.effective_user.id, prompt)


@answers_errors
async def receive_text(update: Update, context: ShopContext) -> None:
    """The message we waited for: a refund reason, or a note to relay."""
    kind, order_id = awaiting.waiting(context.user_data)
    message, t = update.effective_message, context.t
    user_id, now = update.effective_user.id, context.services.clock.now()
    key = f"{message.chat_id}:{message.message_id}"
    if kind == "refund":
        line_id = context.user_data.get(REFUND_OF_LINE)
        await context.services.run(lambda s: refunds.request_refund(
            s, order_id=order_id, buyer_id=user_id, reason=message.text, now=now, line_id=line_id))
        reply = t("Your refund request for order #{id} was sent to the seller.", id=order_id)
    elif kind == "write":
        await context.services.run(lambda s: relay.write_to_seller(
            s, order_id=order_id, buyer_id=user_id, text=message.text, key=key, now=now))
        reply = t("Sent to the seller. Their answer will arrive here.")
    else:
        await context.services.run(lambda s: relay.reply_to_buyer(
            s, order_id=order_id, owner_id=user_id, text=message.text, key=key, now=now))
        reply = t("Sent to the buyer.")
    awaiting.done(context.user_data)
    context.user_data.pop(REFUND_OF_LINE, None)
    await message.reply_text(reply)


async def forget_awaiting(update: Update, context: ShopContext) -> None:
    """Any command ends a wait for free text, so the text after it goes where it belongs."""
    if context.user_data is not None:
        awaiting.done(context.user_data)


def register(application: Application) -> None:
    """/orders and the order buttons."""
    application.add_handler(MessageHandler(filters.COMMAND, forget_awaiting), group=-1)
    application.add_handler(CommandHandler("orders", orders_command))
    application.add_handler(CallbackQueryHandler(view_order, pattern=callbacks.pattern(cards.ORDER_VIEW)))
    application.add_handler(CallbackQueryHandler(cancel, pattern=callbacks.pattern(cards.ORDER_CANCEL)))
    application.add_handler(CallbackQueryHandler(confirm, pattern=callbacks.pattern(cards.ORDER_CONFIRM)))
    application.add_handler(CallbackQueryHandler(
        ask_refund, pattern=callbacks.pattern(cards.ORDER_REFUND, REFUND_LINE)))
    application.add_handler(CallbackQueryHandler(
        ask_message, pattern=callbacks.pattern(cards.ORDER_WRITE, cards.ORDER_ANSWER)))
    application.add_handler(MessageHandler(awaiting.AwaitingInput(application, INPUT_KINDS), receive_text))

