"""The ``/gateway.do`` endpoint: parse, verify, dispatch, sign the answer.

Requests arrive as GET (python-alipay-sdk puts everything in the query
string) or POST (the official SDK puts common params in the query string and
``biz_content`` in the form body), so both are merged. The signature is
checked over the raw received values, never a re-serialisation.

Answers are ``{"<method_with_underscores>_response":{...},"sign":"..."}``
where the signed bytes are exactly the inner object as written, the response
key comes before ``sign``, and business errors are signed too.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from gateway import bills, lengths, payouts, refunds, signing, trades
from gateway.calls import Call
from gateway.pages import error_page
from gateway.results import Result, fail
from gateway.runtime import Runtime
from gateway.store import apps

Handler = Callable[[Call], Awaitable[Result | Response]]

METHODS: dict[str, Handler] = {
    "alipay.trade.page.pay": trades.page_pay,
    "alipay.trade.wap.pay": trades.wap_pay,
    "alipay.trade.precreate": trades.precreate,
    "alipay.trade.query": trades.query,
    "alipay.trade.close": trades.close,
    "alipay.trade.refund": refunds.refund,
    "alipay.trade.fastpay.refund.query": refunds.refund_query,
    "alipay.fund.trans.uni.transfer": payouts.transfer,
    "alipay.data.dataservice.bill.downloadurl.query": bills.download_url_query,
}
# Browser flows: their answer is a page, so errors are pages too.
PAGE_METHODS = {"alipay.trade.page.pay", "alipay.trade.wap.pay"}


async def received_params(request: Request) -> dict[str, str]:
    """The query string merged with a form-encoded body (the body wins on a clash)."""
    params = dict(request.query_params)
    body = await request.body()
    if body and "multipart" not in request.headers.get("content-type", ""):
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return params


def _no_braces(value: Any) -> Any:
    """Keep ``{`` and ``}`` out of string values: python-alipay-sdk counts braces blindly."""
    if isinstance(value, str):
        return value.replace("{", "(").replace("}", ")")
    if isinstance(value, dict):
        return {k: _no_braces(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_braces(v) for v in value]
    return value


def signed_response(rt: Runtime, key: str, inner: Result, sign_type: str) -> Response:
    """Serialise the inner object once, sign exactly those bytes, then concatenate."""
    content = json.dumps(_no_braces(inner), ensure_ascii=False, separators=(",", ":"))
    signature = signing.sign(rt.key, content, sign_type if sign_type in signing.SIGN_TYPES else "RSA2")
    body = f'{{"{key}":{content},"sign":"{signature}"}}'
    return Response(body, media_type="application/json;charset=utf-8")


async def _authenticate(rt: Runtime, params: dict[str, str]) -> tuple[Any, Result | None]:
    """Find the app and check the request signature; a Result means rejected."""
    if not params.get("app_id"):
        return None, fail("isv.missing-app-id", code="40001")
    if not params.get("sign"):
        return None, fail("isv.missing-signature", code="40001")
    sign_type = params.get("sign_type", "")
    if sign_type not in signing.SIGN_TYPES:
        return None, fail("isv.invalid-signature-type", code="40002")
    async with rt.db.connect() as conn:
        app = (await conn.execute(select(apps).where(apps.c.app_id == params["app_id"]))).first()
    if app is None:
        return None, fail("isv.invalid-app-id", code="40002")
    public = signing.load_public(app.public_pem)
    contents = {signing.request_content(params), signing.request_content(params, keep_empty=True)}
    if not any(signing.verify(public, c, params["sign"], sign_type) for c in contents):
        return None, fail("isv.invalid-signature", "验签出错，请确认签名内容与签名方式", code="40002")
    return app, None


def _biz_content(params: dict[str, str]) -> dict[str, Any] | None:
    """Decode biz_content with Decimal numbers; None if it is not a JSON object."""
    raw = params.get("biz_content") or "{}"
    try:
        biz = json.loads(raw, parse_float=Decimal)
    except ValueError:
        return None
    return biz if isinstance(biz, dict) else None


async def _injected_failure(rt: Runtime) -> Response | None:
    """Slow answers and 5xx errors from the failure-injection settings."""
    if rt.settings.slow_response_s > 0:
        await asyncio.sleep(rt.settings.slow_response_s)
    if rt.chance(rt.settings.error_5xx_rate):
        return PlainTextResponse("Service Unavailable (injected)", status_code=503)
    return None


async def _accept(rt: Runtime, params: dict[str, str]) -> Call | Result:
    """Turn received params into a verified Call, or the Result that refuses them."""
    method = params.get("method", "")
    if not method:
        return fail("isv.missing-method", code="40001")
    app, rejected = await _authenticate(rt, params)
    if rejected is not None:
        return rejected
    if method not in METHODS:
        return fail("isv.invalid-method", code="40002")
    biz = _biz_content(params)
    if biz is None:
        return fail("isv.invalid-parameter", "biz_content is not a JSON object", code="40002")
    too_long = lengths.too_long(method, params, biz)
    if too_long is not None:
        return too_long
    sign_type = params["sign_type"]
    return Call(rt=rt, app=app, method=method, sign_type=sign_type, params=params, biz=biz)


async def gateway_do(request: Request) -> Response:
    """``GET|POST /gateway.do``: one open-API call."""
    rt: Runtime = request.app.state.gateway
    injected = await _injected_failure(rt)
    if injected is not None:
        return injected
    params = await received_params(request)
    method = params.get("method", "")
    key = method.replace(".", "_") + "_response" if method in METHODS else "error_response"
    sign_type = params.get("sign_type", "RSA2")
    call = await _accept(rt, params)
    answer = await METHODS[method](call) if isinstance(call, Call) else call
    if isinstance(answer, Response):
        return answer
    return _reject(rt, method, key, answer, sign_type)


def _reject(rt: Runtime, method: str, key: str, result: Result, sign_type: str) -> Response:
    """A JSON answer, signed; for browser flows (which only answer JSON on error) a page."""
    if method in PAGE_METHODS:
        detail = f"{result.get('sub_code', '')}: {result.get('sub_msg', '')}"
        return error_page("支付请求无效 / Invalid payment request", detail)
    return signed_response(rt, key, result, sign_type)
