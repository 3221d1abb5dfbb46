"""A batch's body is streamed to temporary files: digest, caps and clean-up."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from issuance.api import uploads
from tests.integration.api.world import World
from tests.unit.batches.builders import batch_csv, photo_zip

from .helpers import batch_people, submit, table_count


def _files(seed: int) -> dict[str, tuple[str, bytes, str]]:
    persons = batch_people(3, seed=seed)
    return {
        "file": ("batch.csv", batch_csv(persons).encode(), "text/csv"),
        "photos": ("photos.zip", photo_zip(persons), "application/zip"),
    }


async def test_a_retried_batch_is_answered_from_its_first_submission(world: World) -> None:
    files, headers = _files(61), world.auth("clerk_a", key="batch-retry-1")
    first = await world.client.post("/v1/batches", files=files, headers=headers)
    again = await world.client.post("/v1/batches", files=files, headers=headers)
    assert first.status_code == again.status_code == 201, first.text
    assert again.json() == first.json()
    assert await table_count(world, "batches") == 1
    other = await world.client.post("/v1/batches", files=_files(62), headers=headers)
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_key_reused"


async def test_a_body_over_the_cap_is_refused_with_413(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(uploads, "MAX_BODY_BYTES", 2_000)
    r = await submit(world, batch_people(3, seed=63))
    assert r.status_code == 413, r.text
    assert r.json()["code"] == "payload_too_large"
    assert await table_count(world, "batches") == 0


async def test_a_malformed_multipart_body_is_a_422(world: World) -> None:
    headers = world.auth("clerk_a") | {"content-type": "multipart/form-data; boundary=xyz"}
    r = await world.client.post("/v1/batches", content=b"--xyz\r\nnot a part", headers=headers)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "invalid_input"
    assert r.json()["errors"][0]["code"] == "malformed_multipart"


async def test_the_uploaded_files_are_removed_when_the_request_ends(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    ok = await submit(world, batch_people(3, seed=64))
    refused = await submit(world, batch_people(3, seed=65), archive=b"not a zip")
    assert (ok.status_code, refused.status_code) == (201, 422)
    assert not any(os.scandir(tmp_path))


async def test_a_json_body_is_streamed_and_digested_like_any_other(world: World) -> None:
    persons = batch_people(2, seed=66)
    body = {"applicants": [p.as_json() for p in persons]}
    headers = world.auth("clerk_a", key="json-batch-1")
    first = await world.client.post("/v1/batches", json=body, headers=headers)
    # no photos were given: the rows are refused, and the refusal is what is replayed
    again = await world.client.post("/v1/batches", json=body, headers=headers)
    assert first.status_code == again.status_code
    assert first.json() == again.json()
