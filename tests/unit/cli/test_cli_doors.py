"""The CLI's doors: the API it finds by default is where ``sscard serve`` listens, and a file
that is not there is a short error with exit status 2, never a traceback."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from issuance.cli import build_parser, main
from issuance.config import DEFAULT_PORT, Settings, default_api_url


def test_the_batch_commands_find_the_api_where_serve_listens() -> None:
    env = {"SSCARD_HOST": "10.1.2.3", "SSCARD_PORT": "9123"}
    settings = Settings.from_env(env)
    assert default_api_url(env) == f"http://{settings.host}:{settings.port}"
    assert default_api_url({}) == f"http://127.0.0.1:{DEFAULT_PORT}"
    assert Settings.from_env({}).port == DEFAULT_PORT
    assert default_api_url({"SSCARD_API": "http://api.test:1"}) == "http://api.test:1"


def test_the_parsed_default_matches_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SSCARD_API", "SSCARD_HOST", "SSCARD_PORT"):
        monkeypatch.delenv(name, raising=False)
    parsed = build_parser().parse_args(["batch", "watch", "B20260101-000001"])
    assert parsed.api == f"http://127.0.0.1:{DEFAULT_PORT}"


@pytest.mark.parametrize(
    "argv",
    [
        ["batch", "submit", "missing.csv"],
        ["batch", "submit", "{here}", "--photos", "missing.zip"],
        ["batch", "watch", "B20260101-000001", "--token-file", "missing.token"],
    ],
)
def test_a_missing_file_is_exit_2_without_a_traceback(argv: list[str], tmp_path: Path) -> None:
    here = tmp_path / "batch.csv"
    here.write_text("citizen_id,name\n")
    args = [a.replace("{here}", str(here)) for a in argv]
    done = subprocess.run(
        [sys.executable, "-m", "issuance.cli", *args], capture_output=True, text=True,
        cwd=tmp_path, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "no such file" in done.stderr


class _OneCommand:
    """A parser whose every command is ``func``."""

    def __init__(self, func: Callable[[argparse.Namespace], int]) -> None:
        self.func = func

    def parse_args(self, _argv: object) -> argparse.Namespace:
        return argparse.Namespace(func=self.func)


def test_a_file_that_vanishes_mid_command_is_still_a_clean_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    gone = str(tmp_path / "gone.csv")

    def vanished(_ns: argparse.Namespace) -> int:
        raise FileNotFoundError(2, "No such file or directory", gone)

    monkeypatch.setattr("issuance.cli.build_parser", lambda: _OneCommand(vanished))
    assert main(["batch", "submit", gone]) == 2
    assert gone in capsys.readouterr().err
