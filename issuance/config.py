"""Settings, read once from the environment.

| variable | meaning | default |
|---|---|---|
| ``SSCARD_DATABASE_URL`` | an external PostgreSQL server | unset: the embedded one |
| ``SSCARD_DATA_DIR`` | where the embedded server and generated files live | ``./var`` |
| ``SSCARD_HOST`` / ``SSCARD_PORT`` | where the HTTP API listens | ``127.0.0.1`` / ``8080`` |
| ``SSCARD_API`` | where CLI client commands find the API | ``http://HOST:PORT`` of the above |
| ``SSCARD_DIRECT_URL`` | PostgreSQL itself, for migrations and LISTEN | the database |
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

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


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    data_dir: Path
    host: str
    port: int
    direct_url: str | None = None

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        return cls(
            database_url=env.get("SSCARD_DATABASE_URL") or None,
            data_dir=Path(env.get("SSCARD_DATA_DIR", "var")).expanduser().resolve(),
            host=env.get("SSCARD_HOST", DEFAULT_HOST),
            port=int(env.get("SSCARD_PORT", str(DEFAULT_PORT))),
            direct_url=env.get("SSCARD_DIRECT_URL") or None,
        )
