"""The public page (``/``, no sign-in): the cooperating banks on the bureau's public list
(published or active, :func:`issuance.services.oversight.public_list`) and their outlets,
searchable by district and instant issuance, each instant outlet with its current
estimated wait ("not issuing now" when its printers are faulted or it has no PSAM card)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from issuance.runtime import Runtime
from issuance.services import directory, oversight
from issuance.web.render import PageRoute, page
from issuance.web.session import pages_store

router = APIRouter(route_class=PageRoute)


@router.get("/", include_in_schema=False)
async def public(request: Request) -> Response:
    rt: Runtime = request.app.state.rt
    district = request.query_params.get("district") or None
    instant = request.query_params.get("instant") == "on"
    bank = request.query_params.get("bank") or None
    listed = await oversight.public_list(rt.store)
    views = directory.listed_only(
        await directory.outlet_views(pages_store(request)), {b.code for b in listed}
    )
    found = directory.search(views, district, instant, bank)
    return await page(
        request,
        "public.html",
        banks=listed,
        outlets=found,
        district=district,
        instant=instant,
        bank=bank,
    )
