"""``sscard bank|outlet|evaluation`` for the bureau's side, against a test database."""

from __future__ import annotations

from pathlib import Path

from tests.integration.services.test_admin_cli import sscard


async def test_a_bank_is_taken_through_the_rules_from_the_command_line(
    db_dsn: str, tmp_path: Path
) -> None:
    async def ok(*args: str) -> str:
        r = await sscard(db_dsn, tmp_path, *args)
        assert r.returncode == 0, (args, r.stdout, r.stderr)
        return r.stdout

    plain = await ok("bank", "create", "PLAIN", "某银行")
    assert "applied" in plain  # without --active a bank has only applied
    await ok("operator", "create", "boss", "--role", "bureau_admin")
    out = await ok("bank", "apply", "NB", "新银行", "--by", "boss", "--on", "2025-09-26",
                   "--doc", "申请书")  # fmt: skip
    assert "owed by the bureau by 2025-10-16 (第六条(一))" in out
    refused = await sscard(db_dsn, tmp_path, "bank", "decide", "NB", "approved", "--by", "boss")
    assert refused.returncode == 1 and "第四条" in refused.stderr
    await ok("bank", "conditions", "NB", "--by", "boss", "--pboc-ref", "REF-1",
             "--reviewed-on", "2025-08-01", "--remote-activation")  # fmt: skip
    await ok("bank", "decide", "NB", "under_review", "--by", "boss", "--on", "2025-09-29")
    overdue = await ok("bank", "overdue", "--on", "2025-10-17")
    assert "NB 新银行: under_review, owed by the bureau, due 2025-10-16" in overdue
    await ok("operator", "create", "nbadmin", "--role", "bank_admin", "--bank", "NB")
    filed = await ok("outlet", "file", "NB", "--kind", "add", "--code", "NB1", "--by", "nbadmin",
                     "--name", "总行营业部", "--address", "北京市西城区某街", "--hours", "9-17",
                     "--service", "apply", "--service", "activate")  # fmt: skip
    assert "filing 1: add outlet NB1 of NB, filed" in filed and "BELOW 70 %" in filed
    await ok("outlet", "acknowledge", "1", "--by", "boss")
    share = await ok("outlet", "share", "NB")
    assert "0 of 1 open outlets" in share and "does NOT meet" in share
    not_a_bureau = await sscard(db_dsn, tmp_path, "outlet", "acknowledge", "1", "--by", "nbadmin")
    assert not_a_bureau.returncode == 1


async def test_an_import_with_bad_rows_exits_2_with_line_and_field(
    db_dsn: str, tmp_path: Path
) -> None:
    r = await sscard(db_dsn, tmp_path, "operator", "create", "boss", "--role", "bureau_admin")
    assert r.returncode == 0, r.stderr
    path = tmp_path / "complaints.csv"
    path.write_text("ticket,received_on,bank,outlet,summary\nT1,2025-01-02,NOPE,,x\n"
                    "T2,2025-13-01,NOPE,,y\n", encoding="utf-8")  # fmt: skip
    r = await sscard(db_dsn, tmp_path, "evaluation", "import-complaints", str(path), "--by", "boss")
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "line 2, bank" in r.stderr
    assert "line 3, received_on" in r.stderr
