"""/addresses and the delivery step of an order: a buyer's address book in the chat.

/addresses lists the entries with Edit and Delete, and Add. An unpaid order
of goods that ship shows **Choose a delivery address** instead of Pay: the
buyer picks an entry (or types a new one, which is saved and used), and the
message turns into the order with its Pay buttons. A new or edited entry is
one message of three lines (name, phone, address), checked by
``commerce.addresses``; a wrong one gets the reason and the same question.
Addresses are personal: this all happens in the buyer's private chat.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html

from telegram import InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot import callbacks, cards
from bot.commerce import addresses, shopping
from bot.commerce.errors import IllegalTransition, InvalidInput
from bot.context import ShopContext
from bot.handlers import awaiting
from bot.handlers.buyer_orders import close_expired, expired_answer, keep_up_to_date, order_message
from bot.handlers.errors import answers_errors, describe
from bot.store.enums import OrderState
from bot.store.models import Address

ADD = callbacks.action("addr_add")  # order id to use it for, or 0
EDIT = callbacks.action("addr_edit")  # address id
DELETE = callbacks.action("addr_del")  # address id
USE = callbacks.action("addr_use")  # order id, address id
NEW, CHANGE = "address", "address_edit"  # what the next text message is
FIELDS = {"name": "Name", "phone": "Phone", "address": "Address"}


def _entry(entry: Address, *, escape: bool = True) -> str:
    text = f"{entry.name}, {entry.phone}, {entry.address}"
    return html.escape(text) if escape else text


def book_message(book: list[Address], context: ShopContext) -> tuple[str, InlineKeyboardMarkup]:
    """The address book with a pair of buttons per entry."""
    t = context.t
    if not book:
        text = t("You have no delivery addresses yet.")
    else:
        text = "\n".join([t("Your delivery addresses:")]
                         + [f"{n}. {_entry(e)}" for n, e in enumerate(book, 1)])
    rows = [[cards.button("✏️ " + t("Edit {n}", n=n), EDIT, e.id),
             cards.button("🗑 " + t("Delete {n}", n=n), DELETE, e.id)] for n, e in enumerate(book, 1)]
    if len(book) < addresses.MAX_ENTRIES:
        rows.append([cards.button("➕ " + t("Add an address"), ADD, 0)])
    return text, InlineKeyboardMarkup(rows)


async def _edit_or_send(update: Update, context: ShopContext, text: str,
                        markup: InlineKeyboardMarkup) -> int:
    """Redraw the pressed message in place; send a new one if it is too old to edit. The message's id."""
    query = update.callback_query
    if query is not None and query.message is not None:
        with contextlib.suppress(BadRequest):
            await query.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)
            return query.message.message_id
    sent = await context.bot.send_message(update.effective_user.id, text, parse_mode=ParseMode.HTML,
                                          reply_markup=markup)
    return sent.message_id


async def _ask(update: Update, context: ShopContext, kind: str, arg: int, prompt: str) -> None:
    awaiting.wait_for(context.user_data, kind, arg)
    example = context.t("Send it in one message of three lines, for example:\n"
                        "Li Lei\n13800138000\nRoom 301, 8 Jianguo Road, Chaoyang, Beijing")
    await context.bot.send_message(update.effective_user.id, prompt + "\n\n" + example)


async def addresses_command(update: Update, context: ShopContext) -> None:
    """/addresses: the book, with Edit, Delete and Add."""
    book = await context.services.run(lambda s: addresses.address_book(s, user_id=update.effective_user.id))
    text, markup = book_message(book, context)
    await update.effective_message.reply_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)


def _args(update: Update, count: int) -> tuple[int, ...] | None:
    decoded = callbacks.decode(update.callback_query.data)
    return decoded.args if decoded and len(decoded.args) == count else None


async def _stale(update: Update, context: ShopContext) -> None:
    await update.callback_query.answer(context.t("This button is no longer valid."))


async def _check_order(session, order_id: int, user_id: int, now: dt.datetime) -> shopping.OrderView:
    """The user's own unpaid order of goods that ship, or the refusal that says why not.

    An order read past its time to pay is expired by this read and returned as it now is
    (``just_expired``): the caller answers that, as a refusal would roll the expiry back.
    """
    view = await shopping.order_view(session, order_id=order_id, user_id=user_id, now=now)
    if view.just_expired:
        return view
    if view.order.state != OrderState.AWAITING_PAYMENT or not view.order.ships:
        raise IllegalTransition(state=view.order.state)
    return view


async def _expired(update: Update, context: ShopContext, view: shopping.OrderView) -> None:
    """The order ran out of time to pay as it was pressed: say so, show it expired, close its trade."""
    await close_expired(context.services, [view])
    await update.callback_query.answer(expired_answer(view, context.t))
    await _edit_or_send(update, context, *order_message(view, context))


@answers_errors
async def choose_for_order(update: Update, context: ShopContext) -> None:
    """Choose a delivery address: the book's entries as buttons, or straight to a new one."""
    if (args := _args(update, 1)) is None:
        return await _stale(update, context)
    order_id, user_id, t = args[0], update.effective_user.id, context.t
    now = context.services.clock.now()

    async def work(session):
        view = await _check_order(session, order_id, user_id, now)
        return view, None if view.just_expired else await addresses.address_book(session, user_id=user_id)

    view, book = await context.services.run(work)
    if view.just_expired:
        return await _expired(update, context, view)
    await update.callback_query.answer()
    if not book:
        return await _ask(update, context, NEW, order_id,
                          t("Where should order #{id} go? Send the name, phone and address.", id=order_id))
    rows = [[cards.button(f"{e.name[:20]} · {e.address[:30]}", USE, order_id, e.id)] for e in book]
    if len(book) < addresses.MAX_ENTRIES:
        rows.append([cards.button("➕ " + t("A new address"), ADD, order_id)])
    await context.bot.send_message(user_id, t("Where should order #{id} go?", id=order_id),
                                   reply_markup=InlineKeyboardMarkup(rows))


@answers_errors
async def use_for_order(update: Update, context: ShopContext) -> None:
    """An entry pressed for an order: copy it onto the order, and show the order with Pay."""
    if (args := _args(update, 2)) is None:
        return await _stale(update, context)
    (order_id, address_id), user_id = args, update.effective_user.id
    now = context.services.clock.now()

    async def work(session):
        view = await shopping.order_view(session, order_id=order_id, user_id=user_id, now=now)
        if view.just_expired:
            return view
        await addresses.deliver_to(session, order_id=order_id, buyer_id=user_id, address_id=address_id)
        return await shopping.order_view(session, order_id=order_id, user_id=user_id)

    view = await context.services.run(work)
    if view.just_expired:
        return await _expired(update, context, view)
    await update.callback_query.answer(context.t("Delivery address set."))
    shown = await _edit_or_send(update, context, *order_message(view, context))
    await keep_up_to_date(context.services, chat_id=user_id, message_id=shown, drawn=view.order)


@answers_errors
async def add(update: Update, context: ShopContext) -> None:
    """Add: the next message is the new entry (used for the order the button names, if any)."""
    if (args := _args(update, 1)) is None:
        return await _stale(update, context)
    order_id, now = args[0], context.services.clock.now()
    if order_id:
        view = await context.services.run(lambda s: _check_order(s, order_id, update.effective_user.id, now))
        if view.just_expired:
            return await _expired(update, context, view)
    await update.callback_query.answer()
    prompt = (context.t("Where should order #{id} go? Send the name, phone and address.", id=order_id)
              if order_id else context.t("A new delivery address: send the name, phone and address."))
    await _ask(update, context, NEW, order_id, prompt)


@answers_errors
async def edit(update: Update, context: ShopContext) -> None:
    """Edit: check the entry is the user's, then the next message replaces it."""
    if (args := _args(update, 1)) is None:
        return await _stale(update, context)
    entry = await context.services.run(lambda s: addresses.get_address(
        s, user_id=update.effective_user.id, address_id=args[0]))
    await update.callback_query.answer()
    await _ask(update, context, CHANGE, entry.id,
               context.t("Replace this address: {entry}", entry=_entry(entry, escape=False)))


@answers_errors
async def remove(update: Update, context: ShopContext) -> None:
    """Delete: the entry goes, and so does its copy on the user's orders that have ended."""
    if (args := _args(update, 1)) is None:
        return await _stale(update, context)
    user_id, now = update.effective_user.id, context.services.clock.now()

    async def work(session):
        await addresses.delete_address(session, user_id=user_id, address_id=args[0], now=now)
        return await addresses.address_book(session, user_id=user_id)

    book = await context.services.run(work)
    await update.callback_query.answer(context.t("Address deleted."))
    await _edit_or_send(update, context, *book_message(book, context))


async def receive(update: Update, context: ShopContext) -> None:
    """The three lines we asked for: save (and use) the entry, or say what is wrong and keep waiting."""
    kind, arg = awaiting.waiting(context.user_data)
    user_id, now, t = update.effective_user.id, context.services.clock.now(), context.t
    try:
        draft = addresses.parse(update.effective_message.text)
    except InvalidInput as error:
        label = FIELDS.get(error.field)
        reason = describe(error, t)
        await update.effective_message.reply_text(
            t("{field}: {reason}", field=t(label), reason=reason) if label and error.rule != "three_lines"
            else reason)
        return

    async def work(session):
        if kind == CHANGE:
            await addresses.edit_address(session, user_id=user_id, address_id=arg, draft=draft, now=now)
            return None, await addresses.address_book(session, user_id=user_id)
        entry = await addresses.add_address(session, user_id=user_id, draft=draft, now=now)
        if not arg:
            return None, await addresses.address_book(session, user_id=user_id)
        await addresses.deliver_to(session, order_id=arg, buyer_id=user_id, address_id=entry.id)
        return await shopping.order_view(session, order_id=arg, user_id=user_id), None

    view, book = await context.services.run(work)
    awaiting.done(context.user_data)
    if view is not None:
        await update.effective_message.reply_text(t("Saved, and set as the delivery address."))
        text, markup = order_message(view, context)
        sent = await update.effective_message.reply_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)
        await keep_up_to_date(context.services, chat_id=user_id, message_id=sent.message_id, drawn=view.order)
        return
    await update.effective_message.reply_text(t("Address saved."))
    text, markup = book_message(book, context)
    await update.effective_message.reply_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)


def register(application: Application) -> None:
    """/addresses, the address buttons, the order's delivery step and the typed entries."""
    application.add_handler(CommandHandler("addresses", addresses_command, filters.ChatType.PRIVATE))
    application.add_handler(CallbackQueryHandler(choose_for_order,
                                                 pattern=callbacks.pattern(cards.ORDER_ADDRESS)))
    application.add_handler(CallbackQueryHandler(use_for_order, pattern=callbacks.pattern(USE)))
    application.add_handler(CallbackQueryHandler(add, pattern=callbacks.pattern(ADD)))
    application.add_handler(CallbackQueryHandler(edit, pattern=callbacks.pattern(EDIT)))
    application.add_handler(CallbackQueryHandler(remove, pattern=callbacks.pattern(DELETE)))
    application.add_handler(MessageHandler(awaiting.AwaitingInput(application, {NEW, CHANGE}),
                                           answers_errors(receive)))
