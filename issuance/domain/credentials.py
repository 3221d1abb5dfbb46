"""Operators' credentials: token lifetimes, passwords (scrypt) and TOTP second factors.

The policy is data (:class:`CredentialPolicy`, read from the environment by
:mod:`issuance.config`); passwords are hashed with the standard library's
scrypt and compared in constant time; TOTP codes (RFC 6238, 30-second steps)
are checked with ``pyotp``, which also makes the secrets and the ``otpauth://``
URI an authenticator app reads. A code is accepted one step either side of
now, and only once: the step it matched is returned so the caller can refuse a
replay.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pyotp

from issuance.domain.roles import Role

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SCRYPT_LENGTH = 32
MIN_PASSWORD = 12
MAX_PASSWORD = 256
TOTP_ISSUER = "sscard"


@dataclass(frozen=True)
class CredentialPolicy:
    """How long tokens live, who needs a second factor, how many failures are allowed."""

    token_ttl: timedelta = timedelta(hours=12)
    agent_token_ttl: timedelta = timedelta(days=90)
    second_factor_roles: frozenset[Role] = field(
        default_factory=lambda: frozenset({Role.SUPERVISOR, Role.BUREAU_AUDITOR, Role.BUREAU_ADMIN})
    )
    max_failures_per_operator: int = 5
    max_failures_per_address: int = 20
    failure_window: timedelta = timedelta(minutes=15)

    def ttl(self, role: Role) -> timedelta:
        """The lifetime of a token of ``role`` (an outlet agent's is longer: it is a machine)."""
        return self.agent_token_ttl if role is Role.AGENT else self.token_ttl


def new_token() -> str:
    return secrets.token_urlsafe(32)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt$hash`` (base64) of ``password``."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=SCRYPT_LENGTH
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def check_password(password: str, stored: str | None) -> bool:
    """True if ``password`` matches ``stored``; with nothing stored, the same work, then False."""
    if stored is None:
        hash_password(password)  # as slow as a real check: names are not probed by timing
        return False
    kind, n, r, p, salt, digest = stored.split("$")
    if kind != "scrypt":
        return False
    expected = base64.b64decode(digest)
    got = hashlib.scrypt(
        password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
        dklen=len(expected),
    )  # fmt: skip
    return hmac.compare_digest(got, expected)


def password_problem(password: str) -> str | None:
    """Why ``password`` is not acceptable, or None."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        return f"must be {MIN_PASSWORD} to {MAX_PASSWORD} characters"
    return None


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, operator: str) -> str:
    """The ``otpauth://`` URI an authenticator app enrols from (shown as text or a QR code)."""
    return pyotp.TOTP(secret).provisioning_uri(name=operator, issuer_name=TOTP_ISSUER)


def totp_code(secret: str, at: datetime) -> str:
    """The code an authenticator shows at ``at`` (tests and the enrolment check)."""
    return pyotp.TOTP(secret).at(at)


def totp_step(secret: str, code: str, at: datetime) -> int | None:
    """The time step ``code`` belongs to (one step either side of ``at``), or None."""
    totp = pyotp.TOTP(secret)
    for offset in (0, -1, 1):
        moment = at + timedelta(seconds=offset * totp.interval)
        if hmac.compare_digest(totp.at(moment), code):
            return int(totp.timecode(moment))
    return None
