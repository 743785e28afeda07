"""The wallet's calls to other systems: the biller for bills, the gateway for withdrawals.

Like ``refunding``, each call happens between two short transactions: the
first records the request and holds the money (``billing.start_bill``,
``wallet_funding.request_withdrawal``), the call goes out with the request's
own key, and the second records the answer. A crash between them leaves the
request pending; ``retry_wallet`` (a scheduler job) finishes it with the
same key, so nothing is paid twice and nothing stays held for ever.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

from bot.commerce.gateway import GatewayUnavailable
from bot.commerce.wallet import WalletOp, WalletRules, billers, billing, operation_of_kind
from bot.commerce.wallet import funding as wallet_funding
from bot.payments.billers import Biller, BillerClient, BillerUnavailable, BillQuote
from bot.store.enums import WalletOpKind, WalletOpState

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

# Transfer refusals that may succeed later with the same out_biz_no: the platform's account is short.
RETRY_LATER = frozenset({"PAYER_BALANCE_NOT_ENOUGH"})


def biller_client(services: Services) -> BillerClient:
    """The biller client for these services' settings."""
    return BillerClient.from_settings(services.settings)


async def biller_catalogue(services: Services) -> list[Biller]:
    """The billers a user can pick from; ``BillerUnavailable`` when the service is down.

    Their names and payee accounts are kept (``billers.remember``): the wallet's
    history names each biller, and its payouts know where to go.
    """
    catalogue = await biller_client(services).catalogue()
    known = [billers.BillerInfo(b.code, b.kind, b.names, b.payee, b.payee_name) for b in catalogue]
    await services.run(lambda s: billers.remember(s, known, now=services.clock.now()))
    return catalogue


async def quote_bill(services: Services, *, biller: str, account_no: str) -> BillQuote | None:
    """The amount a utility account owes now (None: no bill); ``InvalidInput`` for a malformed number."""
    account = billing.clean_account_no(account_no)
    return await biller_client(services).lookup(biller=billing.check_biller(biller), account_no=account)


async def pay_bill(
    services: Services, *, user_id: int, biller: str, account_no: str, amount_fen: int, key: str
) -> WalletOp:
    """Hold, call the biller, settle: the returned operation is ``succeeded`` or ``failed`` (refunded).

    Commerce refusals (amount, balance, key) raise before anything is held.
    A repeat of a finished request returns it as it ended, without a call.
    """
    rules = WalletRules.from_settings(services.settings)
    op = await services.run(lambda s: billing.start_bill(
        s, user_id=user_id, biller=biller, account_no=account_no, amount_fen=amount_fen, key=key,
        rules=rules, now=services.clock.now()))
    if op.state != WalletOpState.PENDING:
        return op
    return await _settle_bill(services, op, tell=False)


async def _settle_bill(services: Services, op: WalletOp, *, tell: bool) -> WalletOp:
    client = biller_client(services)
    request_id = billing.biller_request_id(op.id)
    try:
        outcome = await client.pay(request_id=request_id, biller=op.biller or "",
                                   account_no=op.account_no or "", amount_fen=op.amount_fen)
    except BillerUnavailable as exc:
        log.warning("bill %s: biller unavailable (%s): voiding and refunding the wallet", op.id, exc)
        if not await _voided(client, request_id):
            return op  # the biller may have taken it: leave it pending for retry_wallet to ask again
        reason = "biller_timeout" if exc.timeout else "biller_unavailable"
        return await services.run(lambda s: billing.bill_failed(
            s, op_id=op.id, reason=reason, now=services.clock.now(), tell=tell))
    if outcome.accepted:
        return await services.run(lambda s: billing.bill_accepted(
            s, op_id=op.id, reference=outcome.reference or request_id, now=services.clock.now(), tell=tell))
    return await services.run(lambda s: billing.bill_failed(
        s, op_id=op.id, reason=outcome.reason or outcome.status, now=services.clock.now(), tell=tell))


async def _voided(client: BillerClient, request_id: str) -> bool:
    """True once the biller confirms the request is void (or never took it), so refunding is safe."""
    try:
        return (await client.void(request_id=request_id)).status in ("voided", "declined")
    except BillerUnavailable as exc:
        log.warning("bill %s: void not confirmed (%s)", request_id, exc)
        return False


async def withdraw(
    services: Services, *, user_id: int, amount_fen: int, bank_account: str, account_name: str, key: str
) -> WalletOp:
    """Hold the money and send the transfer; the result is pending (retried), succeeded or failed."""
    rules = WalletRules.from_settings(services.settings)
    op = await services.run(lambda s: wallet_funding.request_withdrawal(
        s, user_id=user_id, amount_fen=amount_fen, bank_account=bank_account, account_name=account_name,
        key=key, rules=rules, now=services.clock.now()))
    if op.state != WalletOpState.PENDING:
        return op
    return await send_withdrawal(services, op.id)


async def send_withdrawal(services: Services, op_id: int) -> WalletOp:
    """Send one pending withdrawal through the gateway's transfer with its own ``out_biz_no``."""
    op = await services.run(lambda s: operation_of_kind(s, op_id=op_id, kind=WalletOpKind.WITHDRAWAL))
    gateway = services.gateway
    if op.state != WalletOpState.PENDING or gateway is None or op.out_biz_no is None:
        return op
    await services.run(lambda s: wallet_funding.count_attempt(s, op_id=op_id))
    try:
        outcome = await gateway.transfer(out_biz_no=op.out_biz_no, amount_fen=op.amount_fen,
                                         payee=op.account_no or "", title="Shopbot wallet withdrawal",
                                         payee_name=op.account_name or "")
    except GatewayUnavailable as exc:
        log.warning("withdrawal %s not sent, will retry with the same number: %s", op.out_biz_no, exc)
        return op
    if outcome.ok:
        return await services.run(lambda s: wallet_funding.withdrawal_sent(
            s, op_id=op_id, reference=outcome.reference, now=services.clock.now()))
    if outcome.sub_code in RETRY_LATER:
        log.warning("withdrawal %s refused for now (%s), will retry", op.out_biz_no, outcome.sub_code)
        return op
    log.warning("withdrawal %s returned by the gateway: %s", op.out_biz_no, outcome.sub_code or outcome.code)
    return await services.run(lambda s: wallet_funding.withdrawal_returned(
        s, op_id=op_id, reason=outcome.sub_code or outcome.code, now=services.clock.now()))


async def retry_wallet(services: Services, now: dt.datetime) -> dict[str, int]:
    """Finish what a crash or an outage left pending: withdrawals to send, bills to settle."""
    done = {"withdrawals": 0, "bills": 0}
    for op_id in await services.run(lambda s: wallet_funding.pending_withdrawals(s)):
        if (await send_withdrawal(services, op_id)).state != WalletOpState.PENDING:
            done["withdrawals"] += 1
    cutoff = now - dt.timedelta(seconds=2 * services.settings.biller_timeout_s)
    for op_id in await services.run(lambda s: billing.stale_bills(s, before=cutoff)):
        if (await _recover_bill(services, op_id)).state != WalletOpState.PENDING:
            done["bills"] += 1
    return done


async def _recover_bill(services: Services, op_id: int) -> WalletOp:
    """Ask the biller what became of a bill whose answer was lost, then settle it and tell the user."""
    op = await services.run(lambda s: operation_of_kind(s, op_id=op_id, kind=WalletOpKind.BILL))
    client = biller_client(services)
    request_id = billing.biller_request_id(op_id)
    try:
        outcome = await client.status(request_id=request_id)
    except BillerUnavailable as exc:
        log.warning("bill %s: status unknown (%s), will ask again", op_id, exc)
        return op
    if outcome.accepted:
        return await services.run(lambda s: billing.bill_accepted(
            s, op_id=op_id, reference=outcome.reference or request_id, now=services.clock.now(), tell=True))
    if outcome.status == "unknown" and not await _voided(client, request_id):
        return op
    return await services.run(lambda s: billing.bill_failed(
        s, op_id=op_id, reason=outcome.reason or "biller_no_answer", now=services.clock.now(), tell=True))
