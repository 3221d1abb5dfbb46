"""Request bodies too large to hold in memory: streamed to files, digested on the way.

A batch of 10 000 ID photos is a body of about 200 MB. :func:`receive` never
holds it whole. A plain body is streamed to a file. A ``multipart/form-data``
body goes through Starlette's multipart parser, whose file parts spill to disk
past 1 MB, and each file part is then saved under its own name. The files sit
in a folder the caller owns (a temporary folder removed when the request ends),
where the batch check, its worker processes and the writes read them.

The digest that idempotency keys compare (:func:`issuance.api.idempotency.digest_of`)
is taken on the way: over a plain body's bytes, exactly as a body read whole
would be digested; over a multipart body's parts (each part's name and the
SHA-256 of its content, in order), not its raw bytes, because a client that
retries a request draws a new multipart boundary each time.

A body above :data:`MAX_BODY_BYTES` is refused with 413 as soon as it passes the
cap; a malformed multipart body is a 422 ``malformed_multipart``.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from fastapi import Request
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from issuance.api.idempotency import digest_of
from sscard_core.errors import FieldError, PayloadTooLarge

MIB = 1024 * 1024
# A photo archive at its cap (issuance.batches.archive.ArchiveLimits: 2 GB) and its batch file.
MAX_BODY_BYTES = 2048 * MIB + 256 * MIB
MULTIPART = "multipart/form-data"
MAX_FILES = 2
MAX_FIELDS = 8
COPY_CHUNK = MIB


@dataclass(frozen=True)
class Upload:
    """A request's body as saved files and small fields, with the body's digest."""

    files: dict[str, Path]
    fields: dict[str, str]
    digest: bytes


async def _capped(request: Request, limit: int) -> AsyncIterator[bytes]:
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the request body is over {limit} bytes", limit=limit)
        yield chunk


def _copy(source: BinaryIO, path: Path) -> bytes:
    """Copy ``source`` to ``path``; the SHA-256 of what was copied."""
    digest = hashlib.sha256()
    with path.open("wb") as out:
        while chunk := source.read(COPY_CHUNK):
            digest.update(chunk)
            out.write(chunk)
    return digest.digest()


async def _save(part: UploadFile | str, path: Path) -> bytes:
    if isinstance(part, str):
        data = part.encode()
        await asyncio.to_thread(path.write_bytes, data)
        return hashlib.sha256(data).digest()
    return await asyncio.to_thread(_copy, part.file, path)


async def _parsed(request: Request, chunks: AsyncIterator[bytes]) -> FormData:
    parser = MultiPartParser(
        request.headers, chunks,  # type: ignore[arg-type]
        max_files=MAX_FILES, max_fields=MAX_FIELDS,
    )  # fmt: skip
    try:
        return await parser.parse()
    except MultiPartException as exc:
        raise FieldError("body", str(exc), code="malformed_multipart") from exc


async def _plain(request: Request, chunks: AsyncIterator[bytes], path: Path) -> Upload:
    digest = digest_of(request)
    with path.open("wb") as out:
        async for chunk in chunks:
            digest.update(chunk)
            out.write(chunk)
    return Upload({path.name: path}, {}, digest.digest())


async def receive(
    request: Request, folder: Path, *, body_name: str = "body",
    file_parts: frozenset[str] = frozenset(),
) -> Upload:  # fmt: skip
    """Stream the body into ``folder``: a plain body as ``body_name``, each multipart file
    part (and any part named in ``file_parts``, even when sent as a plain field) as a file."""
    chunks = _capped(request, MAX_BODY_BYTES)
    if not request.headers.get("content-type", "").startswith(MULTIPART):
        return await _plain(request, chunks, folder / body_name)
    form = await _parsed(request, chunks)
    digest = digest_of(request)
    files: dict[str, Path] = {}
    fields: dict[str, str] = {}
    try:
        for name, part in form.multi_items():
            digest.update(name.encode() + b"\0")
            if isinstance(part, UploadFile) or name in file_parts:
                files[name] = folder / f"part-{len(files)}"
                digest.update(await _save(part, files[name]))
            else:
                fields[name] = part
                digest.update(hashlib.sha256(part.encode()).digest())
    finally:
        await form.close()
    return Upload(files, fields, digest.digest())
