"""A simulated business registry: who holds a registration number (unified social credit code).

    GET /v1/companies/{number}   200 {registration_no, names: {en, zh}, status} | 404 {error: not_found}

Another authority's system that happens to ride on the gateway's process, as
the billers do: the bot asks it before showing a shop as verified. It knows
only the demo companies below; ``status`` is ``active`` or ``revoked`` (a
company struck off the register). Read-only, no state.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

# The demo companies: Mei's Tea House of the sandbox, the company the tests' factories register,
# and one struck off, so every answer can be seen.
COMPANIES: dict[str, dict[str, object]] = {
    "91330100MA2CD0001X": {"names": {"en": "Mei's Tea House", "zh": "美茶馆"}, "status": "active"},
    "91310000MA1FL0000X": {"names": {"en": "Acme Trading", "zh": "艾克美贸易"}, "status": "active"},
    "91440300MA5GONE01X": {"names": {"en": "Gone Gadgets", "zh": "已销电子"}, "status": "revoked"},
}


async def company(request: Request) -> JSONResponse:
    """``GET /v1/companies/{number}``: the registered names and status, or 404."""
    number = request.path_params["number"].strip().upper()
    found = COMPANIES.get(number)
    if found is None:
        return JSONResponse({"error": "not_found"}, status_code=404)
    return JSONResponse({"registration_no": number, **found})


def build_registry_app() -> Starlette:
    """The registry's routes, mounted by the gateway at ``/registry``."""
    return Starlette(routes=[Route("/v1/companies/{number}", company, methods=["GET"])])
