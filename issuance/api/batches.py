"""Expedited small batches over HTTP (``/v1/batches``).

* ``POST /v1/batches`` takes the batch file either as ``multipart/form-data``
  (part ``file``: the CSV or JSON file; optional part ``photos``: the zip of
  photos; optional fields ``site``, ``partial``, ``encoding``) or as the JSON
  batch itself (``application/json``: a list of applicants, or
  ``{"applicants": [...]}``, photos inline as ``photo_base64``). ``site``,
  ``partial`` and ``encoding`` may also be query parameters. The body is
  streamed to temporary files (:mod:`issuance.api.uploads`), never held whole. A rejected batch
  is a 422 ``{"code": "batch_rejected", "errors": [{"line", "field", "code",
  "message"}]}`` and nothing is written; a hostile archive is a 422
  ``archive_refused``. Accepted: 201 with the batch and, in partial mode,
  the rejected rows' errors.
* ``GET /v1/batches/{id}``: done, failed, in doubt, remaining, spoiled, the
  pace in cards per hour and the estimated finish.
* ``POST /v1/batches/{id}/cards/{number}/fail`` ``{"reason"}``: a supervisor
  gives up a card (its job is cancelled, the card spoiled).
* ``GET /v1/batches/{id}/manifest.pdf`` and ``/report.pdf``: the documents
  of :mod:`printers.documents.manifest`, rendered in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from enum import Enum
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from issuance.api.deps import CtxDep
from issuance.api.direct import DirectRoute
from issuance.api.doors import body_limit
from issuance.api.idempotency import Outcome, idempotent, render
from issuance.api.uploads import MAX_BODY_BYTES, Upload, receive
from issuance.services import batches
from issuance.store import Store
from printers.documents.manifest import completion_pdf, manifest_pdf
from sscard_core.errors import FieldError

router = APIRouter(prefix="/v1", route_class=DirectRoute)
BATCHES: list[str | Enum] = ["batches"]
BatchId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^B[0-9]{8}-[0-9]{6}$")]
CardNumber = Annotated[str, Path(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9]+$")]
SiteParam = Annotated[str | None, Query(min_length=1, max_length=64, pattern=r"^[^\x00]+$")]
EncodingParam = Annotated[str | None, Query(pattern=r"^(utf-8|utf-8-sig|gbk|gb18030)$")]
ENCODINGS = frozenset({"utf-8", "utf-8-sig", "gbk", "gb18030"})
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
BODY = "body"  # a JSON batch sent as the whole body
FILE_PARTS = frozenset({"file", "photos"})
PDF = "application/pdf"
# Batch submissions one API process takes at once; the pool of 10 connections keeps room for the
# counters (see batch_slots).
BATCHES_AT_ONCE = 2


class FailIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500, pattern=r"^[^\x00]*\S[^\x00]*$")


def _flag(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower() in TRUE_WORDS


def _encoding(value: Any) -> str | None:
    if value in (None, ""):
        return None
    if value not in ENCODINGS:
        raise FieldError("encoding", "must be utf-8, utf-8-sig, gbk or gb18030")
    return str(value)


def _submission(
    upload: Upload, site: str | None, partial: bool, encoding: str | None
) -> batches.Submission:
    files, fields = upload.files, upload.fields
    source = files.get(BODY, files.get("file"))
    if source is None:
        raise FieldError("file", "the multipart request has no such file part", code="required")
    return batches.Submission(
        source, files.get("photos"), site or fields.get("site") or None,
        partial or _flag(fields.get("partial")), encoding or _encoding(fields.get("encoding")),
    )  # fmt: skip


def batch_view(b: Any) -> dict[str, Any]:
    return {
        "id": b.id, "bank": b.bank, "site": b.site, "submitted_by": b.submitted_by,
        "submitted_at": b.submitted_at.isoformat(), "file_kind": b.file_kind,
        "rows_read": b.rows_read, "accepted": b.accepted, "rejected": b.rejected,
        "status": b.status,
        "finished_at": None if b.finished_at is None else b.finished_at.isoformat(),
    }  # fmt: skip


def progress_view(p: batches.Progress) -> dict[str, Any]:
    c = p.counts
    finish = p.estimated_finish
    return {
        "batch": batch_view(p.batch), "cards": c.cards, "done": c.done, "failed": c.failed,
        "in_doubt": c.in_doubt, "remaining": c.remaining, "spoiled": c.spoiled,
        "cards_per_hour": p.cards_per_hour, "complete": p.complete,
        "estimated_finish": None if finish is None else finish.isoformat(),
        "at": c.at.isoformat(),
    }  # fmt: skip


def batch_slots(app: FastAPI) -> asyncio.Semaphore:
    """This process's batch submissions at once (:data:`BATCHES_AT_ONCE`); later ones wait.

    A submission holds two of the pool's connections (its transaction, its
    photos) and takes a third now and then (the live-card lookups, the card
    numbers): without a bound, a few batches at once could hold the whole pool
    while each waits for one more. Their checks use every core anyway.
    """
    slots: asyncio.Semaphore | None = getattr(app.state, "batch_slots", None)
    if slots is None:
        slots = app.state.batch_slots = asyncio.Semaphore(BATCHES_AT_ONCE)
    return slots


@router.post("/batches", status_code=201, tags=BATCHES, openapi_extra=body_limit(MAX_BODY_BYTES))
async def submit(
    request: Request,
    ctx: CtxDep,
    site: SiteParam = None,
    partial: bool = False,
    encoding: EncodingParam = None,
) -> Response:
    """小批量加急制发卡: check a whole batch file, then enqueue one expedited job per card."""
    with tempfile.TemporaryDirectory(prefix="sscard-batch-") as folder:
        upload = await receive(request, FilePath(folder), body_name=BODY, file_parts=FILE_PARTS)
        submission = _submission(upload, site, partial, encoding)

        async def run(tx: Store) -> Outcome:
            accepted = await batches.submit(tx, ctx.queue, ctx.op, submission, lookups=ctx.store)
            return 201, {
                "batch": batch_view(accepted.batch),
                "errors": [p.to_dict() for p in accepted.problems],
            }

        async with batch_slots(request.app):
            try:
                return await idempotent(ctx, run, digest=upload.digest)
            finally:  # the transaction has ended: a failed batch's photos can go
                with contextlib.suppress(Exception):  # never in place of the request's own error
                    await batches.sweep_uploads(ctx.store)


@router.get("/batches/{batch_id}", tags=BATCHES)
async def batch_progress(batch_id: BatchId, ctx: CtxDep) -> Response:
    """How the batch stands, its pace (cards per hour) and its estimated finish."""
    return render(200, progress_view(await batches.progress(ctx.store, ctx.op, batch_id)))


@router.post("/batches/{batch_id}/cards/{number}/fail", tags=BATCHES)
async def fail_card(batch_id: BatchId, number: CardNumber, body: FailIn, ctx: CtxDep) -> Response:
    """A supervisor fails a card of the batch for good, with a reason."""
    reason = body.reason.strip()

    async def run(tx: Store) -> Outcome:
        done = await batches.fail_card(tx, ctx.queue, ctx.op, batch_id, number, reason=reason)
        return 200, progress_view(done)

    return await idempotent(ctx, run)


@router.get("/batches/{batch_id}/manifest.pdf", tags=BATCHES)
async def manifest(batch_id: BatchId, ctx: CtxDep) -> Response:
    """制卡清单: one row per card with its QR code."""
    heading, entries = await batches.manifest(ctx.store, ctx.op, batch_id)
    pdf = await asyncio.to_thread(manifest_pdf, heading, entries)
    return Response(pdf, media_type=PDF)


@router.get("/batches/{batch_id}/report.pdf", tags=BATCHES)
async def report(batch_id: BatchId, ctx: CtxDep) -> Response:
    """制卡完成报告: counts and each printer's share and pace."""
    completion = await batches.completion(ctx.store, ctx.op, batch_id)
    pdf = await asyncio.to_thread(completion_pdf, completion)
    return Response(pdf, media_type=PDF)
