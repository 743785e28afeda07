"""The few web pages a buyer may see around the checkout, in the buyer's language.

They appear when a Pay link cannot go to the gateway (forged, paid already,
expired) and when the gateway sends the browser back after paying. Phone
first; every dynamic string is escaped.
"""

from __future__ import annotations

import html

from starlette.responses import HTMLResponse

from bot.commerce.errors import AddressRequired, CommerceError, IllegalTransition
from bot.i18n import Translator
from bot.store.enums import OrderState, PaymentState

_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:0;padding:24px;background:#f5f6f8;color:#222}"
    ".card{max-width:420px;margin:40px auto;background:#fff;border-radius:12px;padding:24px;"
    "box-shadow:0 1px 4px rgba(0,0,0,.08)}h1{font-size:1.3em;margin:0 0 12px}"
    "a.button{display:inline-block;margin-top:16px;padding:10px 18px;border-radius:8px;"
    "background:#1677ff;color:#fff;text-decoration:none}"
)
_FINISHED = (OrderState.PAID, OrderState.SHIPPED, OrderState.COMPLETED,
             OrderState.REFUND_REQUESTED, OrderState.REFUNDED, PaymentState.SUCCEEDED)


def page(t: Translator, title: str, message: str, *, back_url: str = "", status: int = 200) -> HTMLResponse:
    """A one-card page; ``back_url`` adds a button back to the chat."""
    button = (f'<a class="button" href="{html.escape(back_url)}">{html.escape(t("Back to the chat"))}</a>'
              if back_url else "")
    lang = "zh-CN" if t.lang == "zh" else "en"
    body = (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f'<div class="card"><h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>{button}</div>'
        "</body></html>"
    )
    return HTMLResponse(body, status_code=status)


def invalid_link(t: Translator) -> HTMLResponse:
    """A forged or mistyped Pay link."""
    return page(t, t("Payment"), t("This payment link is not valid."), status=404)


def unavailable(t: Translator) -> HTMLResponse:
    """No gateway configured, or it could not be reached."""
    return page(t, t("Payment"), t("Payments are not available right now. Please try again later."),
                status=503)


def refused(t: Translator, error: CommerceError, back_url: str = "") -> HTMLResponse:
    """Why this trade cannot be paid now: paid already, expired or cancelled, or no address yet."""
    if isinstance(error, AddressRequired):
        return page(t, t("Payment"), t("Choose a delivery address in the chat first, then pay."),
                    back_url=back_url, status=409)
    state = error.params.get("state") if isinstance(error, IllegalTransition) else None
    if state in _FINISHED:
        return page(t, t("Payment"), t("This has already been paid. Thank you!"), back_url=back_url)
    if state is None:
        return invalid_link(t)
    return page(t, t("Payment"), t("This order can no longer be paid: it expired or was cancelled."),
                back_url=back_url, status=410)


def returned(t: Translator, paid: bool, back_url: str) -> HTMLResponse:
    """Where the gateway sends the browser after paying."""
    if paid:
        return page(t, t("Payment received"), t("Thank you! The seller has been told."), back_url=back_url)
    return page(t, t("Payment received"),
                t("Your payment is being confirmed; you will get a message in the chat shortly."),
                back_url=back_url)
