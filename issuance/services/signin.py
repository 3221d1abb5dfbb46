"""Sign-in for people at the pages: a browser session over the operators' credentials.

The name, password and (for the roles the credential policy names, or an
operator who enrolled one) the TOTP code are checked by
:func:`issuance.services.credentials.sign_in`, with its throttling of failures
and its audit record; the bearer token it issues is revoked at once, since the
browser holds a session instead. A one-time link is a random token valid for
:data:`LINK_LIFETIME` and usable once. A session is a random token in a cookie,
stored as its SHA-256, with its own CSRF token; it ends after
:data:`SESSION_LIFETIME` or :data:`SESSION_IDLE` without a request, or at
sign-out. Agents sign no one in: bearer tokens stay for machines.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from issuance.domain.credentials import CredentialPolicy
from issuance.domain.roles import Role
from issuance.services import credentials
from issuance.services.common import now
from issuance.store import Operator, Store
from issuance.store.pages import PagesStore, SessionRow
from sscard_core.errors import AuthError, FieldError

LINK_LIFETIME = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(hours=10)
SESSION_IDLE = timedelta(minutes=30)
PEOPLE = frozenset(role for role in Role if role is not Role.AGENT)  # machines keep tokens


def _person(op: Operator | None) -> Operator:
    if op is None or op.role not in PEOPLE:
        raise FieldError("name", "no such person", code="unknown_operator")
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


@dataclass(frozen=True)
class Attempt:
    """What the sign-in form sent, and from where."""

    name: str
    password: str
    totp_code: str | None
    address: str


async def sign_in(
    store: Store, pages: PagesStore, attempt: Attempt, policy: CredentialPolicy
) -> NewSession:
    """A session for a person's name, password and second factor (the credentials' errors)."""
    done = await credentials.sign_in(
        store, attempt.name[:64], attempt.password, attempt.totp_code or None,
        address=attempt.address, policy=policy,
    )  # fmt: skip
    await store.revoke_token(done.token.token_id)  # the browser holds a session, not a token
    return await _open(pages, _person(done.operator))


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
