"""``sscard agent`` takes a simulated PSAM (--psam-keys) or a physical one (--psam-reader)."""

from __future__ import annotations

import argparse

import pytest

from issuance.cli.agent import register

BASE = ["agent", "--api", "http://x", "--token-file", "t", "--site", "o1", "--printer",
        "tcp://127.0.0.1:1", "--reader", "sim", "--journal", "j"]  # fmt: skip


def parse(*extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    return parser.parse_args([*BASE, *extra])


def test_one_psam_and_only_one() -> None:
    assert parse("--psam-reader", "Virtual PCD 00 01").psam_reader == "Virtual PCD 00 01"
    assert parse("--psam-keys", "k", "--psam-serial", "P1").psam_serial == "P1"
    for extra in ((), ("--psam-keys", "k", "--psam-reader", "r")):
        with pytest.raises(SystemExit):
            parse(*extra)
