"""Renderers for the notices the commerce core emits (see ``bot.notices``).

Each says what happened to which order in the recipient's language, with the
buttons that make the next step one tap: Confirm receipt on a shipped order,
Write to the seller, Reply on a relayed message, Stop on a follow-up. Buttons
whose actions another module declares (Ship, refund decisions) are shown only
when that module is loaded. A notice with a next step is drawn again when its
order changes (``outbox.refresh``): then it says where the order stands and
the step's button is gone once it no longer applies.
"""

from __future__ import annotations

import html
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import callbacks, cards, delivery
from bot.commerce import addresses
from bot.commerce.lines import line_of, lines_of, summary
from bot.commerce.rules import Rules
from bot.notices import Notice, RenderContext, renderer
from bot.store.enums import OrderState, RefundState
from bot.store.models import Order, Refund


async def _order(ctx: RenderContext, params: dict[str, Any]) -> tuple[Order, str] | None:
    order = await ctx.session.get(Order, int(params.get("order_id") or 0))
    if order is None:
        return None
    return order, html.escape(summary(await lines_of(ctx.session, order)))


async def _what(ctx: RenderContext, order: Order) -> str:
    """What the merchant packs: "2 × Tea", or a cart's lines one a row."""
    found = await lines_of(ctx.session, order)
    if len(found) == 1:
        return f"{order.quantity} × {html.escape(found[0].name)}"
    return "".join(f"\n• {html.escape(line.name)} × {line.quantity}" for line in found) + "\n"


def _delivery(ctx: RenderContext, order: Order) -> list[str]:
    """The order's address as its merchant may read it now (only the merchant gets this notice)."""
    rules = Rules.from_settings(ctx.settings)
    return delivery.address_lines(addresses.for_merchant(order, now=ctx.now or order.created_at, rules=rules),
                                  ctx.t)


def _keyboard(*buttons: InlineKeyboardButton | None) -> InlineKeyboardMarkup | None:
    rows = [[b] for b in buttons if b is not None]
    return InlineKeyboardMarkup(rows) if rows else None


def _declared(name: str, label: str, *ids: int) -> InlineKeyboardButton | None:
    """A button for another module's action, or None when that module is not loaded."""
    return cards.button(label, name, *ids) if name in callbacks.ACTIONS else None


def _write(order_id: int, ctx: RenderContext) -> InlineKeyboardButton:
    return cards.button("✉️ " + ctx.t("Write to the seller"), cards.ORDER_WRITE, order_id)


def _now(order: Order, ctx: RenderContext) -> str:
    """The line that says where the order stands, under a notice whose next step is done or gone."""
    return "\n" + ctx.t("Status: {state}", state=cards.state_label(order.state, ctx.t))


@renderer("order_paid")
async def order_paid(ctx: RenderContext, params: dict[str, Any]) -> Notice | None:
    if (found := await _order(ctx, params)) is None:
        return None
    order, title = found
    t = ctx.t
    text = t("✅ Payment received for order #{id}: {title}, {amount}. The seller will ship it soon.",
             id=order.id, title=title, amount=t.money(order.total_fen, order.currency))
    return Notice(text, _keyboard(_write(order.id, ctx)))


@renderer("merchant_new_order")
async def merchant_new_order(ctx: RenderContext, params: dict[str, Any]) -> Notice | None:
    if (found := await _order(ctx, params)) is None:
        return None
    order, _ = found
    t, what = ctx.t, await _what(ctx, order)
    text = t("🛒 New paid order #{id}: {what}, {amount}. Ship it from /sales.",
             id=order.id, what=what, amount=t.money(order.total_fen, order.currency))
    where = "".join("\n" + line for line in _delivery(ctx, order))
    if order.state != OrderState.PAID:
        text = t("🛒 Order #{id}: {what}, {amount}.", id=order.id, what=what,
                 amount=t.money(order.total_fen, order.currency)) + where + _now(order, ctx)
        return Notice(text)
    text += where
    return Notice(text, _keyboard(_declared("ship", t("Ship #{id}", id=order.id), order.id)))


@renderer("order_expired")
async def order_expired(ctx: RenderContext, params: dict[str, Any]) -> Notice | None:
    if (found := await _order(ctx, params)) is None:
        return None
    order, title = found
    return Notice(ctx.t("⌛ Order #{id} ({title}) was not paid in time and has been closed.",
                        id=order.id, title=title))


@renderer("order_shipped")
async def order_shipped(ctx: RenderContext, params: dict[str, Any]) -> Notice | None:
    if (found := await _order(ctx, params)) is None:
        return None
    order, title = found
    t = ctx.t
    text = t("📦 Order #{id} ({title}) has been shipped.", id=order.id, title=title)
    if params.get("tracking"):
        text += "\n" + t("Tracking: {note}", note=html.escape(str(params["tracking"])))
    if order.state != OrderState.SHIPPED:
        return Notice(text + _now(order, ctx), _keyboard(_write(order.id, ctx)))
    confirm = cards.button("✅ " + t("Confirm receipt"), cards.ORDER_CONFIRM, order.id)
    return Notice(text, _keyboard(confirm, _write(order.id, ctx)))


@renderer("order_completed")
async def order_completed(ctx: RenderContext, params: dict[str, Any]) -> Notice | None:
    if (found := await _order(ctx, params)) is None:
        return None
    order, title = found
    return Notice(ctx.t("The buyer confirmed receiving order #{id} ({title}).", id=order.id, title=title))


@renderer("merchant_refund_requested")
async def merchant_refund_requested(ctx: RenderContext, params: dict[str, Any]) -> Notice | None:
    if (found := await _order(ctx, params)) is None:
        return None
    order, title = found
    t, refund_id = ctx.t, int(params.get("refund_id") or 0)
    text = t("↩️ Refund requested for order #{id} ({title}): {amount}.", id=order.id, title=title,
             amount=t.money(int(params.get("amount_fen") or 0), order.currency))
    refund = await ctx.session.get(Refund, refund_id)
    line = await line_of(ctx.session, order, refund.line_id) if refund and refund.line_id else None
    if line is not None:  # a refund of one line of a cart's order: which
        text += "\n" + t("For: {item}", item=html.escape(f"{line.name} × {line.quantity}"))
    text += "\n" + t("Reason: {reason}", reason=html.escape(str(params.get("reason", ""))))
    if refund is None or refund.state != RefundState.REQUESTED:  # decided: Approve/Reject no longer apply
        return Notice(text + _now(order, ctx))
    return Notice(text, _keyboard(
        _declared("rf_ok", t("Refund #{id}: approve", id=order.id), refund_id),
        _declared("rf_no", t("Refund #{id}: reject", id=order.id), refund_id)))


@renderer("refund_rejected")
async def refund_rejected(ctx: RenderContext, params: dict[str, Any]) -> Notice | None:
    if (found := await _order(ctx, params)) is None:
        return None
    order, title = found
    t = ctx.t
    text = (t("The seller declined your refund for order #{id} ({title}).", id=order.id, title=title)
            + "\n" + t("Reason: {reason}", reason=html.escape(str(params.get("reason", "")))))
    return Notice(text, _keyboard(_write(order.id, ctx)))


async def _amount_notice(ctx: RenderContext, params: dict[str, Any], template: str) -> Notice | None:
    if (found := await _order(ctx, params)) is None:
        return None
    order, title = found
    amount = ctx.t.money(int(params.get("amount_fen") or 0), order.currency)
    return Notice(template.format(id=order.id, title=title, amount=amount))


@renderer("refund_succeeded")
async def refund_succeeded(ctx: RenderContext, params: dict[str, Any]) -> Notice | None:
    return await _amount_notice(ctx, params, ctx.t("💰 {amount} was refunded for order #{id} ({title})."))


@renderer("merchant_refund_succeeded")
async def merchant_refund_succeeded(ctx: RenderContext, params: dict[str, Any]) -> Notice | None:
    return await _amount_notice(
        ctx, params, ctx.t("The refund of {amount} for order #{id} ({title}) was paid to the buyer."))


@renderer("merchant_refund_failed")
async def merchant_refund_failed(ctx: RenderContext, params: dict[str, Any]) -> Notice | None:
    if (found := await _order(ctx, params)) is None:
        return None
    order, title = found
    return Notice(ctx.t("⚠️ The refund for order #{id} ({title}) failed at the payment provider: {reason}",
                        id=order.id, title=title, reason=html.escape(str(params.get("reason", "")))))


@renderer("late_payment_refunded")
async def late_payment_refunded(ctx: RenderContext, params: dict[str, Any]) -> Notice | None:
    if (found := await _order(ctx, params)) is None:
        return None
    order, title = found
    t, why = ctx.t, params.get("why")
    if why == "suspended":
        text = t("The shop is suspended and cannot take your payment for order #{id} ({title}), so the "
                 "full amount is being refunded.", id=order.id, title=title)
    elif why == "limit":
        text = t("Your payment for order #{id} ({title}) arrived after the order had closed, and you "
                 "already have as many of this item as one buyer may buy, so the full amount is being "
                 "refunded.", id=order.id, title=title)
    elif why == "not_selling":
        text = t("Your payment for order #{id} ({title}) arrived after the order had closed and the "
                 "item is no longer on sale, so the full amount is being refunded.", id=order.id, title=title)
    else:
        text = t("Your payment for order #{id} ({title}) arrived after the order had closed and the item "
                 "was gone, so the full amount is being refunded.", id=order.id, title=title)
    return Notice(text)


@renderer("deposit_paid")
async def deposit_paid(ctx: RenderContext, params: dict[str, Any]) -> Notice | None:
    amount = ctx.t.money(int(params.get("amount_fen") or 0))
    return Notice(ctx.t("Your deposit payment of {amount} has arrived.", amount=amount))


@renderer("merchant_approved")
async def merchant_approved(ctx: RenderContext, params: dict[str, Any]) -> Notice | None:
    name = html.escape(str(params.get("name", "")))
    return Notice(ctx.t("🎉 Your shop {name} is approved. Add a product with /newproduct.", name=name))


@renderer("merchant_rejected")
async def merchant_rejected(ctx: RenderContext, params: dict[str, Any]) -> Notice | None:
    t, name = ctx.t, html.escape(str(params.get("name", "")))
    return Notice(t("Your application for {name} was not approved.", name=name) + "\n"
                  + t("Reason: {reason}", reason=html.escape(str(params.get("reason", "")))))


@renderer("merchant_suspended")
async def merchant_suspended(ctx: RenderContext, params: dict[str, Any]) -> Notice | None:
    t, name = ctx.t, html.escape(str(params.get("name", "")))
    return Notice(t("Your shop {name} has been suspended; its cards no longer sell.", name=name) + "\n"
                  + t("Reason: {reason}", reason=html.escape(str(params.get("reason", "")))))


@renderer("admin_new_application")
async def admin_new_application(ctx: RenderContext, params: dict[str, Any]) -> Notice | None:
    t = ctx.t
    kind = t("enterprise") if params.get("merchant_kind") == "enterprise" else t("individual")
    return Notice(t("New shop application: {name} ({kind}). See /applications.",
                    name=html.escape(str(params.get("name", ""))), kind=kind))


@renderer("followup")
async def followup(ctx: RenderContext, params: dict[str, Any]) -> Notice | None:
    name = str(params.get("name", ""))
    text = f"📣 <b>{html.escape(name)}</b>\n\n{html.escape(str(params.get('text', '')))}"
    return Notice(text, cards.stop_button(int(params.get("merchant_id") or 0), name, ctx.t))


@renderer("relay_to_seller")
async def relay_to_seller(ctx: RenderContext, params: dict[str, Any]) -> Notice | None:
    if (found := await _order(ctx, params)) is None:
        return None
    order, title = found
    t = ctx.t
    text = (t("✉️ The buyer of order #{id} ({title}) writes:", id=order.id, title=title)
            + "\n\n" + html.escape(str(params.get("text", ""))))
    return Notice(text, _keyboard(cards.button("↩️ " + t("Reply"), cards.ORDER_ANSWER, order.id)))


@renderer("relay_to_buyer")
async def relay_to_buyer(ctx: RenderContext, params: dict[str, Any]) -> Notice | None:
    if (found := await _order(ctx, params)) is None:
        return None
    order, title = found
    t = ctx.t
    text = (t("✉️ The seller answers about order #{id} ({title}):", id=order.id, title=title)
            + "\n\n" + html.escape(str(params.get("text", ""))))
    return Notice(text, _keyboard(cards.button("↩️ " + t("Reply"), cards.ORDER_WRITE, order.id)))
