"""Refusals turned into short answers in the user's language: the one place.

A handler wrapped in ``@answers_errors`` may let any ``CommerceError`` escape;
the user gets a one-line explanation (a callback answer or a reply), the
refusal is logged, and nothing was changed, because the unit of work rolled
back. Anything else is a bug: logged with its traceback, and the user is told
to try again.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update

from bot import states
from bot.clock import BUSINESS_TZ
from bot.commerce.errors import CommerceError, IllegalTransition, InvalidInput
from bot.context import ShopContext
from bot.i18n import Translator

log = logging.getLogger(__name__)

MESSAGES = {
    "not_found": "This is no longer available.",
    "forbidden": "You can't do that.",
    "sold_out": "Sorry, sold out.",
    "limit_reached": "You can buy at most {limit} of this item.",
    "not_selling": "This item is not on sale right now.",
    "illegal_transition": "That can't be done in this order's current state.",
    "amount_mismatch": "The amount does not match.",
    "insufficient_funds": "Not enough funds.",
    "deposit_required": "T+0 needs a deposit of {required} first; you hold {held}.",
    "address_required": "Choose a delivery address first.",
    "payee_missing": "Set your payout account first: /payee.",
    "payout_held": ("Payouts are paused until {until} (Beijing time), because your payout account "
                    "changed. See /payee."),
    "choose_option": "Choose an option first.",
    "sold_by_option": "{name} is sold by option: change the price and stock of each under Options.",
}
RULES = {
    "not_a_number": "Please send a number, like 12.50.",
    "not_a_whole_number": "Please send a whole number, like 10.",
    "negative": "That can't be negative.",
    "not_positive": "That must be more than zero.",
    "too_many_decimals": "At most two decimal places, like 12.50.",
    "too_large": "That is too large.",
    "too_small": "That is too small (at least {minimum}).",
    "too_long": "That is too long (at most {maximum} characters).",
    "too_long_units": "That is too long: at most {maximum} characters (most emoji count as two).",
    "too_short": "That is too short (at least {minimum} characters).",
    "control_characters": "That text contains characters we can't accept.",
    "format": "That doesn't look right; please check the format.",
    "out_of_range": "The amount must be between 0.01 and {max}.",
    "copies_verified": "That name is too close to the verified shop {name}; please choose another.",
    "taken": ("Another shop already uses this registration number. "
              "If it is yours, please contact the platform."),
    "html": "Please send plain text, without < or >.",
    "emoji": "Please leave out emoji and symbols: this goes on a parcel.",
    "phone": "That is not a phone number: digits, maybe a leading +, like 13800138000.",
    "three_lines": "Please send three lines: the name, the phone number, the address.",
    "too_many": "You can keep at most {maximum}; delete one first.",
    "empty": "Your cart here is empty: nothing to check out.",
    "line_refunded": "That item's refund was already asked for.",
    "symbols": "Please leave out emoji and symbols.",
    "payee_account": "That is not an Alipay account: send your login email or mainland mobile number.",
    "payee_name": ("Please send the account holder's real name as Alipay shows it: letters and spaces, "
                   "no digits."),
    "option_format": "Please send the option as: name, price, stock, like “Blue XL 129.00 20”.",
    "option_taken": "There is already an option called {name}.",
}


# A command or button of a role the user does not have: why, and what to do (by role and shop status).
ROLE_REFUSALS = {
    ("merchant", None): "Only approved shops can do this. Open yours with /apply.",
    ("merchant", "pending"): "Your shop is still waiting for an admin's review: you can do this once it is "
                             "approved. We'll tell you here.",
    ("merchant", "rejected"): "Your shop application was rejected, so you can't do this. You may apply "
                              "again with /apply.",
    ("merchant", "suspended"): "Your shop is suspended, so you can't do this now. "
                               "Please contact the platform.",
    ("admin", None): "Only the platform's admins can do this. /help lists what you can do.",
}


def _role_refusal(error: CommerceError) -> str | None:
    """The refusal for a missing role, if that is what ``error`` is."""
    role, status = error.params.get("role"), error.params.get("status")
    if error.code != "forbidden" or role not in ("merchant", "admin"):
        return None
    return ROLE_REFUSALS.get((role, status)) or ROLE_REFUSALS[(role, None)]


# A button whose action no longer applies: the object's present state, named as what it is.
STATE_NOW = {
    "order": "Order #{id} is now: {state}. That button no longer applies.",
    "refund": "The refund for order #{id} was already decided: {state}.",
    "application": "The application of {name} was already decided: {state}.",
    "shop": "{name} is now: {state}. That button no longer applies.",
    "product": "{name} is now: {state}. That button no longer applies.",
}
PAYEE_STATES = {"unchanged": "That is already your payout account: nothing changed.",
                "stale": "Your payout account changed since this was shown: nothing changed. See /payee."}


def _state_now(error: IllegalTransition, t: Translator) -> str:
    """Where the object of a leftover button stands now, in the user's language."""
    params = dict(error.params)
    what, state = params.pop("what"), str(params.pop("state", ""))
    return t(STATE_NOW[what], state=states.state_name(what, state, t), **params)


def describe(error: CommerceError, t: Translator) -> str:
    """The user-facing sentence for a refusal."""
    if isinstance(error, IllegalTransition) and error.params.get("what") == "payee":
        return t(PAYEE_STATES.get(str(error.params.get("state")), PAYEE_STATES["stale"]))
    if isinstance(error, IllegalTransition) and error.params.get("what") in STATE_NOW:
        return _state_now(error, t)
    if (refusal := _role_refusal(error)) is not None:
        return t(refusal)
    params = dict(error.params)
    for key in ("required_fen", "held_fen", "max_fen"):
        if key in params:
            params[key.removesuffix("_fen")] = t.money(params.pop(key))
    if isinstance(params.get("until"), dt.datetime):
        params["until"] = params["until"].astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M")
    if isinstance(error, InvalidInput):
        template = RULES.get(error.rule, "That value is not accepted.")
    else:
        template = MESSAGES.get(error.code, "Something went wrong. Please try again.")
    try:
        return t(template, **params)
    except (KeyError, IndexError):
        return t(template.split("{")[0].strip() or "Something went wrong. Please try again.")


async def reply(update: Update, text: str, *, alert: bool = False) -> None:
    """Answer a button press with a toast, or a message with a reply."""
    if update.callback_query:
        await update.callback_query.answer(text[:200], show_alert=alert)
    elif update.effective_message:
        await update.effective_message.reply_text(text)


Handler = Callable[[Update, ShopContext], Awaitable[Any]]


def answers_errors(handler: Handler) -> Handler:
    """Turn a ``CommerceError`` escaping ``handler`` into a short answer."""

    @functools.wraps(handler)
    async def wrapper(update: Update, context: ShopContext) -> Any:
        try:
            return await handler(update, context)
        except CommerceError as error:
            user = update.effective_user.id if update.effective_user else None
            log.info("refused %s for user %s: %s %s", handler.__name__, user, error.code, error.params)
            await reply(update, describe(error, context.t))
            return None

    return wrapper


async def on_error(update: object, context: ShopContext) -> None:
    """Last resort for bugs: log the traceback, tell the user to try again."""
    log.error("unhandled error while handling an update", exc_info=context.error)
    if isinstance(update, Update):
        try:
            await reply(update, context.t("Something went wrong. Please try again."))
        except Exception:  # the answer itself failed; the log above has the story
            log.warning("could not tell the user about the error", exc_info=True)
