"""Sealing, opening and blind-indexing personal values; the master key and its file."""

from __future__ import annotations

import base64
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from issuance.vault import (
    DataKey,
    FileMasterKey,
    SealedPayloadCodec,
    Vault,
    is_sealed,
    load_master_key,
    sealed_key_id,
)
from sscard_core.errors import VaultError

PAST = datetime(2020, 1, 1, tzinfo=UTC)


def _vault(*data: tuple[int, datetime], index: bytes = b"i" * 32) -> Vault:
    keys = [DataKey(i, "data", at, bytes([i]) * 32) for i, at in data]
    return Vault(FileMasterKey(b"m" * 32), [*keys, DataKey(99, "index", PAST, index)])


def test_a_sealed_value_opens_in_its_own_column_only() -> None:
    v = _vault((1, PAST))
    sealed = v.seal("张三".encode(), b"holders.sealed")
    assert is_sealed(sealed) and sealed_key_id(sealed) == 1
    assert "张三".encode() not in sealed
    assert v.open(sealed, b"holders.sealed") == "张三".encode()
    with pytest.raises(VaultError) as caught:
        v.open(sealed, b"cards.card_data")
    assert caught.value.code == "sealed_value_tampered"


def test_every_seal_draws_a_new_nonce() -> None:
    v = _vault((1, PAST))
    assert v.seal(b"same", b"c") != v.seal(b"same", b"c")


@pytest.mark.parametrize("at", [3, 9, 20, -1])
def test_a_changed_byte_anywhere_is_refused(at: int) -> None:
    v = _vault((1, PAST))
    sealed = bytearray(v.seal(b"13800000000", b"c"))
    sealed[at] ^= 0x01
    with pytest.raises(VaultError) as caught:
        v.open(bytes(sealed), b"c")
    assert caught.value.code in {"sealed_value_tampered", "unknown_data_key", "not_sealed"}


def test_a_value_under_a_key_not_loaded_asks_for_a_retry() -> None:
    sealed = _vault((7, PAST)).seal(b"x", b"c")
    with pytest.raises(VaultError) as caught:
        _vault((1, PAST)).open(sealed, b"c")
    assert caught.value.code == "unknown_data_key" and caught.value.http_status == 503


def test_the_newest_key_whose_time_has_come_seals() -> None:
    soon = datetime.now(UTC) + timedelta(hours=1)
    v = _vault((1, PAST), (2, PAST + timedelta(days=1)), (3, soon))
    assert v.active_key.id == 2
    assert sealed_key_id(v.seal(b"x", b"c")) == 2
    assert v.open(_vault((3, PAST)).seal(b"x", b"c"), b"c") == b"x"  # key 3 already opens


def test_the_blind_index_is_keyed_and_ignores_the_check_letters_case() -> None:
    cid = "11010119900307123X"
    a, b = _vault((1, PAST)), _vault((1, PAST), index=b"j" * 32)
    assert a.blind_index(cid) == a.blind_index(cid.lower())
    assert a.blind_index(cid) != b.blind_index(cid)
    assert len(a.blind_index(cid)) == 32 and cid.encode() not in a.blind_index(cid)


def test_job_payloads_are_sealed_and_legacy_plain_ones_still_read() -> None:
    codec = SealedPayloadCodec(_vault((1, PAST)))
    text = codec.dumps({"card": {"name": "张三"}})
    assert "张三" not in text and codec.loads(text) == {"card": {"name": "张三"}}
    assert codec.loads('{"card_number": "A1"}') == {"card_number": "A1"}


def test_the_master_key_wraps_and_only_it_unwraps() -> None:
    master, other = FileMasterKey(b"a" * 32), FileMasterKey(b"b" * 32)
    wrapped = master.wrap(b"k" * 32, b"sscard data key 1 data")
    assert master.unwrap(wrapped, b"sscard data key 1 data") == b"k" * 32
    assert master.key_id != other.key_id
    for key, context in ((other, b"sscard data key 1 data"), (master, b"sscard data key 2 data")):
        with pytest.raises(VaultError) as caught:
            key.unwrap(wrapped, context)
        assert caught.value.code == "master_key_mismatch"


def test_the_default_key_file_is_made_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    first = load_master_key(tmp_path, {})
    path = tmp_path / "master.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_master_key(tmp_path, {}).key_id == first.key_id


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    load_master_key(tmp_path, {})
    os.chmod(tmp_path / "master.key", 0o644)
    with pytest.raises(VaultError) as caught:
        load_master_key(tmp_path, {})
    assert caught.value.code == "master_key_exposed"


def test_the_environment_names_the_key_or_its_file(tmp_path: Path) -> None:
    key = base64.b64encode(b"e" * 32).decode()
    assert (
        load_master_key(tmp_path, {"SSCARD_MASTER_KEY": key}).key_id
        == FileMasterKey(b"e" * 32).key_id
    )
    assert not (tmp_path / "master.key").exists()
    with pytest.raises(VaultError) as caught:
        load_master_key(tmp_path, {"SSCARD_MASTER_KEY_FILE": str(tmp_path / "none.key")})
    assert caught.value.code == "master_key_missing"
    for bad in ("not base64!", base64.b64encode(b"short").decode()):
        with pytest.raises(VaultError):
            load_master_key(tmp_path, {"SSCARD_MASTER_KEY": bad})
