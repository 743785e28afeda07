"""The console's one page that changes things: applications, shops and refund requests to decide.

Each button is a POST form with the session's CSRF token. A decision calls
the commerce core exactly as the Telegram admin handlers do
(``bot.handlers.admin``, and ``bot.handlers.sales`` for refunds), so the
merchant or buyer is told through the outbox and every message showing the
shop or order is redrawn. The audit row is written in the decision's own
transaction; a refused decision changes nothing and is audited with why.

Refunds are the merchant's to decide; the platform may decide one for a
merchant who does not answer (a dispute), through the same core function
with the order's own merchant.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from sqladmin import BaseView, expose
from sqladmin.flash import Flash
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.commerce import directory, merchants, operators, orders, refunds, verification
from bot.commerce.errors import CommerceError
from bot.console.views import fen
from bot.handlers.errors import describe
from bot.i18n import Translator
from bot.payments.refunding import send_refund
from bot.payments.syncing import close_trades
from bot.services import Services
from bot.store.enums import MerchantStatus

log = logging.getLogger(__name__)
NEEDS_REASON = frozenset({"reject", "suspend", "refund_reject"})
Work = Callable[[AsyncSession], Awaitable[str]]


def _merchant_work(verb: str, merchant_id: int, reason: str, now: Any) -> Work:
    async def work(session: AsyncSession) -> str:
        if verb in ("approve", "verify", "reinstate"):
            shop = await merchants.approve_merchant(session, merchant_id=merchant_id, now=now,
                                                    verified=verb == "verify")
            return f"{shop.name} is approved and may sell now; the merchant is told."
        decide = merchants.reject_merchant if verb == "reject" else merchants.suspend_merchant
        shop = await decide(session, merchant_id=merchant_id, reason=reason, now=now)
        return f"{shop.name} is {'rejected' if verb == 'reject' else 'suspended'}; the merchant is told."
    return work


def _refund_work(verb: str, refund_id: int, reason: str, now: Any) -> Work:
    async def work(session: AsyncSession) -> str:
        refund = await refunds.get_refund(session, refund_id)
        order = await orders.get_order(session, refund.order_id)
        if verb == "refund_approve":
            await refunds.approve_refund(session, refund_id=refund_id, merchant_id=order.merchant_id, now=now)
            return (f"Refund of ¥{fen(refund.amount_fen)} for order #{order.id} approved; "
                    "it goes to the gateway.")
        await refunds.reject_refund(session, refund_id=refund_id, merchant_id=order.merchant_id,
                                    reason=reason, now=now)
        return f"Refund for order #{order.id} rejected; the buyer is told why."
    return work


class Decisions(BaseView):
    """Applications, shops and refund requests, with the decisions the core allows on each."""

    name = "Decisions"
    icon = "fa-solid fa-gavel"
    services: ClassVar[Services]  # set on the subclass each console makes (SQLAdmin builds views itself)

    @expose("/decisions", methods=["GET"], identity="decisions")
    async def page(self, request: Request) -> Response:
        """What waits for a decision now."""
        async def load(session: AsyncSession) -> dict[str, Any]:
            return {"applications": await merchants.pending_applications(session),
                    "shops": await directory.listed_merchants(session, limit=100),
                    "refunds": await refunds.waiting_refunds(session)}
        context = await self.services.run(load)
        context |= {"may_verify": verification.may_verify, "approved": MerchantStatus.APPROVED, "fen": fen}
        return await self.templates.TemplateResponse(request, "console/decisions.html", context)

    @expose("/decide", methods=["POST"], identity="decide")
    async def decide(self, request: Request) -> Response:
        """One decision from a form: call the core, audit it, come back to the page with the outcome."""
        form = await request.form()
        verb, reason = str(form.get("verb", "")), str(form.get("reason", "")).strip()
        operator = request.session.get("operator", "")
        try:
            target_id = int(str(form.get("id", "")))
        except ValueError:
            target_id = 0
        message = await self._decide(operator, verb, target_id, reason)
        if message.startswith("Refused"):
            Flash.error(request, message)
        else:
            Flash.success(request, message)
        return RedirectResponse(request.url_for("admin:view-decisions"), status_code=303)

    async def _decide(self, operator: str, verb: str, target_id: int, reason: str) -> str:
        services, now = self.services, self.services.clock.now()
        is_refund = verb.startswith("refund_")
        target = f"{'refund' if is_refund else 'merchant'}:{target_id}"
        if verb not in NEEDS_REASON | {"approve", "verify", "reinstate", "refund_approve"}:
            return await self._refused(operator, verb or "unknown", target, "Unknown decision.", now)
        if verb in NEEDS_REASON and not reason:
            return await self._refused(operator, verb, target, "Give a reason: the other side reads it.", now)
        work = (_refund_work if is_refund else _merchant_work)(verb, target_id, reason, now)

        async def audited(session: AsyncSession) -> str:
            done = await work(session)
            await operators.audit(session, operator=operator, action=verb, target=target, now=now,
                                  detail=reason)
            return done
        try:
            message = await services.run(audited)
        except CommerceError as error:
            why = describe(error, Translator("en", services.catalogs))
            return await self._refused(operator, verb, target, why, now)
        if verb == "suspend":  # checkout pages opened before stay payable until their trades are closed
            await close_trades(services, merchant_id=target_id)
        elif verb == "refund_approve":  # now rather than on the scheduler's next pass, as the merchant's tap
            refund = await services.run(lambda s: refunds.get_refund(s, target_id))
            await send_refund(services, refund.out_request_no)
        return message

    async def _refused(self, operator: str, verb: str, target: str, why: str, now: Any) -> str:
        await self.services.run(lambda s: operators.audit(
            s, operator=operator, action=verb[:32], target=target, now=now, outcome=f"refused: {why}"))
        return f"Refused: {why}"
