"""Domain errors: each names the rule it guards.

Handlers turn them into user text in one place; ``code`` is the key of that
text in the message catalog, and ``params`` fill its placeholders.
"""

from __future__ import annotations

from typing import Any


class CommerceError(Exception):
    """A command was refused by a business rule; nothing was changed."""

    code = "error"

    def __init__(self, message: str = "", **params: Any) -> None:
        super().__init__(message or self.__doc__ or self.code)
        self.params = params


class NotFound(CommerceError):
    """The thing named does not exist (or is not visible to this user)."""

    code = "not_found"


class Forbidden(CommerceError):
    """The user may not act on this object: not the owner or not the role."""

    code = "forbidden"


class InvalidInput(CommerceError):
    """A value a user typed breaks a validation rule (``field`` says which)."""

    code = "invalid_input"

    def __init__(self, field: str, rule: str, **params: Any) -> None:
        super().__init__(f"{field}: {rule}", field=field, rule=rule, **params)
        self.field = field
        self.rule = rule


class SoldOut(CommerceError):
    """Fewer units are left than were asked for: nothing is ever oversold."""

    code = "sold_out"


class LimitReached(CommerceError):
    """The buyer would exceed the product's per-buyer limit."""

    code = "limit_reached"


class NotSelling(CommerceError):
    """The product is paused or archived, or its merchant may not sell."""

    code = "not_selling"


class IllegalTransition(CommerceError):
    """The object is not in a state that allows this action."""

    code = "illegal_transition"


class AmountMismatch(CommerceError):
    """A payment or refund amount differs from what the order says."""

    code = "amount_mismatch"


class InsufficientFunds(CommerceError):
    """An account with a floor would go below zero."""

    code = "insufficient_funds"


class DepositRequired(CommerceError):
    """T+0 settlement needs the deposit paid in full first."""

    code = "deposit_required"


class ConfirmationRequired(CommerceError):
    """A transfer above the large-amount threshold needs the sender's extra confirmation."""

    code = "confirmation_required"


class DailyLimitExceeded(CommerceError):
    """The transfer would take the sender past the daily transfer limit."""

    code = "daily_limit_exceeded"


class KeyReused(CommerceError):
    """An idempotency key came back with a different request: the first one stands."""

    code = "key_reused"


class AddressRequired(CommerceError):
    """An order of goods that ship is paid only once its delivery address is chosen."""

    code = "address_required"


class PayeeMissing(CommerceError):
    """Money leaves the platform only to the merchant's own payout account, never to a placeholder."""

    code = "payee_missing"


class PayoutHeld(CommerceError):
    """Payouts wait ``Rules.payee_change_hold`` after a change of payout account (``until`` says when)."""

    code = "payout_held"


class ChooseOption(CommerceError):
    """A product sold by option (size, colour) is bought one option at a time: the tap must name one."""

    code = "choose_option"


class SoldByOption(CommerceError):
    """A product sold by option has its price and stock per option, not one for the whole product."""

    code = "sold_by_option"
