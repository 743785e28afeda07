"""``AlipayGateway``: the ``PaymentGateway`` interface over the Alipay open API.

It wraps python-alipay-sdk (``from alipay import AliPay``) pointed at the
configured gateway URL: the simulated gateway in the demo and the tests, a
real Alipay endpoint in production. The SDK signs and verifies; we only
translate amounts (integer fen ↔ ``"12.34"`` yuan strings, never a float) and
answers (typed results).

The SDK is synchronous urllib, so every server call runs in a worker thread
with a timeout. A timeout, a connection error, a 5xx or an answer whose
signature does not verify raises ``GatewayUnavailable``: the caller retries
later with the same idempotency key. A business error (code 40004 …) is data:
``Outcome(ok=False, code, sub_code)``.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import logging
import math
import re
import urllib.request
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from alipay import AliPay
from alipay.exceptions import AliPayException, AliPayValidationError

from bot.commerce.gateway import (
    GatewayUnavailable,
    Notification,
    Outcome,
    RefundStatus,
    StatementLine,
    TradeStatus,
)
from bot.config import Settings
from bot.metrics import metrics
from bot.payments.credentials import GatewayCredentials, credentials_from_settings

log = logging.getLogger(__name__)

ALIPAY_TZ = ZoneInfo("Asia/Shanghai")  # Alipay writes its times in China time.
_YUAN = re.compile(r"(-?)(0|[1-9]\d{0,11})(?:\.(\d{1,2}))?", re.ASCII)
# Answers that mean "try again later", not "no": same as a timeout.
RETRY_SUB_CODES = frozenset({"ACQ.SYSTEM_ERROR", "SYSTEM_ERROR", "isp.unknow-error"})
STATEMENT_KINDS = {"payment": "trade", "refund": "refund", "transfer": "transfer"}


def fen_to_yuan(fen: int) -> str:
    """``1234`` → ``"12.34"``: how Alipay wants amounts."""
    if fen < 0:
        raise ValueError(fen)
    return f"{fen // 100}.{fen % 100:02d}"


def yuan_to_fen(text: object) -> int:
    """``"12.34"`` → ``1234``; anything that is not a plain decimal string raises ValueError."""
    match = _YUAN.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"not an amount: {text!r}")
    sign, whole, frac = match.groups()
    fen = int(whole) * 100 + int((frac or "0").ljust(2, "0"))
    return -fen if sign else fen


def _optional_fen(text: str | None) -> int | None:
    return None if text in (None, "") else yuan_to_fen(text)


class AlipayGateway:
    """The payment gateway, reached with python-alipay-sdk; see the module docstring."""

    def __init__(self, credentials: GatewayCredentials, *, timeout_s: float = 10.0) -> None:
        self.app_id = credentials.app_id
        self.gateway_url = credentials.gateway_url
        self._ali = AliPay(
            appid=credentials.app_id,
            app_private_key_string=credentials.app_private_key,
            alipay_public_key_string=credentials.gateway_public_key,
            sign_type=credentials.sign_type,
        )
        self._ali._gateway = credentials.gateway_url
        self.timeout_s = timeout_s

    @property
    def timeout_s(self) -> float:
        """Seconds a server call may take before it counts as unavailable."""
        return float(self._ali._config.timeout)

    @timeout_s.setter
    def timeout_s(self, seconds: float) -> None:
        self._ali._config.timeout = seconds  # urllib's socket timeout inside the SDK

    # --- client side: signing only, no HTTP

    def checkout_url(
        self,
        *,
        out_trade_no: str,
        amount_fen: int,
        subject: str,
        return_url: str,
        notify_url: str,
        expires_in: dt.timedelta | None = None,
    ) -> str:
        """A signed ``alipay.trade.page.pay`` URL: the browser opens the hosted checkout."""
        extra: dict[str, str] = {}
        if expires_in is not None:
            # Relative, so the gateway's own clock decides: no skew between machines.
            extra["timeout_express"] = f"{max(1, math.ceil(expires_in.total_seconds() / 60))}m"
        signed = self._ali.api_alipay_trade_page_pay(
            subject=subject[:256], out_trade_no=out_trade_no, total_amount=fen_to_yuan(amount_fen),
            return_url=return_url, notify_url=notify_url, **extra,
        )
        return f"{self.gateway_url}?{signed}"

    def parse_notification(self, form: dict[str, str]) -> Notification | None:
        """The notification if its signature, sign_type, app_id and amounts check out, else None."""
        data = {k: v for k, v in form.items() if v != ""}  # Alipay signs non-empty values only
        signature = data.pop("sign", None)
        if not signature or data.get("sign_type", self._ali.sign_type) != self._ali.sign_type:
            return None
        try:
            if not self._ali.verify(data, signature):
                return None
        except (AliPayException, ValueError):  # malformed base64 and the like
            return None
        if data.get("app_id") != self.app_id:
            return None
        try:
            return Notification(
                out_trade_no=data["out_trade_no"], trade_no=data["trade_no"],
                trade_status=data["trade_status"], total_fen=yuan_to_fen(data["total_amount"]),
                app_id=data["app_id"], refund_fee_fen=_optional_fen(data.get("refund_fee")),
                out_biz_no=data.get("out_biz_no") or None,
            )
        except (KeyError, ValueError):
            return None

    # --- server calls

    async def _call(self, work: Callable[[], dict[str, Any]], what: str) -> dict[str, Any]:
        """Run one SDK call in a thread; anything but a verified answer is GatewayUnavailable."""
        with metrics().gateway_call(what):
            return await self._call_timed(work, what)

    async def _call_timed(self, work: Callable[[], dict[str, Any]], what: str) -> dict[str, Any]:
        try:
            answer = await asyncio.wait_for(asyncio.to_thread(work), self.timeout_s + 1)
        except (TimeoutError, OSError) as exc:  # urllib's URLError/HTTPError are OSErrors
            raise GatewayUnavailable(f"{what}: {type(exc).__name__}: {exc}") from exc
        except (AliPayException, AliPayValidationError, ValueError) as exc:
            raise GatewayUnavailable(f"{what}: unverifiable answer: {exc!r}") from exc
        if not isinstance(answer, dict):
            raise GatewayUnavailable(f"{what}: answer is not an object")
        if answer.get("code") == "20000" or answer.get("sub_code") in RETRY_SUB_CODES:
            raise GatewayUnavailable(f"{what}: {answer.get('code')} {answer.get('sub_code')}")
        return answer

    async def _server(self, method: str, biz: dict[str, Any]) -> dict[str, Any]:
        return await self._call(lambda: self._ali.server_api(method, biz_content=biz), method)

    @staticmethod
    def _outcome(answer: dict[str, Any], reference: str | None = None) -> Outcome:
        if answer.get("code") == "10000":
            return Outcome(ok=True, reference=reference)
        return Outcome(ok=False, code=str(answer.get("code")), sub_code=answer.get("sub_code"),
                       message=str(answer.get("sub_msg") or answer.get("msg") or ""))

    async def query(self, out_trade_no: str) -> TradeStatus:
        """The trade's status at the gateway (status None: it does not exist)."""
        answer = await self._server("alipay.trade.query", {"out_trade_no": out_trade_no})
        if answer.get("code") != "10000":
            if answer.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
                return TradeStatus(out_trade_no, None)
            raise GatewayUnavailable(f"query {out_trade_no}: {answer.get('sub_code')}")
        try:
            amount = yuan_to_fen(answer.get("total_amount"))
        except ValueError as exc:
            raise GatewayUnavailable(f"query {out_trade_no}: bad total_amount") from exc
        return TradeStatus(out_trade_no, answer.get("trade_status"), answer.get("trade_no"), amount)

    async def close(self, out_trade_no: str) -> Outcome:
        """Close an unpaid trade so it can no longer be paid."""
        answer = await self._server("alipay.trade.close", {"out_trade_no": out_trade_no})
        return self._outcome(answer, answer.get("trade_no"))

    async def refund(
        self, *, out_trade_no: str, out_request_no: str, amount_fen: int, reason: str
    ) -> Outcome:
        """Refund (part of) a trade; the same out_request_no again moves no money twice."""
        biz = {"out_trade_no": out_trade_no, "out_request_no": out_request_no,
               "refund_amount": fen_to_yuan(amount_fen), "refund_reason": reason[:256]}
        answer = await self._server("alipay.trade.refund", biz)
        return self._outcome(answer, answer.get("trade_no"))

    async def refund_query(self, *, out_trade_no: str, out_request_no: str) -> RefundStatus:
        """Whether the gateway made this refund (an unknown number is "not refunded")."""
        biz = {"out_trade_no": out_trade_no, "out_request_no": out_request_no}
        answer = await self._server("alipay.trade.fastpay.refund.query", biz)
        if answer.get("code") != "10000":
            if answer.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
                return RefundStatus(out_request_no, False)
            raise GatewayUnavailable(f"refund query {out_request_no}: {answer.get('sub_code')}")
        if not answer.get("refund_amount"):
            return RefundStatus(out_request_no, False)
        return RefundStatus(out_request_no, True, yuan_to_fen(answer["refund_amount"]))

    async def transfer(
        self, *, out_biz_no: str, amount_fen: int, payee: str, title: str, payee_name: str = ""
    ) -> Outcome:
        """Pay a merchant out (``alipay.fund.trans.uni.transfer``), idempotent on out_biz_no.

        ``payee`` is a 2088… Alipay user id, or a logon id (then ``payee_name`` is required).
        """
        identity_type = "ALIPAY_USER_ID" if re.fullmatch(r"2088\d{12}", payee) else "ALIPAY_LOGON_ID"
        payee_info = {"identity": payee, "identity_type": identity_type}
        if payee_name:
            payee_info["name"] = payee_name
        biz = {"out_biz_no": out_biz_no, "trans_amount": fen_to_yuan(amount_fen),
               "product_code": "TRANS_ACCOUNT_NO_PWD", "biz_scene": "DIRECT_TRANSFER",
               "order_title": title[:128], "payee_info": payee_info}
        answer = await self._server("alipay.fund.trans.uni.transfer", biz)
        return self._outcome(answer, answer.get("order_id"))

    async def statement(self, day: dt.date) -> list[StatementLine]:
        """The gateway's statement of ``day`` (China time); not ready yet → GatewayUnavailable."""
        biz = {"bill_type": "trade", "bill_date": day.isoformat()}
        answer = await self._server("alipay.data.dataservice.bill.downloadurl.query", biz)
        url = answer.get("bill_download_url")
        if answer.get("code") != "10000" or not url:
            raise GatewayUnavailable(f"statement {day}: {answer.get('sub_code')}")
        text = await self._call(lambda: {"csv": _download(url, self.timeout_s)}, "statement download")
        return parse_statement(text["csv"])


def gateway_from_settings(settings: Settings) -> AlipayGateway | None:
    """The gateway client for these settings, or None when no keys are configured."""
    credentials = credentials_from_settings(settings)
    if credentials is None:
        return None
    return AlipayGateway(credentials, timeout_s=settings.pay_timeout_s)


def _download(url: str, timeout_s: float) -> str:
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        return response.read().decode("utf-8")


def parse_statement(text: str) -> list[StatementLine]:
    """Rows of the statement CSV as typed lines; amounts positive, ``kind`` gives the direction."""
    lines = []
    for row in csv.DictReader(io.StringIO(text)):
        kind = STATEMENT_KINDS.get(row.get("type", ""))
        if kind is None:
            continue
        at = dt.datetime.strptime(row["time"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=ALIPAY_TZ)
        amount = abs(yuan_to_fen(row["amount"]))
        lines.append(StatementLine(kind, row["out_no"], amount, at.astimezone(dt.UTC)))
    return lines
