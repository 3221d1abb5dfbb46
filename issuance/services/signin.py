"""Sign-in for people at the pages: passwords, one-time sign-in links and sessions.

Passwords are hashed with ``hashlib.scrypt`` (N=2^14, r=8, p=1, a 16-byte
salt), stored as ``scrypt$N$r$p$salt$hash``; a one-time link is a random token
valid for :data:`LINK_LIFETIME` and usable once. A session is a random token in
a cookie, stored as its SHA-256, with its own CSRF token; it ends after
:data:`SESSION_LIFETIME` or :data:`SESSION_IDLE` without a request, or at sign-out.
Agents sign no one in: bearer tokens stay for machines.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from issuance.domain.roles import Role
from issuance.services.common import now
from issuance.store import Operator
from issuance.store.pages import PagesStore, SessionRow
from sscard_core.errors import AuthError, FieldError

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SALT_BYTES = 16
MIN_PASSWORD = 10
MAX_PASSWORD = 256
LINK_LIFETIME = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(hours=10)
SESSION_IDLE = timedelta(minutes=30)
PEOPLE = frozenset(role for role in Role if role is not Role.AGENT)  # machines keep tokens


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024)


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt$hash`` of a password (FieldError if too short or too long)."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise FieldError("password", f"must be {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a stored hash (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt" or len(password) > MAX_PASSWORD:
            return False
        found = _scrypt(password, _unb64(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(found, _unb64(digest))


def _person(op: Operator | None) -> Operator:
    if op is None or op.role not in PEOPLE:
        raise FieldError("name", "no such person", code="unknown_operator")
    return op


async def set_password(store: PagesStore, name: str, password: str) -> Operator:
    """Give the operator ``name`` (a person, not an agent) a password."""
    op = _person(await store.operator_by_name(name))
    await store.set_password(op.id, hash_password(password))
    return op


async def sign_in_link(store: PagesStore, name: str) -> str:
    """A one-time token for ``/signin/link/<token>``, valid :data:`LINK_LIFETIME`."""
    op = _person(await store.operator_by_name(name))
    token = secrets.token_urlsafe(32)
    await store.insert_link(token, op.id, now() + LINK_LIFETIME)
    return token


@dataclass(frozen=True)
class NewSession:
    token: str  # for the cookie only
    csrf: str
    operator: Operator


async def _open(store: PagesStore, op: Operator) -> NewSession:
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    await store.insert_session(token, op.id, csrf, now() + SESSION_LIFETIME)
    return NewSession(token, csrf, op)


# A hash to verify against when the name is unknown, so both answers take as long.
_DUMMY = f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(b'0' * 16)}${_b64(b'0' * 64)}"


async def sign_in(store: PagesStore, name: str, password: str) -> NewSession:
    """A session for a name and password (AuthError, the same for any wrong part)."""
    op = await store.operator_by_name(name[:64])
    stored = None if op is None or op.role not in PEOPLE else await store.password_of(op.id)
    if not verify_password(password, stored or _DUMMY) or op is None or stored is None:
        raise AuthError("wrong name or password", code="sign_in_refused")
    return await _open(store, op)


async def sign_in_with_link(store: PagesStore, token: str) -> NewSession:
    """A session for a one-time link (AuthError when unknown, used or expired)."""
    operator_id = await store.use_link(token[:100])
    op = None if operator_id is None else await store.operator_by_id(operator_id)
    if op is None:
        raise AuthError("this sign-in link is unknown, used or expired", code="link_refused")
    return await _open(store, op)


async def session(store: PagesStore, token: str) -> SessionRow | None:
    """The live session behind a cookie (its idle clock restarts), or None."""
    if not token or len(token) > 100:
        return None
    return await store.touch_session(token, SESSION_IDLE)


async def sign_out(store: PagesStore, token: str) -> None:
    await store.delete_session(token[:100])
    await store.prune_sessions(SESSION_IDLE)
