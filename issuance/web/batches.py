"""The batch page (``/batches``): upload a CSV or JSON file and its photo archive with an
upload progress bar, the rejects by line and column (downloadable as CSV), a batch's
live progress, and its manifest and report PDFs.

The upload goes through the API's own streaming receiver and batch service, under
the API's idempotency record (the page's key travels in ``Idempotency-Key``).
"""

from __future__ import annotations

import asyncio
import csv
import io
import tempfile
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from starlette.responses import HTMLResponse, Response, StreamingResponse

from issuance.api import batches as batch_api
from issuance.api import uploads
from issuance.api.deps import Ctx, idempotency_key
from issuance.api.idempotency import Outcome, idempotent
from issuance.api.uploads import receive
from issuance.runtime import Runtime
from issuance.services import batches, directory
from issuance.store import Operator, Store
from issuance.web.progress import sse
from issuance.web.render import (
    FIELD_LABELS,
    PageRoute,
    field_errors,
    fragment,
    page,
    problem_message,
)
from issuance.web.session import LIMIT_KEY, PersonDep, csrf_guard, pages_store
from printers.documents.manifest import completion_pdf, manifest_pdf
from sscard_core.errors import BatchRejected, FieldProblem, InputError

router = APIRouter(prefix="/batches", route_class=PageRoute, dependencies=[Depends(csrf_guard)])
WATCH_SECONDS = 1.0
PDF = "application/pdf"


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.rt
    return rt


@router.get("", include_in_schema=False)
async def batch_home(request: Request, me: PersonDep) -> Response:
    recent = await directory.recent_batches(pages_store(request), me)
    return await page(request, "batches.html", recent=recent)


def rejects_csv(problems: list[FieldProblem]) -> str:
    """The rejects as CSV (UTF-8 with a BOM, so spreadsheet programs read the Chinese)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["行", "列", "问题", "代码"])
    for p in problems:
        writer.writerow([p.line or "", p.field, problem_message(p), p.code])
    return "\ufeff" + out.getvalue()


def _rejects(problems: list[FieldProblem], status: int) -> Response:
    href = "data:text/csv;charset=utf-8," + urllib.parse.quote(rejects_csv(problems))
    rows = [(p.line, FIELD_LABELS.get(p.field, p.field), problem_message(p)) for p in problems]
    body = fragment("_rejects.html", rows=rows, href=href)
    return HTMLResponse(body, status_code=status)


@router.post("/upload", include_in_schema=False, openapi_extra={LIMIT_KEY: uploads.MAX_BODY_BYTES})
async def upload(request: Request, me: PersonDep) -> Response:
    """The batch and its photos, streamed; 201 with the batch's address, or 422 with rejects."""
    rt = _rt(request)
    ctx = Ctx(request, me, rt.store, rt.queue, idempotency_key(request))
    with tempfile.TemporaryDirectory(prefix="sscard-batch-") as folder:
        received = await receive(
            request, Path(folder), body_name=batch_api.BODY, file_parts=batch_api.FILE_PARTS
        )
        submission = batch_api._submission(received, None, False, None)

        async def run(tx: Store) -> Outcome:
            accepted = await batches.submit(tx, ctx.queue, me, submission, lookups=ctx.store)
            return 201, {"batch": batch_api.batch_view(accepted.batch)}

        try:
            async with batch_api.batch_slots(request.app):
                response = await idempotent(ctx, run, digest=received.digest)
        except BatchRejected as exc:
            return _rejects(exc.problems, 422)
        except InputError as exc:
            rows = [FieldProblem(k, exc.code, v) for k, v in field_errors(exc).items()]
            return _rejects(rows, 422)
    return Response(response.body, 201, media_type="application/json")


async def _progress_html(request: Request, me: Operator, batch_id: str) -> tuple[str, bool]:
    p = await batches.progress(_rt(request).store, me, batch_id)
    return fragment("_batch_progress.html", p=p, c=p.counts), p.complete


@router.get("/{batch_id}", include_in_schema=False)
async def batch_page(request: Request, batch_id: str, me: PersonDep) -> Response:
    html, complete = await _progress_html(request, me, batch_id[:32])
    return await page(request, "batch.html", batch_id=batch_id, progress=html, complete=complete)


@router.get("/{batch_id}/events", include_in_schema=False)
async def batch_events(request: Request, batch_id: str, me: PersonDep) -> Response:
    """The batch's progress as Server-Sent Events, once a second while it changes."""
    first, _ = await _progress_html(request, me, batch_id[:32])  # scope checked before streaming

    async def stream() -> AsyncIterator[bytes]:
        last = ""
        while not await request.is_disconnected():
            html, complete = await _progress_html(request, me, batch_id[:32])
            if html != last:
                last = html
                yield sse("progress", html)
            if complete:
                yield sse("finished", "")
                return
            await asyncio.sleep(WATCH_SECONDS)

    del first
    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
    )


@router.get("/{batch_id}/manifest.pdf", include_in_schema=False)
async def manifest(request: Request, batch_id: str, me: PersonDep) -> Response:
    heading, entries = await batches.manifest(_rt(request).store, me, batch_id[:32])
    return Response(await asyncio.to_thread(manifest_pdf, heading, entries), media_type=PDF)


@router.get("/{batch_id}/report.pdf", include_in_schema=False)
async def report(request: Request, batch_id: str, me: PersonDep) -> Response:
    completion = await batches.completion(_rt(request).store, me, batch_id[:32])
    return Response(await asyncio.to_thread(completion_pdf, completion), media_type=PDF)
