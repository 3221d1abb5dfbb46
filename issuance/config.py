"""Settings, read once from the environment.

| variable | meaning | default |
|---|---|---|
| ``SSCARD_DATABASE_URL`` | an external PostgreSQL server | unset: the embedded one |
| ``SSCARD_DATA_DIR`` | where the embedded server and generated files live | ``./var`` |
| ``SSCARD_HOST`` / ``SSCARD_PORT`` | where the HTTP API listens | ``127.0.0.1`` / ``8080`` |
| ``SSCARD_EVALUATION_RULES`` | a JSON file with the yearly evaluation's rubric | the defaults |
| ``SSCARD_API`` | where CLI client commands find the API | ``http://HOST:PORT`` of the above |
| ``SSCARD_DIRECT_URL`` | PostgreSQL itself, for migrations and LISTEN | the database |
| ``SSCARD_TOKEN_TTL_HOURS`` | lifetime of an operator's bearer token | ``12`` |
| ``SSCARD_AGENT_TOKEN_TTL_DAYS`` | lifetime of an outlet agent's token | ``90`` |
| ``SSCARD_TOTP_ROLES`` | roles signing in with TOTP (comma list) | supervisor, bureau staff |
| ``SSCARD_SIGN_IN_MAX_FAILURES`` | failed sign-ins per operator name in 15 minutes | ``5`` |
| ``SSCARD_SIGN_IN_MAX_FAILURES_PER_ADDRESS`` | failed sign-ins per address in 15 minutes | ``20`` |
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from issuance.domain.credentials import CredentialPolicy
from issuance.domain.roles import Role
from sscard_core.errors import FieldError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080


def default_api_url(environ: dict[str, str] | None = None) -> str:
    """Where the CLI finds the API unless told: ``SSCARD_API``, else where ``sscard serve``
    listens by the same environment (``SSCARD_HOST``/``SSCARD_PORT``, or their defaults)."""
    env = dict(os.environ if environ is None else environ)
    if api := env.get("SSCARD_API"):
        return api
    host = env.get("SSCARD_HOST", DEFAULT_HOST)
    if host in ("0.0.0.0", "::", ""):  # listening everywhere: this machine answers locally
        host = DEFAULT_HOST
    return f"http://{host}:{env.get('SSCARD_PORT', DEFAULT_PORT)}"


def _number(env: dict[str, str], name: str, default: float) -> float:
    text = env.get(name)
    if text is None or text == "":
        return default
    try:
        value = float(text)
    except ValueError:
        raise FieldError(name, "must be a number", code="invalid_setting") from None
    if value <= 0:
        raise FieldError(name, "must be positive", code="invalid_setting")
    return value


def _roles(env: dict[str, str], name: str, default: frozenset[Role]) -> frozenset[Role]:
    text = env.get(name)
    if text is None:
        return default
    try:
        return frozenset(Role(r.strip()) for r in text.split(",") if r.strip())
    except ValueError:
        wanted = ", ".join(r.value for r in Role)
        raise FieldError(name, f"must list roles among {wanted}", code="invalid_setting") from None


def credential_policy(env: dict[str, str]) -> CredentialPolicy:
    default = CredentialPolicy()
    return CredentialPolicy(
        token_ttl=timedelta(hours=_number(env, "SSCARD_TOKEN_TTL_HOURS", 12)),
        agent_token_ttl=timedelta(days=_number(env, "SSCARD_AGENT_TOKEN_TTL_DAYS", 90)),
        second_factor_roles=_roles(env, "SSCARD_TOTP_ROLES", default.second_factor_roles),
        max_failures_per_operator=int(_number(env, "SSCARD_SIGN_IN_MAX_FAILURES", 5)),
        max_failures_per_address=int(_number(env, "SSCARD_SIGN_IN_MAX_FAILURES_PER_ADDRESS", 20)),
    )


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    data_dir: Path
    host: str
    port: int
    direct_url: str | None = None
    credentials: CredentialPolicy = field(default_factory=CredentialPolicy)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        return cls(
            database_url=env.get("SSCARD_DATABASE_URL") or None,
            data_dir=Path(env.get("SSCARD_DATA_DIR", "var")).expanduser().resolve(),
            host=env.get("SSCARD_HOST", DEFAULT_HOST),
            port=int(env.get("SSCARD_PORT", str(DEFAULT_PORT))),
            direct_url=env.get("SSCARD_DIRECT_URL") or None,
            credentials=credential_policy(env),
        )
