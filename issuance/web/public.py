"""The public page (``/``, no sign-in): cooperating banks and outlets, searchable by
district and instant issuance, each instant outlet with its current estimated wait."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from issuance.services import directory
from issuance.web.render import PageRoute, page
from issuance.web.session import pages_store

router = APIRouter(route_class=PageRoute)


@router.get("/", include_in_schema=False)
async def public(request: Request) -> Response:
    store = pages_store(request)
    district = request.query_params.get("district") or None
    instant = request.query_params.get("instant") == "on"
    bank = request.query_params.get("bank") or None
    views = await directory.outlet_views(store)
    found = directory.search(views, district, instant, bank)
    return await page(
        request,
        "public.html",
        banks=await directory.banks(store),
        outlets=found,
        district=district,
        instant=instant,
        bank=bank,
    )
