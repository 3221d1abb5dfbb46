"""The data keys and the retention sweep over HTTP (the bureau's administrators).

* ``GET /v1/keys``: every data key (id, purpose, dates, values sealed under it)
  and the progress of this process's rotation, if any.
* ``POST /v1/keys/rotate`` ``{"activate_in_seconds"?, "batch"?, "blind_index"?}``
  → 202: a new data key (or blind-index key), then (in the background) every
  value sealed (or holder indexed) again under it and the older keys retired;
  ``GET /v1/keys`` shows ``rows_done`` of ``rows_total``.
  409 ``rotation_running`` while one runs in this process.
* ``POST /v1/keys/{key_id}/destroy``: a retired key no value names any more;
  409 ``key_not_retired``, ``key_destroyed`` or ``key_in_use``.
* ``POST /v1/retention/run`` ``{"dry_run"?}``: erase (or count) what is past its
  retention period; the rows per kind.

Every call is recorded in the audit trail.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from issuance.api.deps import CtxDep, runtime
from issuance.api.direct import DirectRoute
from issuance.api.idempotency import render
from issuance.api.schemas import RetentionIn, RotateIn
from issuance.services import keys, retention
from sscard_core.errors import ConflictError

router = APIRouter(prefix="/v1", route_class=DirectRoute)
TAGS: list[str | Enum] = ["keys and retention"]
KeyId = Annotated[int, Path(ge=1, le=2_147_483_647)]


def _rotation(request: Request) -> keys.Rotation | None:
    found: keys.Rotation | None = getattr(request.app.state, "rotation", None)
    return found


def key_view(k: keys.KeyState) -> dict[str, Any]:
    return {"id": k.id, "purpose": k.purpose, "active_from": k.active_from,
            "retired_at": k.retired_at, "destroyed_at": k.destroyed_at,
            "values": k.values}  # fmt: skip


@router.get("/keys", tags=TAGS)
async def list_keys(ctx: CtxDep) -> Response:
    """Every data key with the number of values sealed under it, and the rotation's progress."""
    table = await keys.read_keys(ctx.store, ctx.op)
    rotation = _rotation(ctx.request)
    return render(200, {"keys": [key_view(k) for k in table],
                        "rotation": None if rotation is None else rotation.view()})  # fmt: skip


@router.post("/keys/rotate", status_code=202, tags=TAGS)
async def rotate_keys(body: RotateIn, ctx: CtxDep) -> Response:
    """A new data key; every value is sealed again under it in the background."""
    running = _rotation(ctx.request)
    if running is not None and running.running:
        raise ConflictError(
            f"data key {running.key_id} is being rolled out", code="rotation_running"
        )
    rt = await runtime(ctx.request)
    delay = timedelta(seconds=body.activate_in_seconds)
    rotation = await keys.start_rotation(ctx.store, ctx.op, delay, blind_index=body.blind_index)
    state = ctx.request.app.state
    state.rotation = rotation
    state.rotation_task = asyncio.create_task(rotation.run(rt.store, body.batch))
    return render(202, rotation.view())


@router.post("/keys/{key_id}/destroy", tags=TAGS)
async def destroy_key(key_id: KeyId, ctx: CtxDep) -> Response:
    """Destroy a retired data key under which no value is sealed any more."""
    at = await keys.destroy_key_by(ctx.store, ctx.op, key_id)
    return render(200, {"id": key_id, "destroyed_at": at})


@router.post("/retention/run", tags=TAGS)
async def run_retention(body: RetentionIn, ctx: CtxDep) -> Response:
    """Erase (or, with ``dry_run``, count) the personal data past its retention period."""
    rt = await runtime(ctx.request)
    rules = retention.RetentionRules.from_env(attempt_window=rt.settings.credentials.failure_window)
    done = await retention.run_by(ctx.store, ctx.op, rules, dry_run=body.dry_run)
    kinds = {k.value: {"rows": n, "kept_seconds": int(rules.kept(k).total_seconds())}
             for k, n in done.items()}  # fmt: skip
    return render(200, {"dry_run": body.dry_run, "kinds": kinds})
