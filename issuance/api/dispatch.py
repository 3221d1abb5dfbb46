"""The outlet agent's endpoints (``/v1/agent/...``, role ``agent``) and printer faults.

The contract the agent is written against:

* ``POST /v1/agent/claim`` long-polls up to ``wait_seconds`` (cap 30) and
  answers ``{"jobs": [...]}``; a card job's payload is ``{"card_id", "card",
  "photo_url", "outlet"}``, a PIN job's ``{"card_number", "operation"}``.
* ``heartbeat`` → 204 (409 ``lease_lost``), ``complete`` → 204 (the card is
  ready in the same transaction), ``fail`` → ``{"state"}``, ``reconcile`` →
  204 (agents and supervisors), ``photo`` → the image bytes.
* Printers: the agent PUTs each printer's state and GETs its site's printers;
  a supervisor clears a fault, which the agent sees on its next GET.
* ``POST /v1/agent/jobs/{id}/spoiled`` ``{"worker", "attempt", "cause", "printer"}``
  → ``{"recorded"}``: a body that attempt fed and did not deliver, reported from the
  agent's journal when the service never heard of the feed or the job moved on;
  recorded once per attempt. ``reconcile`` with ``attempt`` is refused (404) while the
  job is in doubt for another attempt.
* ``POST /v1/agent/release`` ``{"worker", "keep"}``: a restarted agent gives back
  the jobs its worker holds at step idle (requeued at once, the attempt not counted).
* A job whose card may physically exist (``printing`` was announced and no
  evidence settled it) is refused cancel, redrive and reorder (409
  ``card_may_exist``, naming the card and what to look for) until a supervisor
  ``POST /v1/jobs/{id}/evidence`` ``{"kind": "card_read", "read_back"}`` (the card's
  chip, read from the hopper: the job succeeds) or ``{"kind": "no_card"}``.
* Dead-lettered jobs: a supervisor of the card's bank ``POST
  /v1/jobs/{id}/cancel`` ``{"reason"}`` (its card in production is spoiled)
  or ``POST /v1/jobs/{id}/redrive`` (back to the queue); both answer
  ``{"job_id", "state", "card"}`` (:mod:`issuance.services.jobs`).
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from issuance.api import views
from issuance.api.deps import CtxDep
from issuance.api.direct import DirectRoute
from issuance.api.idempotency import Outcome, idempotent, render
from issuance.api.schemas import (
    CancelJobIn,
    ClaimIn,
    ClaimOut,
    CompleteIn,
    EvidenceIn,
    EvidenceOut,
    FailIn,
    FailOut,
    HeartbeatIn,
    JobDecisionOut,
    PrinterIn,
    PrintersOut,
    ReconcileIn,
    ReleaseIn,
    ReleaseOut,
    SpoiledIn,
    SpoiledOut,
)
from issuance.services import dispatch, jobs
from issuance.store import PrinterRecord, Store

router = APIRouter(prefix="/v1", route_class=DirectRoute)
AGENT: list[str | Enum] = ["agent"]
JOBS: list[str | Enum] = ["jobs"]
JobId = Annotated[int, Path(ge=1, le=2**63 - 1)]
Name = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Site = Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[^\x00]+$")]


@router.post(
    "/agent/claim", response_model=ClaimOut, tags=AGENT,
    responses={403: {"description": "psam_refused (with a reason) or wrong_site"}},
)  # fmt: skip
async def claim(body: ClaimIn, ctx: CtxDep) -> Response:
    """Claim up to ``limit`` jobs of ``site``, waiting up to ``wait_seconds`` for work."""
    claimed = await dispatch.claim(
        ctx.store, ctx.queue, ctx.op, worker=body.worker, site=body.site,
        capabilities=body.capabilities, limit=body.limit,
        wait_seconds=body.wait_seconds, gone=ctx.request.is_disconnected,
        wakeups=ctx.request.app.state.rt.wakeups, psam=body.psam,
    )  # fmt: skip
    return render(200, views.claimed(claimed))


@router.post("/agent/jobs/{job_id}/heartbeat", status_code=204, tags=AGENT)
async def heartbeat(job_id: JobId, body: HeartbeatIn, ctx: CtxDep) -> Response:
    """Extend the lease and report the physical step (409 ``lease_lost``)."""
    await dispatch.heartbeat(
        ctx.store, ctx.queue, ctx.op, job_id, worker=body.worker, step=body.step
    )
    return Response(status_code=204)


@router.post("/agent/jobs/{job_id}/complete", status_code=204, tags=AGENT)
async def complete(job_id: JobId, body: CompleteIn, ctx: CtxDep) -> Response:
    """The job is done: it leaves the queue and its card becomes ready, together."""

    async def run(tx: Store) -> Outcome:
        await dispatch.complete(
            tx, ctx.queue, ctx.op, job_id, worker=body.worker, result=body.result
        )
        return 204, None

    return await idempotent(ctx, run)


@router.post("/agent/jobs/{job_id}/fail", response_model=FailOut, tags=AGENT)
async def fail(job_id: JobId, body: FailIn, ctx: CtxDep) -> Response:
    """A failure: retried later (transient) or dead-lettered; a spoiled card body is recorded."""
    failure = dispatch.Failure(
        body.worker, body.error, body.transient, body.spoiled_card, body.printer
    )

    async def run(tx: Store) -> Outcome:
        state = await dispatch.fail(tx, ctx.queue, ctx.op, job_id, failure)
        return 200, {"state": state.value}

    return await idempotent(ctx, run)


@router.post("/agent/jobs/{job_id}/reconcile", status_code=204, tags=AGENT)
async def reconcile(job_id: JobId, body: ReconcileIn, ctx: CtxDep) -> Response:
    """Settle an in-doubt job (agents and supervisors): made, not_started or failed."""

    spoiled = None
    if body.spoiled_card:
        spoiled = dispatch.Spoiled(body.printer, body.note or "spoiled (no cause given)")

    async def run(tx: Store) -> Outcome:
        await dispatch.reconcile(
            tx, ctx.queue, ctx.op, job_id, outcome=body.outcome, note=body.note,
            result=body.result, spoiled=spoiled, attempt=body.attempt,
        )  # fmt: skip
        return 204, None

    return await idempotent(ctx, run)


@router.post("/agent/jobs/{job_id}/spoiled", response_model=SpoiledOut, tags=AGENT)
async def spoiled(job_id: JobId, body: SpoiledIn, ctx: CtxDep) -> Response:
    """A body an attempt fed and did not deliver, from the agent's journal: recorded once
    per attempt, whatever became of the job since."""
    report = dispatch.SpoiledBody(body.attempt, body.printer, body.cause)

    async def run(tx: Store) -> Outcome:
        recorded = await dispatch.record_spoiled_body(tx, ctx.queue, ctx.op, job_id, report)
        return 200, {"recorded": recorded}

    return await idempotent(ctx, run)


@router.post("/agent/release", response_model=ReleaseOut, tags=AGENT)
async def release(body: ReleaseIn, ctx: CtxDep) -> Response:
    """A restarted agent gives back the jobs its worker holds at step idle, at once."""
    released = await dispatch.release(ctx.queue, ctx.op, body.worker, body.keep)
    return render(200, {"released": released})


@router.post("/jobs/{job_id}/evidence", response_model=EvidenceOut, tags=JOBS)
async def evidence(job_id: JobId, body: EvidenceIn, ctx: CtxDep) -> Response:
    """A supervisor settles a job whose card may exist: the card's chip read, or no card."""
    found = dispatch.Evidence(
        dispatch.EvidenceKind(body.kind), body.note, body.read_back, body.printer
    )

    async def run(tx: Store) -> Outcome:
        state = await dispatch.record_evidence(tx, ctx.queue, ctx.op, job_id, found)
        return 200, {"job_id": job_id, "state": state.value}

    return await idempotent(ctx, run)


@router.get(
    "/agent/jobs/{job_id}/photo",
    tags=AGENT,
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}},
)
async def photo(job_id: JobId, ctx: CtxDep) -> Response:
    """The holder photo of a card job."""
    image, media_type = await dispatch.photo(ctx.store, ctx.queue, ctx.op, job_id)
    return Response(image, media_type=media_type)


@router.put("/agent/printers/{name}", status_code=204, tags=AGENT)
async def put_printer(name: Name, body: PrinterIn, ctx: CtxDep) -> Response:
    """The agent reports a printer's state."""
    record = PrinterRecord(body.site, name, body.status, body.fault)
    await dispatch.report_printer(ctx.store, ctx.op, name, record)
    return Response(status_code=204)


@router.get("/agent/printers", response_model=PrintersOut, tags=AGENT)
async def get_printers(site: Site, ctx: CtxDep) -> Response:
    """The printers of a site, as last reported or cleared."""
    found = await dispatch.printers(ctx.store, ctx.op, site)
    return render(200, {"printers": [views.printer(p) for p in found]})


@router.post("/outlets/{code}/printers/{name}/clear", status_code=204, tags=AGENT)
async def clear_printer(code: Name, name: Name, ctx: CtxDep) -> Response:
    """A supervisor clears a printer fault."""
    await dispatch.clear_printer(ctx.store, ctx.op, code, name)
    return Response(status_code=204)


@router.post("/jobs/{job_id}/cancel", response_model=JobDecisionOut, tags=JOBS)
async def cancel_job(job_id: JobId, body: CancelJobIn, ctx: CtxDep) -> Response:
    """A supervisor gives up a queued or dead job; its card in production is spoiled."""

    async def run(tx: Store) -> Outcome:
        decision = await jobs.cancel(tx, ctx.queue, ctx.op, job_id, reason=body.reason)
        return 200, views.job_decision(decision)

    return await idempotent(ctx, run)


@router.post("/jobs/{job_id}/redrive", response_model=JobDecisionOut, tags=JOBS)
async def redrive_job(job_id: JobId, ctx: CtxDep) -> Response:
    """A supervisor sends a dead job back to the queue with fresh attempts."""

    async def run(tx: Store) -> Outcome:
        return 200, views.job_decision(await jobs.redrive(tx, ctx.queue, ctx.op, job_id))

    return await idempotent(ctx, run)
