"""Hostile photo archives are refused; good members are read lazily and capped."""

from __future__ import annotations

import io
import pickle
import stat
import struct
import warnings
import zipfile
from pathlib import Path

import pytest

from issuance.batches import archive
from issuance.batches.archive import (
    ArchiveLimits,
    ArchiveRefused,
    CorruptArchive,
    DuplicateMember,
    EncryptedMember,
    MemberTooLarge,
    NestedArchive,
    NoSuchMember,
    SymlinkMember,
    TooManyMembers,
    UnsafeMemberPath,
    UnsupportedCompression,
    ZipBomb,
    ZipPhotos,
)
from sscard_core.errors import InputError

from .builders import jpeg

PHOTO = jpeg()


def build(
    *members: tuple[str | zipfile.ZipInfo, bytes], method: int = zipfile.ZIP_DEFLATED
) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns on a duplicate name
        for name, data in members:
            archive.writestr(name, data)
    return out.getvalue()


def info(name: str, *, mode: int = 0o644, method: int = zipfile.ZIP_DEFLATED) -> zipfile.ZipInfo:
    entry = zipfile.ZipInfo(name)
    entry.external_attr = mode << 16
    entry.compress_type = method
    return entry


def test_good_archive_reads_members_by_path_or_bare_name() -> None:
    data = build(("batch/photos/", b""), ("batch/photos/a.jpg", PHOTO), ("b.jpg", PHOTO))
    with ZipPhotos(data) as photos:
        assert sorted(photos.names()) == ["b.jpg", "batch/photos/a.jpg"]
        assert photos.read("batch/photos/a.jpg") == PHOTO
        assert photos.read("a.jpg") == PHOTO
        assert "a.jpg" in photos and "c.jpg" not in photos
        with pytest.raises(NoSuchMember):
            photos.read("c.jpg")


def test_ambiguous_bare_name_needs_the_full_path() -> None:
    with ZipPhotos(build(("x/a.jpg", PHOTO), ("y/a.jpg", PHOTO))) as photos:
        assert "a.jpg" not in photos
        assert photos.read("y/a.jpg") == PHOTO


@pytest.mark.parametrize(
    "name",
    [
        "../evil.jpg",
        "photos/../../evil.jpg",
        "/etc/passwd",
        "C:/evil.jpg",
        "c:evil.jpg",
        "photos\\..\\evil.jpg",
    ],
)
def test_path_traversal_is_refused(name: str) -> None:
    with pytest.raises(UnsafeMemberPath) as caught:
        ZipPhotos(build(("ok.jpg", PHOTO), (info(name), PHOTO)))
    assert caught.value.to_dict()["reason"] == "unsafe_path"
    assert isinstance(caught.value, InputError)


def test_symlink_is_refused() -> None:
    link = info("photo.jpg", mode=stat.S_IFLNK | 0o777)
    with pytest.raises(SymlinkMember):
        ZipPhotos(build((link, b"/etc/shadow")))


def test_zip_bomb_of_zeros_is_refused_by_ratio() -> None:
    zeros = bytes(1_500_000)  # under the per-member cap, but compresses about 1000:1
    data = build(("zeros.jpg", zeros))
    assert len(data) < 10_000
    with pytest.raises(ZipBomb) as caught:
        ZipPhotos(data)
    assert "compression ratio" in caught.value.message


def test_total_declared_size_is_capped() -> None:
    limits = ArchiveLimits(max_total_bytes=2 * len(PHOTO))
    data = build(("a.jpg", PHOTO), ("b.jpg", PHOTO), ("c.jpg", PHOTO))
    with pytest.raises(ZipBomb):
        ZipPhotos(data, limits)


def test_member_count_is_capped() -> None:
    data = build(*((f"{i}.jpg", b"x") for i in range(11)), method=zipfile.ZIP_STORED)
    with pytest.raises(TooManyMembers):
        ZipPhotos(data, ArchiveLimits(max_members=10))


def test_oversized_member_is_refused_from_its_header() -> None:
    with pytest.raises(MemberTooLarge):
        ZipPhotos(build(("big.jpg", PHOTO)), ArchiveLimits(max_member_bytes=len(PHOTO) - 1))


def _understate_size(data: bytes, real: int, claimed: int) -> bytes:
    """Rewrite every header's uncompressed size from ``real`` to ``claimed``."""
    return data.replace(struct.pack("<I", real), struct.pack("<I", claimed))


def test_a_member_larger_than_its_header_says_is_not_returned() -> None:
    body = bytes(range(256)) * 400  # 102 400 bytes that deflate well but not absurdly
    data = _understate_size(build(("a.jpg", body), method=zipfile.ZIP_STORED), len(body), 1000)
    with (
        ZipPhotos(data, ArchiveLimits(max_member_bytes=50_000)) as photos,
        pytest.raises((MemberTooLarge, CorruptArchive)),
    ):
        photos.read("a.jpg")


def test_a_sound_member_is_inflated_in_one_call(monkeypatch: pytest.MonkeyPatch) -> None:
    def bounded(*_: object) -> bytes:
        raise AssertionError("a sound member takes the bounded inflate")

    monkeypatch.setattr(archive, "_inflate_bounded", bounded)
    body = bytes(range(256)) * 40
    with ZipPhotos(build(("a.jpg", body), ("b.jpg", PHOTO))) as photos:
        assert photos.read("a.jpg") == body
        assert photos.read("b.jpg") == PHOTO


@pytest.mark.parametrize("claimed", [1000, 10_000, 20_000])
def test_a_deflated_member_whose_header_misstates_its_size_is_read_in_full(claimed: int) -> None:
    """The one-call inflate gives way to the bounded one, which reads the member whole:
    its CRC, over the bytes themselves, vouches for them, as it always has."""
    body = bytes(range(256)) * 40  # 10 240 bytes
    data = _understate_size(build(("a.jpg", body)), len(body), claimed)
    with ZipPhotos(data, ArchiveLimits(max_member_bytes=50_000)) as photos:
        assert photos.read("a.jpg") == body


def test_read_stops_at_the_cap() -> None:
    body = bytes(range(256)) * 40
    with ZipPhotos(build(("a.jpg", body), method=zipfile.ZIP_STORED)) as photos:
        photos.limits = ArchiveLimits(max_member_bytes=4096)
        with pytest.raises(MemberTooLarge):
            photos.read("a.jpg")


@pytest.mark.parametrize("second", ["a.jpg", "A.JPG"])
def test_duplicate_names_are_refused(second: str) -> None:
    with pytest.raises(DuplicateMember):
        ZipPhotos(build(("a.jpg", PHOTO), (second, PHOTO)))


def _set_encrypted_flag(data: bytes) -> bytes:
    """Set general-purpose bit 0 in every local and central header."""
    out = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = out.find(signature)
        while at >= 0:
            out[at + offset] |= 0x1
            at = out.find(signature, at + 4)
    return bytes(out)


def test_encrypted_member_is_refused() -> None:
    with pytest.raises(EncryptedMember):
        ZipPhotos(_set_encrypted_flag(build(("a.jpg", PHOTO), method=zipfile.ZIP_STORED)))


def test_unsupported_compression_is_refused() -> None:
    with pytest.raises(UnsupportedCompression):
        ZipPhotos(build((info("a.jpg", method=zipfile.ZIP_LZMA), PHOTO)))


def test_nested_zip_is_refused_by_name_and_by_content() -> None:
    inner = build(("a.jpg", PHOTO))
    with pytest.raises(NestedArchive):
        ZipPhotos(build(("inner.zip", inner)))
    with ZipPhotos(build(("inner.jpg", inner))) as photos, pytest.raises(NestedArchive):
        photos.read("inner.jpg")


def test_not_a_zip_is_corrupt() -> None:
    with pytest.raises(CorruptArchive):
        ZipPhotos(b"PK\x03\x04 not really")


def test_legacy_gbk_member_names_are_decoded() -> None:
    name = "照片.jpg".encode("gbk")
    placeholder = b"X" * (len(name) - 4) + b".jpg"
    data = build((placeholder.decode(), PHOTO)).replace(placeholder, name)
    with ZipPhotos(data) as photos:
        assert list(photos.names()) == ["照片.jpg"]
        assert photos.read("照片.jpg") == PHOTO


def test_every_refusal_is_an_input_error() -> None:
    for cls in (UnsafeMemberPath, SymlinkMember, ZipBomb, MemberTooLarge, DuplicateMember):
        assert issubclass(cls, ArchiveRefused) and issubclass(cls, InputError)


def test_a_member_is_kept_for_one_more_read_within_the_budget() -> None:
    members = {f"p/{i}.jpg": bytes([i]) * 1000 for i in range(5)}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with ZipPhotos(out.getvalue(), keep_bytes=2500) as photos:
        for name, data in members.items():
            assert photos.read(name) == data
        assert photos._kept.size == 2000  # the two last members; the older ones were dropped
        for name, data in members.items():
            assert photos.read(name) == data  # kept or read again, always the same bytes
        assert photos.read("0.jpg") == members["p/0.jpg"]  # by bare name as well


# --- reading a member: one positioned read, one bounded inflate -------------------------


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]


def _data_offset(data: bytes, name: str) -> int:
    """Where the first member's compressed bytes begin (after its local header)."""
    return data.index(b"PK\x03\x04") + 30 + len(name)


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_a_damaged_member_is_corrupt(method: int) -> None:
    data = build(("a.jpg", PHOTO), method=method)
    damaged = _flip(data, _data_offset(data, "a.jpg") + 40)
    with ZipPhotos(damaged) as photos, pytest.raises(CorruptArchive) as caught:
        photos.read("a.jpg")
    assert caught.value.fields["reason"] == "corrupt_archive"


def test_a_local_header_naming_another_file_is_corrupt() -> None:
    data = build(("a.jpg", PHOTO))
    at = data.index(b"PK\x03\x04") + 30  # the local header's copy of the name
    swapped = data[:at] + b"b" + data[at + 1 :]
    with ZipPhotos(swapped) as photos, pytest.raises(CorruptArchive, match="another file"):
        photos.read("a.jpg")


def test_a_member_whose_data_is_cut_off_is_corrupt() -> None:
    body = bytes(range(256)) * 40
    data = build(("a.jpg", body), ("b.jpg", PHOTO), method=zipfile.ZIP_DEFLATED)
    start = _data_offset(data, "a.jpg")
    end = data.index(b"PK\x03\x04", start)
    # the stream's last bytes are overwritten by zeros: the inflate never sees its end
    cut = data[: end - 4] + bytes(4) + data[end:]
    with ZipPhotos(cut) as photos, pytest.raises(CorruptArchive):
        photos.read("a.jpg")


def test_a_member_declaring_more_compressed_bytes_than_the_cap_is_not_read() -> None:
    body = bytes(range(256)) * 40
    data = build(("a.jpg", body), method=zipfile.ZIP_STORED)
    with ZipPhotos(data) as photos:
        photos.limits = ArchiveLimits(max_member_bytes=1000)
        with pytest.raises(MemberTooLarge):
            photos.read("a.jpg")


def test_an_archive_on_disk_reads_as_one_in_memory(tmp_path: Path) -> None:
    data = build(("a.jpg", PHOTO), ("b.jpg", jpeg(130, 160)), method=zipfile.ZIP_DEFLATED)
    path = tmp_path / "photos.zip"
    path.write_bytes(data)
    with ZipPhotos(path) as on_disk, ZipPhotos(data) as in_memory:
        for name in ("a.jpg", "b.jpg"):
            assert on_disk.read(name) == in_memory.read(name)


def test_an_adopted_archive_reads_without_inspecting_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "photos.zip"
    path.write_bytes(build(("a.jpg", PHOTO), ("b.jpg", PHOTO)))
    with ZipPhotos(path) as photos:
        shared = pickle.loads(pickle.dumps(photos.shared()))  # as a fork server sends it

    def inspect_again(*_: object) -> None:
        raise AssertionError("the directory was read again")

    monkeypatch.setattr(archive, "_inspected", inspect_again)
    with ZipPhotos.adopt(shared) as adopted:
        assert sorted(adopted.names()) == ["a.jpg", "b.jpg"]
        assert adopted.read("b.jpg") == PHOTO
