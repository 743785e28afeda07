"""The operator's endpoints of the bot's web app: ``/readyz`` and ``/metrics`` (``/healthz`` is in web).

    GET /healthz   alive: answers without any I/O (the reverse proxy's health check)
    GET /readyz    ready: the database answers and the gateway answers; 503 names what failed
    GET /metrics   Prometheus text: this process's counters, and the business gauges read now

``/readyz`` asks the gateway about a trade that never exists (a signed
``alipay.trade.query``): "no such trade" proves the gateway is there, our
keys are accepted and its signature verifies, and moves nothing. It is for
monitoring and for a deploy's "is it up" gate, not for the load balancer: a
gateway outage must not take every worker out of rotation, since taps and
browsing go on without it. ``/metrics`` must not reach the internet
(``deploy/Caddyfile`` answers 404 for it): scrape each worker inside the
private network.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.commerce import monitoring
from bot.commerce.gateway import GatewayUnavailable
from bot.metrics import CONTENT_TYPE, metrics
from bot.services import Services

log = logging.getLogger(__name__)
# An out_trade_no the bot never makes (its own are SB + 8 digits), in the letters, digits and
# underscores Alipay accepts: the gateway answers "no such trade" (ACQ.TRADE_NOT_EXIST).
PROBE_TRADE = "SB_READYZ_PROBE"


async def database_ready(services: Services) -> str | None:
    """None if the database answers a round trip in time, else why not."""
    async def _ping() -> None:
        async with services.db.transaction() as session:  # no retries: a probe reports, it does not wait
            await monitoring.ping(session)

    try:
        await asyncio.wait_for(_ping(), services.settings.readyz_timeout_s)
    except TimeoutError:
        return "timeout"
    except Exception as exc:  # whatever the driver raises: connection refused, auth, file missing
        return type(exc).__name__
    return None


async def gateway_ready(services: Services) -> str | None:
    """None if the payment gateway answers a signed query in time, else why not."""
    if services.gateway is None:
        return "not configured"
    try:
        await asyncio.wait_for(services.gateway.query(PROBE_TRADE), services.settings.readyz_timeout_s)
    except TimeoutError:
        return "timeout"
    except GatewayUnavailable as exc:
        return str(exc)[:200]
    return None


async def readyz(request: Request) -> Response:
    """``GET /readyz``: 200 when the database and the gateway answer, 503 with what failed."""
    services: Services = request.app.state.services
    database, gateway = await asyncio.gather(database_ready(services), gateway_ready(services))
    checks = {"database": database or "ok", "gateway": gateway or "ok"}
    ready = database is None and gateway is None
    if not ready:
        log.warning("not ready: %s", checks)
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


async def metrics_endpoint(request: Request) -> Response:
    """``GET /metrics``: read the business gauges, then everything in Prometheus' text format."""
    services: Services = request.app.state.services
    counters = metrics()
    now = services.clock.now()
    try:
        snap = await asyncio.wait_for(services.run(lambda s: monitoring.snapshot(s, now=now)),
                                      services.settings.readyz_timeout_s)
    except Exception as exc:  # the database away: still serve the counters, without stale gauges
        log.warning("metrics: could not read the business gauges: %s", type(exc).__name__)
        snap = None
    counters.set_snapshot(snap)
    return Response(counters.exposition(), media_type=CONTENT_TYPE)
