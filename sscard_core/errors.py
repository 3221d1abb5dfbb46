"""Every error sscard raises, under one base class.

Each error carries a machine-readable ``code`` (stable, used in HTTP bodies and
CLI output), a human ``message`` and structured fields. Library errors
(asyncpg, Pillow, pyscard, sockets) are converted at the boundary with
``raise ... from exc`` so callers only ever catch these.

    SscardError
    ├── InputError                  bad input at a door: HTTP 422, CLI exit 2
    │   ├── FieldError              one field of one record (optionally a line number)
    │   ├── BatchRejected           several FieldErrors, e.g. a batch file
    │   ├── PhotoError              a photo that is not a usable JPEG/PNG
    │   ├── UnprintableName         a character the card font cannot draw
    │   └── PayloadTooLarge         a request body over its cap: HTTP 413
    ├── AuthError                   missing or unknown bearer token: HTTP 401
    ├── Forbidden                   the operator's role may not do this: HTTP 403
    ├── NotFound                    no such record (visible to this operator): HTTP 404
    ├── ConflictError               the request clashes with current state: HTTP 409
    │   ├── TransitionForbidden     the card's state does not allow this service
    │   ├── IdempotencyConflict     an idempotency key reused with another request
    │   └── FeeWaiverBreached       a fee schedule charges a waived item (第五条(五))
    ├── QueueError                  the card-job queue
    │   ├── JobNotFound
    │   ├── LeaseLost               the worker no longer holds the job's lease
    │   └── InvalidJob              a job that cannot be enqueued (names the item)
    ├── DatabaseError               the database is unreachable or misbehaves
    ├── VaultError                  master key, data keys, sealed values (issuance.vault)
    └── DeviceError                 printers, encoders, PSAM
        ├── TransportError          bytes could not be sent or received
        ├── ProtocolError           a device reply that cannot be parsed
        ├── PrinterFault            the printer reported a fault (see printers.devices.evolis)
        └── ChipError               the card answered a status word other than 90 00
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


class SscardError(Exception):
    """Base of every sscard error."""

    code: str = "error"
    http_status: int = 500

    def __init__(self, message: str, *, code: str | None = None, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.fields: dict[str, Any] = fields

    def to_dict(self) -> dict[str, Any]:
        """The error as the JSON body the API returns."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        body.update({k: v for k, v in self.fields.items() if v is not None})
        return body


class InputError(SscardError):
    code = "invalid_input"
    http_status = 422


@dataclass(frozen=True)
class FieldProblem:
    """One problem with one field, optionally at a line of a file."""

    field: str
    code: str
    message: str
    line: int | None = None
    value: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field, "code": self.code, "message": self.message}
        if self.line is not None:
            out["line"] = self.line
        return out


class FieldError(InputError):
    """A single field is wrong."""

    def __init__(
        self, field: str, message: str, *, code: str = "invalid_field", line: int | None = None
    ) -> None:
        super().__init__(f"{field}: {message}", code=code, field=field, line=line)
        self.problem = FieldProblem(field=field, code=code, message=message, line=line)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": "invalid_input",
            "message": self.message,
            "errors": [self.problem.to_dict()],
        }


class PayloadTooLarge(InputError):
    """A request body larger than the door accepts; it was not read to its end."""

    code = "payload_too_large"
    http_status = 413


class BatchRejected(InputError):
    """Several records are wrong; nothing was written."""

    code = "batch_rejected"

    def __init__(self, problems: Sequence[FieldProblem], message: str | None = None) -> None:
        super().__init__(message or f"{len(problems)} problem(s); nothing was accepted")
        self.problems = list(problems)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "errors": [p.to_dict() for p in self.problems],
        }


class PhotoError(InputError):
    code = "invalid_photo"


class UnprintableName(InputError):
    code = "unprintable_character"

    def __init__(self, name: str, characters: str) -> None:
        super().__init__(
            f"the card font cannot draw {characters!r} in the name {name!r}",
            characters=characters,
        )
        self.characters = characters


class AuthError(SscardError):
    code = "unauthenticated"
    http_status = 401


class TooManyAttempts(SscardError):
    """Sign-in refused for a while: too many recent failures for this operator or address."""

    code = "too_many_attempts"
    http_status = 429


class Forbidden(SscardError):
    code = "forbidden"
    http_status = 403


class NotFound(SscardError):
    code = "not_found"
    http_status = 404


class ConflictError(SscardError):
    code = "conflict"
    http_status = 409


class TransitionForbidden(ConflictError):
    code = "transition_forbidden"

    def __init__(self, action: str, state: str, message: str | None = None) -> None:
        super().__init__(
            message or f"{action} is not allowed while the card is {state}",
            action=action,
            current_state=state,
        )
        self.action = action
        self.state = state


class IdempotencyConflict(ConflictError):
    code = "idempotency_key_reused"


class FeeWaiverBreached(ConflictError):
    code = "fee_waiver_breached"
    http_status = 422


class QueueError(SscardError):
    code = "queue_error"


class JobNotFound(QueueError):
    code = "job_not_found"
    http_status = 404


class LeaseLost(QueueError):
    code = "lease_lost"
    http_status = 409


class InvalidJob(QueueError):
    code = "invalid_job"
    http_status = 422


class DatabaseError(SscardError):
    code = "database_unavailable"
    http_status = 503


class DeviceError(SscardError):
    code = "device_error"
    http_status = 502


class TransportError(DeviceError):
    code = "device_transport"


class ProtocolError(DeviceError):
    code = "device_protocol"


class PrinterFault(DeviceError):
    code = "printer_fault"


class ChipError(DeviceError):
    code = "chip_error"


def problems_of(fields: Mapping[str, str], *, line: int | None = None) -> list[FieldProblem]:
    """Turn ``{field: message}`` into FieldProblems (handy for validators)."""
    return [
        FieldProblem(field=f, code="invalid_field", message=m, line=line) for f, m in fields.items()
    ]


class VaultError(SscardError):
    """Keys and sealed values: a missing or wrong master key, a value that fails to open."""

    code = "vault_error"
    http_status = 503
