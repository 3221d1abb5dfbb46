"""Operators' credentials: sign-in with a second factor, token rotation and revocation.

Tokens are random (``secrets.token_urlsafe``), shown once and stored as their
SHA-256 with an expiry (:class:`issuance.domain.credentials.CredentialPolicy`).
A revoked token is refused on the next request: revocation notifies every
server process (``pg_notify``), whose cache of operators is dropped.

Sign-in (name, password and, for the roles the policy names or an operator
who enrolled one, a TOTP code) is refused for a while after too many recent
failures of the same operator name or from the same address; failures are
recorded outside any transaction, so a refusal never rolls them back. The
password is checked in a worker thread (scrypt costs tens of milliseconds).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

from issuance.domain.credentials import (
    CredentialPolicy,
    check_password,
    hash_password,
    new_token,
    new_totp_secret,
    password_problem,
    totp_step,
    totp_uri,
)
from issuance.domain.roles import Operation, Role
from issuance.services.common import AuditAction, Purpose, audit, check
from issuance.store import Credentials, IssuedToken, Operator, Store
from sscard_core.errors import AuthError, FieldError, Forbidden, NotFound, TooManyAttempts


@dataclass(frozen=True)
class SignedIn:
    operator: Operator
    token: IssuedToken


@dataclass(frozen=True)
class TotpEnrolment:
    secret: str
    uri: str


async def _named(store: Store, name: str) -> Credentials:
    found = await store.credentials(name)
    if found is None:
        raise NotFound(f"no operator {name}", resource="operator")
    return found


async def issue(store: Store, name: str, policy: CredentialPolicy) -> IssuedToken:
    """A new token for operator ``name`` (the admin command; other tokens stay live)."""
    op = (await _named(store, name)).operator
    return await store.insert_token(op.id, new_token(), "issued", policy.ttl(op.role))


async def rotate_named(store: Store, name: str, policy: CredentialPolicy) -> IssuedToken:
    """Revoke every token of operator ``name`` and issue one new one (the admin command)."""
    op = (await _named(store, name)).operator
    async with store.transaction() as tx:
        await tx.revoke_tokens_of(op.id)
        return await tx.insert_token(op.id, new_token(), "rotation", policy.ttl(op.role))


async def revoke_named(store: Store, name: str) -> int:
    """Revoke every token of operator ``name`` at once; how many were live."""
    return await store.revoke_tokens_of((await _named(store, name)).operator.id)


async def rotate(store: Store, op: Operator, policy: CredentialPolicy) -> IssuedToken:
    """The caller's token is revoked and a new one with a fresh lifetime is issued."""
    if op.token_id is None:
        raise AuthError("this request carries no token to rotate")
    async with store.transaction() as tx:
        await tx.revoke_token(op.token_id)
        issued = await tx.insert_token(op.id, new_token(), "rotation", policy.ttl(op.role))
        await audit(tx, op, Purpose.SECURITY, None, AuditAction.ROTATE_TOKEN)
        return issued


async def sign_out(store: Store, op: Operator) -> None:
    """Revoke the caller's token."""
    if op.token_id is None:
        raise AuthError("this request carries no token")
    async with store.transaction() as tx:
        await tx.revoke_token(op.token_id)
        await audit(tx, op, Purpose.SECURITY, None, AuditAction.SIGN_OUT)


async def revoke_operator(store: Store, op: Operator, name: str) -> int:
    """A bank administrator revokes every token of one of the bank's operators at once."""
    check(op, Operation.MANAGE_OPERATORS, None)
    async with store.transaction() as tx:
        target = await tx.credentials(name)
        if target is None:
            raise NotFound(f"no operator {name}", resource="operator")
        check(op, Operation.MANAGE_OPERATORS, target.operator.bank or "")
        revoked = await tx.revoke_tokens_of(target.operator.id)
        await audit(tx, op, Purpose.SECURITY, None, AuditAction.REVOKE_TOKENS, detail=name)
        return revoked


def _password(field: str, password: str) -> str:
    problem = password_problem(password)
    if problem is not None:
        raise FieldError(field, problem, code="weak_password")
    return password


async def set_password_named(store: Store, name: str, password: str) -> None:
    """Set operator ``name``'s sign-in password (the admin command)."""
    scrypt = await asyncio.to_thread(hash_password, _password("password", password))
    await store.set_password((await _named(store, name)).operator.id, scrypt)


async def change_password(store: Store, op: Operator, current: str, new: str) -> None:
    """The caller changes their own password (the current one is checked)."""
    creds = await _named(store, op.name)
    if not await asyncio.to_thread(check_password, current, creds.password_scrypt):
        raise AuthError("the current password is wrong", code="bad_credentials")
    scrypt = await asyncio.to_thread(hash_password, _password("new", new))
    async with store.transaction() as tx:
        await tx.set_password(op.id, scrypt)
        await audit(tx, op, Purpose.SECURITY, None, AuditAction.SET_PASSWORD)


async def enrol_totp_named(store: Store, name: str) -> TotpEnrolment:
    """Enrol operator ``name`` in TOTP at once (the admin command hands over the secret)."""
    secret = new_totp_secret()
    await store.set_totp((await _named(store, name)).operator.id, secret, True)
    return TotpEnrolment(secret, totp_uri(secret, name))


async def remove_totp_named(store: Store, name: str) -> None:
    await store.set_totp((await _named(store, name)).operator.id, None, False)


async def begin_totp(store: Store, op: Operator) -> TotpEnrolment:
    """The caller starts enrolling: a new secret, required once confirmed with a code."""
    creds = await _named(store, op.name)
    if creds.totp_confirmed:
        raise Forbidden("a second factor is enrolled already", code="totp_enrolled")
    secret = new_totp_secret()
    await store.set_totp(op.id, secret, False)
    return TotpEnrolment(secret, totp_uri(secret, op.name))


async def confirm_totp(store: Store, op: Operator, code: str, at: datetime) -> None:
    """The caller proves their authenticator shows the codes: the second factor is on."""
    creds = await _named(store, op.name)
    if creds.totp_secret is None or creds.totp_confirmed:
        raise Forbidden("no enrolment is waiting for a code", code="no_totp_enrolment")
    step = totp_step(creds.totp_secret, code, at)
    if step is None:
        raise AuthError("the code does not match", code="bad_totp")
    async with store.transaction() as tx:
        await tx.set_totp(op.id, creds.totp_secret, True)
        await tx.use_totp_step(op.id, step)
        await audit(tx, op, Purpose.SECURITY, None, AuditAction.ENROL_TOTP)


async def _second_factor(
    store: Store, creds: Credentials, code: str | None, policy: CredentialPolicy, at: datetime
) -> bool:
    """None needed, or the code is good and unused: True; a bad code: False; else raise."""
    role: Role = creds.operator.role
    if role not in policy.second_factor_roles and not creds.totp_confirmed:
        return True
    if not creds.totp_confirmed or creds.totp_secret is None:
        raise Forbidden(
            f"a {role} signs in with a second factor: enrol one first", code="totp_not_enrolled"
        )
    if code is None:
        raise AuthError("this sign-in needs a TOTP code", code="totp_required")
    step = totp_step(creds.totp_secret, code, at)
    return step is not None and await store.use_totp_step(creds.operator.id, step)


async def sign_in(
    store: Store,
    name: str,
    password: str,
    totp_code: str | None,
    *,
    address: str,
    policy: CredentialPolicy,
) -> SignedIn:
    """Check the password and second factor; a new token for the operator."""
    by_name, by_address = await store.sign_in_failures(name, address, policy.failure_window)
    if by_name >= policy.max_failures_per_operator or by_address >= policy.max_failures_per_address:
        minutes = int(policy.failure_window.total_seconds() // 60)
        raise TooManyAttempts(
            f"too many failed sign-ins: try again within {minutes} minutes",
            retry_after_seconds=int(policy.failure_window.total_seconds()),
        )
    creds = await store.credentials(name)
    stored = None if creds is None else creds.password_scrypt
    if creds is None or not await asyncio.to_thread(check_password, password, stored):
        await store.record_sign_in(name, address, False)
        raise AuthError("wrong operator name or password", code="bad_credentials")
    if not await _second_factor(store, creds, totp_code, policy, datetime.now(UTC)):
        await store.record_sign_in(name, address, False)
        raise AuthError("the TOTP code is wrong or was used already", code="bad_totp")
    op = creds.operator
    async with store.transaction() as tx:
        await tx.record_sign_in(name, address, True)
        issued = await tx.insert_token(op.id, new_token(), "sign_in", policy.ttl(op.role))
        await audit(tx, op, Purpose.SECURITY, None, AuditAction.SIGN_IN, detail=address)
    return SignedIn(op, issued)
