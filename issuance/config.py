"""Settings, read once from the environment.

| variable | meaning | default |
|---|---|---|
| ``SSCARD_DATABASE_URL`` | an external PostgreSQL server | unset: the embedded one |
| ``SSCARD_DATA_DIR`` | where the embedded server and generated files live | ``./var`` |
| ``SSCARD_HOST`` / ``SSCARD_PORT`` | where the HTTP API listens | ``127.0.0.1`` / ``8080`` |
| ``SSCARD_DIRECT_URL`` | PostgreSQL itself, for migrations and LISTEN | the database |
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


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
            host=env.get("SSCARD_HOST", "127.0.0.1"),
            port=int(env.get("SSCARD_PORT", "8080")),
            direct_url=env.get("SSCARD_DIRECT_URL") or None,
        )
