"""``sscard batch submit`` and ``watch`` against the API on a loopback port."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import pytest

from issuance.cli import main
from issuance.services.batches import line_site
from sscard_core.messages import Capability
from tests.integration.api.world import BANK_A, World
from tests.integration.batches.helpers import batch_people, table_count
from tests.unit.batches.builders import Person, batch_csv, photo_zip, with_name


def _files(tmp_path: Path, persons: list[Person], text: str | None = None) -> tuple[Path, Path]:
    csv_path = tmp_path / "batch.csv"
    csv_path.write_bytes((text or batch_csv(persons)).encode("gb18030"))
    zip_path = tmp_path / "photos.zip"
    zip_path.write_bytes(photo_zip(persons))
    return csv_path, zip_path


def _token(tmp_path: Path, world: World, who: str) -> Path:
    path = tmp_path / f"{who}.token"
    path.write_text(world.tokens[who])
    return path


async def _sscard(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def test_submit_then_watch_a_batch_to_its_end(
    world: World, served: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_path, zip_path = _files(tmp_path, batch_people(4, seed=21))
    token = str(_token(tmp_path, world, "clerk_a"))
    code = await _sscard("batch", "submit", str(csv_path), "--photos", str(zip_path),
                         "--api", served, "--token-file", token)  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "4 card(s) enqueued" in printed
    batch_id = printed.split("batch ")[1].split(":")[0].strip()
    jobs = await world.queue.claim("cli-line", line_site(BANK_A), [Capability.PRINT_ENCODE], 10)
    assert len(jobs) == 4
    await world.queue.complete("cli-line", [j.id for j in jobs])
    code = await _sscard("batch", "watch", batch_id, "--every", "0.1", "--api", served,
                         "--token-file", token)  # fmt: skip
    assert code == 0
    assert "complete: 4 made, 0 failed" in capsys.readouterr().out


async def test_a_rejected_batch_prints_a_table_writes_rejects_and_exits_2(
    world: World, served: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    persons = batch_people(3, seed=22)
    persons[2] = with_name(persons[2], "")
    csv_path, zip_path = _files(tmp_path, persons)
    rejects = tmp_path / "rejects.csv"
    code = await _sscard("batch", "submit", str(csv_path), "--photos", str(zip_path),
                         "--rejects", str(rejects), "--api", served, "--token-file",
                         str(_token(tmp_path, world, "clerk_a")))  # fmt: skip
    assert code == 2
    assert "Batch rejected" in capsys.readouterr().out
    rows = list(csv.reader(rejects.read_text(encoding="utf-8").splitlines()))
    assert rows == [["line", "field", "code", "message"], ["4", "name", "required", "is required"]]
    assert await table_count(world, "card_jobs") == 0
    assert await table_count(world, "cards") == 0


async def test_partial_submission_enqueues_the_rest_and_exits_0(
    world: World, served: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    persons = batch_people(3, seed=23)
    persons[0] = with_name(persons[0], "")
    csv_path, zip_path = _files(tmp_path, persons)
    monkeypatch.setenv("SSCARD_TOKEN", world.tokens["clerk_a"])
    code = await _sscard("batch", "submit", str(csv_path), "--photos", str(zip_path),
                         "--partial", "--api", served)  # fmt: skip
    assert code == 0
    assert (tmp_path / "batch.csv.rejects.csv").exists()
    assert await table_count(world, "card_jobs") == 2


async def test_without_a_token_the_cli_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSCARD_TOKEN", raising=False)
    csv_path = tmp_path / "b.csv"
    csv_path.write_text("citizen_id\n")
    assert await _sscard("batch", "submit", str(csv_path), "--api", "http://127.0.0.1:9") == 1
