"""``sscard printer job``: one card's bytes, checked by parsing them and printing them."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from issuance.cli import main
from printers.devices.evolis.commands import CommandName, CommandReader
from printers.devices.evolis.models import RibbonType
from printers.devices.simulators.evolis import PrinterMachine, SimConfig
from sscard_core.card_data import card_data_to_json
from tests.unit.agent.conftest import applicant, photo_png

ESC = b"\x1b"


@pytest.fixture
def card_file(tmp_path: Path) -> Path:
    path = tmp_path / "card-1.json"
    path.write_text(json.dumps(card_data_to_json(applicant()), ensure_ascii=False))
    return path


def run(*args: str | Path) -> int:
    return main(["printer", "job", *map(str, args)])


def printed_by_a_printer(stream: bytes, ribbon: RibbonType) -> PrinterMachine:
    """Feed the stream to a simulated printer in its default mode, as a technician would."""
    machine = PrinterMachine(SimConfig(ribbon=ribbon, time_scale=0.0))
    reader = CommandReader()
    reader.feed(stream)
    for command in reader:
        machine.handle(command)
    assert reader.pending == 0
    return machine


def test_a_black_ribbon_job(card_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "job.prn"
    assert run("--card", card_file, "--ribbon", "kb", "--out", out) == 0
    stream = out.read_bytes()
    assert stream.startswith(ESC + b"Pr;kb\r" + ESC + b"Ss\r" + ESC + b"Sr\r")
    assert ESC + b"Dbc;k;2;83312;" in stream
    assert stream.endswith(ESC + b"Se\r")
    assert len(stream) == 7 + 4 + 4 + len(b"\x1bDbc;k;2;83312;") + 83_312 + 1 + 4
    machine = printed_by_a_printer(stream, RibbonType.KB)
    (card,) = machine.printed
    assert [p.panel.value for p in card.front] == ["k"]
    assert any(card.front[0].dots)  # the text is there


def test_a_colour_job_with_photo_and_preview(card_file: Path, tmp_path: Path) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(photo_png())
    out, preview = tmp_path / "job.prn", tmp_path / "face.png"
    args = ("--card", card_file, "--photo", photo, "--ribbon", "ymcko", "--out", out)
    assert run(*args, "--preview", preview) == 0
    reader = CommandReader()
    reader.feed(out.read_bytes())
    commands = list(reader)
    downloads = [(c.name, c.params[:2], len(c.data or b"")) for c in commands if c.data]
    assert downloads == [
        (CommandName.DOWNLOAD, ("y", "32"), 411_480),
        (CommandName.DOWNLOAD, ("m", "32"), 411_480),
        (CommandName.DOWNLOAD, ("c", "32"), 411_480),
        (CommandName.DOWNLOAD_COMPRESSED, ("k", "2"), 83_312),
        (CommandName.DOWNLOAD_COMPRESSED, ("o", "2"), 83_312),
    ]
    assert printed_by_a_printer(out.read_bytes(), RibbonType.YMCKO).printed
    image = Image.open(io.BytesIO(preview.read_bytes()))
    assert image.size == (1016, 648)
    assert image.getpixel((60, 200)) != (255, 255, 255)  # the photo is in the preview


def test_a_job_payload_with_its_card_inside_is_read_too(card_file: Path, tmp_path: Path) -> None:
    wrapped = tmp_path / "job.json"
    wrapped.write_text(json.dumps({"card": json.loads(card_file.read_text()), "card_id": "c1"}))
    assert run("--card", wrapped, "--ribbon", "kb", "--out", tmp_path / "a.prn") == 0
    assert run("--card", card_file, "--ribbon", "kb", "--out", tmp_path / "b.prn") == 0
    assert (tmp_path / "a.prn").read_bytes() == (tmp_path / "b.prn").read_bytes()


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, "cannot read the card file"),
        ("{not json", "is not JSON"),
        ("null", "holds no card"),
        ('{"name": "张三"}', "card_number"),
        (json.dumps(card_data_to_json(applicant()) | {"birth_date": "1990-13-45"}), "birth_date"),
    ],
)
def test_bad_card_files_exit_2_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, words: str
) -> None:
    card = tmp_path / "card.json"
    if content is not None:
        card.write_text(content)
    out = tmp_path / "job.prn"
    assert run("--card", card, "--ribbon", "kb", "--out", out) == 2
    error = capsys.readouterr().err
    assert words in error and "Traceback" not in error
    assert not out.exists()


def test_a_bad_photo_exits_2(
    card_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"not a picture")
    out = tmp_path / "job.prn"
    assert run("--card", card_file, "--photo", photo, "--ribbon", "ymcko", "--out", out) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert not out.exists()


def test_an_oversized_card_file_is_not_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    card = tmp_path / "card.json"
    card.write_bytes(b" " * (64 * 1024 + 1))
    assert run("--card", card, "--ribbon", "kb", "--out", tmp_path / "x") == 2
    assert "at most" in capsys.readouterr().err


def test_an_unknown_ribbon_is_a_usage_error(card_file: Path, tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as caught:
        run("--card", card_file, "--ribbon", "ymckok", "--out", tmp_path / "x")
    assert caught.value.code == 2
