"""The pages: server-rendered (Jinja2) with vendored htmx, served by the API's own app.

``install(app)`` adds the sign-in pages, the counter, outlet, batch, bureau and
public pages, ``/static`` (every asset the pages and ``/docs`` need), the
Chinese font of the card renderer (for browsers without one) and the
self-hosted ``/docs`` and ``/redoc``.
"""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI
from pylopdf_fonts_zh_cn import sans_path
from starlette.responses import FileResponse
from starlette.staticfiles import StaticFiles

from issuance.web import (
    batches,
    bureau,
    bureau_records,
    counter,
    docs,
    outlet,
    public,
    signin_pages,
)


def install(app: FastAPI) -> None:
    static = resources.files("issuance.web").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    app.include_router(docs.docs_router(app))

    @app.get("/fonts/NotoSansSC-Regular.otf", include_in_schema=False)
    async def font() -> FileResponse:
        """The pages' Chinese font, for browsers without one (pages name local fonts first)."""
        headers = {"Cache-Control": "public, max-age=604800"}
        return FileResponse(sans_path(), media_type="font/otf", headers=headers)

    app.include_router(signin_pages.router)
    app.include_router(counter.router)
    app.include_router(outlet.router)
    app.include_router(batches.router)
    app.include_router(bureau.router)
    app.include_router(bureau_records.router)
    app.include_router(public.router)
