"""A typed HTTP client for the agent side of the central service's API.

The agent talks to the service over HTTP only (never to the database). Every
call here is one endpoint of the agent contract (``/v1/agent/...``), takes
and returns the values of :mod:`printers.agent.orders`, and converts what can
go wrong into :mod:`sscard_core.errors`:

* an HTTP error status becomes the error class of :data:`STATUS_ERRORS` (409 on
  a job is :class:`~sscard_core.errors.LeaseLost`, 404 on a job is
  :class:`~sscard_core.errors.JobNotFound`), carrying the body's ``code`` and
  ``message``;
* a connection failure or time-out becomes :class:`ApiUnavailable`, and so does
  a 502/503/504 answer (:class:`ServiceUnavailable`: retry after a back-off);
* a body that does not fit the contract becomes
  :class:`~sscard_core.errors.ProtocolError`.

``claim`` is a long poll: its read time-out is the poll's ``wait_seconds``
plus a margin, so the server always answers first.

The client may be given several addresses of the service (API nodes sharing one
database). It sends to one of them; when that one does not answer, or answers
502/503/504, the call fails as :class:`ApiUnavailable` and the client moves to
the next address, where the agent's retry then goes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType, TracebackType
from typing import Any, Self

import httpx

from printers.agent.orders import ClaimedJob, JobFailure, PrinterReport
from sscard_core.errors import (
    AuthError,
    ConflictError,
    Forbidden,
    InputError,
    JobNotFound,
    LeaseLost,
    NotFound,
    ProtocolError,
    SscardError,
)
from sscard_core.messages import JobKind, JobStep, PrinterHealth, Reconciliation

POLL_MARGIN_SECONDS = 10.0
DEFAULT_TIMEOUT = 15.0
CAPABILITIES = ("print_encode",)


class ApiUnavailable(SscardError):
    """The central service could not be reached or did not answer in time."""

    code = "api_unavailable"
    http_status = 503


class ServiceUnavailable(ApiUnavailable):
    """The service answered 502/503/504 (its database restarting, a proxy without it)."""

    code = "database_unavailable"


STATUS_ERRORS: Mapping[int, type[SscardError]] = MappingProxyType(
    {
        401: AuthError,
        403: Forbidden,
        404: NotFound,
        409: ConflictError,
        422: InputError,
        502: ServiceUnavailable,
        503: ServiceUnavailable,
        504: ServiceUnavailable,
    }
)
UNAVAILABLE = frozenset({502, 503, 504})  # this node cannot serve now: the next one may
JOB_STATUS_ERRORS: Mapping[int, type[SscardError]] = MappingProxyType(
    {**STATUS_ERRORS, 404: JobNotFound, 409: LeaseLost}
)


def _error_for(response: httpx.Response, table: Mapping[int, type[SscardError]]) -> SscardError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    message = str(body.get("message") or f"HTTP {response.status_code} from {response.url.path}")
    kind = table.get(response.status_code, SscardError)
    return kind(message, code=body.get("code"), status=response.status_code)


def _job(row: Mapping[str, Any]) -> ClaimedJob:
    try:
        return ClaimedJob(
            id=int(row["id"]),
            kind=JobKind(row["kind"]),
            priority=int(row["priority"]),
            attempts=int(row["attempts"]),
            lease_seconds=float(row["lease_seconds"]),
            payload=MappingProxyType(dict(row.get("payload") or {})),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ProtocolError(f"a claimed job that does not fit the contract: {row!r}") from exc


def _printer(row: Mapping[str, Any]) -> PrinterReport:
    try:
        fault = row.get("fault")
        return PrinterReport(str(row["name"]), PrinterHealth(row["status"]), fault and str(fault))
    except (KeyError, ValueError) as exc:
        raise ProtocolError(f"a printer row that does not fit the contract: {row!r}") from exc


class AgentClient:
    """The agent endpoints of the API, as one operator (role ``agent``) named ``worker``."""

    def __init__(
        self,
        base_url: str | Sequence[str],
        token: str,
        *,
        worker: str,
        site: str,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        psam: str | None = None,
    ) -> None:
        self.worker = worker
        self.site = site
        self.psam = psam  # the serial of the station's PSAM, named in every claim
        self._timeout = timeout
        self.addresses = (base_url,) if isinstance(base_url, str) else tuple(base_url)
        if not self.addresses:
            raise InputError("the agent needs at least one address of the service")
        self._current = 0
        self._http = httpx.AsyncClient(
            headers={"Authorization": f"Bearer {token}"}, transport=transport, timeout=timeout
        )

    @property
    def address(self) -> str:
        """The address the next call goes to."""
        return self.addresses[self._current]

    def _move_on(self) -> None:
        self._current = (self._current + 1) % len(self.addresses)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        read_seconds: float | None = None,
        errors: Mapping[int, type[SscardError]] = STATUS_ERRORS,
    ) -> httpx.Response:
        url = path if path.startswith(("http://", "https://")) else self.address.rstrip("/") + path
        try:
            response = await self._http.request(
                method, url, json=body, params=params, timeout=read_seconds or self._timeout
            )
        except httpx.HTTPError as exc:
            self._move_on()
            raise ApiUnavailable(f"{method} {path}: {exc.__class__.__name__}", path=path) from exc
        if response.is_error:
            if response.status_code in UNAVAILABLE:
                self._move_on()
            raise _error_for(response, errors)
        return response

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError as exc:
            raise ProtocolError(f"{response.url.path} answered no JSON") from exc
        if not isinstance(body, dict):
            raise ProtocolError(f"{response.url.path} answered {type(body).__name__}, not object")
        return body

    async def claim(
        self, *, limit: int = 1, wait_seconds: float = 20.0, capabilities: tuple[str, ...] = ()
    ) -> list[ClaimedJob]:
        """Long-poll for up to ``limit`` jobs; an empty list when the wait ran out."""
        body = {
            "worker": self.worker,
            "site": self.site,
            "capabilities": list(capabilities or CAPABILITIES),
            "limit": limit,
            "wait_seconds": wait_seconds,
        }
        if self.psam is not None:
            body["psam"] = self.psam
        read_seconds = wait_seconds + POLL_MARGIN_SECONDS
        response = await self._call("POST", "/v1/agent/claim", body=body, read_seconds=read_seconds)
        jobs = self._json(response).get("jobs")
        if not isinstance(jobs, list):
            raise ProtocolError("the claim answer has no list of jobs")
        return [_job(row) for row in jobs]

    async def heartbeat(self, job_id: int, step: JobStep) -> None:
        """Extend the lease and announce ``step``; LeaseLost if the job is no longer ours."""
        body = {"worker": self.worker, "step": step.value}
        path = f"/v1/agent/jobs/{job_id}/heartbeat"
        await self._call("POST", path, body=body, errors=JOB_STATUS_ERRORS)

    async def complete(self, job_id: int, result: Mapping[str, Any]) -> None:
        body = {"worker": self.worker, "result": dict(result)}
        path = f"/v1/agent/jobs/{job_id}/complete"
        await self._call("POST", path, body=body, errors=JOB_STATUS_ERRORS)

    async def fail(self, job_id: int, failure: JobFailure) -> None:
        body = {
            "worker": self.worker,
            "error": failure.error,
            "transient": failure.transient,
            "spoiled_card": failure.spoiled_card,
            "printer": failure.printer,
        }
        path = f"/v1/agent/jobs/{job_id}/fail"
        await self._call("POST", path, body=body, errors=JOB_STATUS_ERRORS)

    async def reconcile(
        self,
        job_id: int,
        outcome: Reconciliation,
        note: str,
        result: Mapping[str, Any] | None = None,
        *,
        spoiled_card: bool = False,
        printer: str | None = None,
        attempt: int | None = None,
    ) -> None:
        """Settle an in-doubt job; JobNotFound while the queue does not hold it in doubt
        (for ``attempt``, when given)."""
        body = {
            "outcome": outcome.value, "note": note[:2000], "result": dict(result or {}),
            "spoiled_card": spoiled_card, "printer": printer, "attempt": attempt,
        }  # fmt: skip
        path = f"/v1/agent/jobs/{job_id}/reconcile"
        await self._call("POST", path, body=body, errors=JOB_STATUS_ERRORS)

    async def spoiled(self, job_id: int, attempt: int, printer: str | None, cause: str) -> None:
        """Report a body that ``attempt`` fed and did not deliver (recorded once)."""
        body = {"worker": self.worker, "attempt": attempt, "printer": printer,
                "cause": cause[:2000] or "spoiled"}  # fmt: skip
        path = f"/v1/agent/jobs/{job_id}/spoiled"
        await self._call("POST", path, body=body, errors=JOB_STATUS_ERRORS)

    async def release(self, keep: Sequence[int] = ()) -> list[int]:
        """Give back the jobs this worker holds at step idle, but ``keep``; their ids."""
        body = {"worker": self.worker, "keep": list(keep)}
        response = await self._call("POST", "/v1/agent/release", body=body)
        released = self._json(response).get("released")
        if not isinstance(released, list):
            raise ProtocolError("the release answer has no list of jobs")
        return [int(job) for job in released]

    async def photo(self, url: str) -> bytes:
        """The holder photo at ``url`` (the ``photo_url`` of a card job)."""
        response = await self._call("GET", url, errors=JOB_STATUS_ERRORS)
        return response.content

    async def put_printer(self, name: str, status: PrinterHealth, fault: str | None) -> None:
        body = {"site": self.site, "status": status.value, "fault": fault}
        await self._call("PUT", f"/v1/agent/printers/{name}", body=body)

    async def printers(self) -> list[PrinterReport]:
        response = await self._call("GET", "/v1/agent/printers", params={"site": self.site})
        rows = self._json(response).get("printers")
        if not isinstance(rows, list):
            raise ProtocolError("the printer register answer has no list of printers")
        return [_printer(row) for row in rows]
