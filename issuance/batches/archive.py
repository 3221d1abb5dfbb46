"""Photos of a batch, read from a zip archive that is treated as hostile.

Design notes: ``docs/batches.md`` (section ``issuance.batches.archive``).
"""

from __future__ import annotations

import io
import os
import stat
import struct
import threading
import unicodedata
import zipfile
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import IO, ClassVar

import deflate as libdeflate
from zlib_ng import zlib_ng

from sscard_core.errors import InputError

# zlib-ng's stub declares its error an instance; it is the class zlib_ng.error.
InflateError: type[Exception] = zlib_ng.error  # type: ignore[assignment]

KIB = 1024
MIB = 1024 * KIB
KEEP_BYTES = 64 * MIB  # members kept between a batch's check and its write
ENCRYPTED_FLAG = 0x1
UTF8_FLAG = 0x800
NESTED_SUFFIXES = (".zip", ".7z", ".rar", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".jar", ".cab")
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
ALLOWED_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})


class ArchiveProblem(StrEnum):
    """Why an archive or one of its members was refused (the error's ``reason``)."""

    UNSAFE_PATH = "unsafe_path"
    SYMLINK = "symlink"
    ENCRYPTED = "encrypted"
    UNSUPPORTED_COMPRESSION = "unsupported_compression"
    NESTED_ARCHIVE = "nested_archive"
    DUPLICATE_NAME = "duplicate_name"
    TOO_MANY_MEMBERS = "too_many_members"
    MEMBER_TOO_LARGE = "member_too_large"
    ZIP_BOMB = "zip_bomb"
    CORRUPT = "corrupt_archive"
    NO_SUCH_MEMBER = "no_such_member"


class ArchiveRefused(InputError):
    """An archive, or a member of it, that is not accepted."""

    code = "archive_refused"
    reason: ClassVar[ArchiveProblem]

    def __init__(self, member: str, message: str) -> None:
        super().__init__(f"{member}: {message}", member=member, reason=self.reason.value)
        self.member = member


class UnsafeMemberPath(ArchiveRefused):
    reason = ArchiveProblem.UNSAFE_PATH


class SymlinkMember(ArchiveRefused):
    reason = ArchiveProblem.SYMLINK


class EncryptedMember(ArchiveRefused):
    reason = ArchiveProblem.ENCRYPTED


class UnsupportedCompression(ArchiveRefused):
    reason = ArchiveProblem.UNSUPPORTED_COMPRESSION


class NestedArchive(ArchiveRefused):
    reason = ArchiveProblem.NESTED_ARCHIVE


class DuplicateMember(ArchiveRefused):
    reason = ArchiveProblem.DUPLICATE_NAME


class TooManyMembers(ArchiveRefused):
    reason = ArchiveProblem.TOO_MANY_MEMBERS


class MemberTooLarge(ArchiveRefused):
    reason = ArchiveProblem.MEMBER_TOO_LARGE


class ZipBomb(ArchiveRefused):
    reason = ArchiveProblem.ZIP_BOMB


class CorruptArchive(ArchiveRefused):
    reason = ArchiveProblem.CORRUPT


class NoSuchMember(ArchiveRefused):
    reason = ArchiveProblem.NO_SUCH_MEMBER


@dataclass(frozen=True)
class ArchiveLimits:
    """Caps on what an archive may declare and on what a read may return."""

    max_members: int = 20_000
    max_member_bytes: int = 2 * MIB
    max_total_bytes: int = 2048 * MIB
    max_ratio: float = 100.0
    ratio_floor_bytes: int = 64 * KIB  # smaller members may compress as well as they like


DEFAULT_LIMITS = ArchiveLimits()


def member_name(info: zipfile.ZipInfo) -> str:
    """The member's name, decoding legacy (non-UTF-8) names as GB 18030."""
    name = info.filename
    if info.flag_bits & UTF8_FLAG or name.isascii():
        return name
    try:
        return name.encode("cp437").decode("gb18030")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return name


def _is_unsafe_path(name: str) -> bool:
    parts = name.split("/")
    has_drive = len(name) >= 2 and name[1] == ":"
    return (
        name.startswith("/")
        or "\\" in name
        or "\x00" in name
        or has_drive
        or any(part in ("..", ".") for part in parts)
    )


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _check_kind(info: zipfile.ZipInfo, name: str) -> None:
    if _is_unsafe_path(name):
        raise UnsafeMemberPath(name, "the name could escape the extraction folder")
    if _is_symlink(info):
        raise SymlinkMember(name, "symbolic links are not accepted")
    if info.flag_bits & ENCRYPTED_FLAG:
        raise EncryptedMember(name, "encrypted members are not accepted")
    if info.compress_type not in ALLOWED_METHODS:
        raise UnsupportedCompression(name, f"compression method {info.compress_type}")
    if name.lower().endswith(NESTED_SUFFIXES):
        raise NestedArchive(name, "archives inside the archive are not accepted")


def _check_size(info: zipfile.ZipInfo, name: str, limits: ArchiveLimits) -> None:
    if info.file_size > limits.max_member_bytes:
        raise MemberTooLarge(
            name, f"declares {info.file_size} bytes; at most {limits.max_member_bytes}"
        )
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > limits.ratio_floor_bytes and ratio > limits.max_ratio:
        raise ZipBomb(name, f"compression ratio {ratio:.0f}:1 exceeds {limits.max_ratio:.0f}:1")


def _fold(name: str) -> str:
    return unicodedata.normalize("NFC", name).casefold()


class _Index:
    """Members by exact name, by folded name (for duplicates) and by bare file name."""

    def __init__(self) -> None:
        self.by_name: dict[str, zipfile.ZipInfo] = {}
        self.folded: set[str] = set()
        self.by_basename: dict[str, zipfile.ZipInfo | None] = {}
        self.total = 0

    def add(self, info: zipfile.ZipInfo, name: str, limits: ArchiveLimits) -> None:
        if _fold(name) in self.folded:
            raise DuplicateMember(name, "another member has the same name")
        self.folded.add(_fold(name))
        self.by_name[name] = info
        base = name.rsplit("/", 1)[-1]
        self.by_basename[base] = None if base in self.by_basename else info
        self.total += info.file_size
        if self.total > limits.max_total_bytes:
            raise ZipBomb(name, f"the archive declares more than {limits.max_total_bytes} bytes")


class _Kept:
    """Members read once, kept for one more read within a byte budget (thread-safe)."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.size = 0
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> bytes | None:
        with self._lock:
            data = self._items.pop(key, None)
            self.size -= 0 if data is None else len(data)
            return data

    def put(self, key: str, data: bytes) -> None:
        if len(data) > self.budget:
            return
        with self._lock:
            self.size += len(data) - len(self._items.pop(key, b""))
            self._items[key] = data
            while self.size > self.budget:
                _, dropped = self._items.popitem(last=False)
                self.size -= len(dropped)


_LOCAL_HEADER = struct.Struct("<4s5H3I2H")  # signature ... file name length, extra length
LOCAL_MAGIC = b"PK\x03\x04"
# Deflate never grows data by more than 5 bytes per 16 kB block; anything beyond that slack
# is not a member within the cap.
DEFLATE_SLACK = 1024


class _Reader:
    """Positioned reads of an archive held in a file or in memory (thread-safe)."""

    def __init__(self, source: str | Path | bytes) -> None:
        self._bytes = memoryview(source) if isinstance(source, bytes) else None
        self._fd = None if isinstance(source, bytes) else os.open(source, os.O_RDONLY)

    def pread(self, size: int, offset: int) -> bytes:
        if self._bytes is not None:
            return bytes(self._bytes[offset : offset + size])
        assert self._fd is not None
        return os.pread(self._fd, size, offset)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _compressed(reader: _Reader, info: zipfile.ZipInfo, name: str, cap: int) -> bytes:
    """The member's compressed bytes, after its local header has been checked."""
    if info.compress_size > cap + DEFLATE_SLACK:
        raise MemberTooLarge(name, f"holds more than {cap} bytes")
    head = reader.pread(_LOCAL_HEADER.size, info.header_offset)
    if len(head) < _LOCAL_HEADER.size or not head.startswith(LOCAL_MAGIC):
        raise CorruptArchive(name, "cannot be decompressed: no local header at its offset")
    fields = _LOCAL_HEADER.unpack(head)
    flags, name_length, extra_length = fields[2], fields[9], fields[10]
    raw_name = reader.pread(name_length, info.header_offset + _LOCAL_HEADER.size)
    if raw_name.decode("utf-8" if flags & UTF8_FLAG else "cp437", "replace") != info.orig_filename:
        raise CorruptArchive(name, "cannot be decompressed: the local header names another file")
    start = info.header_offset + _LOCAL_HEADER.size + name_length + extra_length
    data = reader.pread(info.compress_size, start)
    if len(data) < info.compress_size:
        raise CorruptArchive(name, "cannot be decompressed: the archive is truncated")
    return data


def _inflate_as_declared(data: bytes, info: zipfile.ZipInfo, cap: int) -> bytes | None:
    """The member inflated in one call by libdeflate, when it holds exactly the size its
    header declares (within ``cap``); None otherwise, for :func:`_inflate_bounded` to judge."""
    if info.file_size > cap:
        return None
    try:
        out = libdeflate.deflate_decompress(data, info.file_size)
    except libdeflate.DeflateError:  # corrupt, truncated, or longer than declared
        return None
    return bytes(out) if len(out) == info.file_size else None


def _inflate_bounded(data: bytes, name: str, cap: int) -> bytes:
    """The member inflated by zlib-ng, never more than ``cap + 1`` bytes, with the reason
    it cannot be (corrupt, truncated)."""
    inflater = zlib_ng.decompressobj(-zlib_ng.MAX_WBITS)
    try:
        out = inflater.decompress(data, cap + 1)
    except InflateError as exc:
        raise CorruptArchive(name, f"cannot be decompressed: {exc}") from exc
    if len(out) <= cap and not inflater.eof:
        raise CorruptArchive(name, "cannot be decompressed: the stream is truncated")
    return out


def _inflated(data: bytes, info: zipfile.ZipInfo, name: str, cap: int) -> bytes:
    """The member's bytes, never more than ``cap + 1`` of them decompressed; CRC checked.

    A sound member (nearly all) is inflated by libdeflate into a buffer of its declared
    size, about a quarter faster than zlib-ng for a photo; any other goes through the
    bounded zlib-ng inflate, which gives the verdict and its reason.
    """
    if info.compress_type == zipfile.ZIP_STORED:
        out = data
    else:
        fast = _inflate_as_declared(data, info, cap)
        out = _inflate_bounded(data, name, cap) if fast is None else fast
    if len(out) > cap:
        raise MemberTooLarge(name, f"holds more than {cap} bytes")
    if zlib_ng.crc32(out) != info.CRC:
        raise CorruptArchive(name, "cannot be decompressed: bad CRC")
    return out


@dataclass(frozen=True)
class SharedArchive:
    """An inspected archive as another process can adopt it: source, limits, directory."""

    source: str | Path | bytes
    limits: ArchiveLimits
    index: _Index


def _inspect(infos: list[zipfile.ZipInfo], limits: ArchiveLimits) -> _Index:
    if len(infos) > limits.max_members:
        raise TooManyMembers("(archive)", f"{len(infos)} members; at most {limits.max_members}")
    index = _Index()
    for info in infos:
        name = member_name(info)
        _check_kind(info, name)
        if info.is_dir():
            continue
        _check_size(info, name, limits)
        index.add(info, name, limits)
    return index


def _inspected(source: str | Path | bytes, limits: ArchiveLimits) -> _Index:
    """The archive's directory, read once and checked member by member."""
    with _open_zip(source) as archive:
        return _inspect(archive.infolist(), limits)


def _open_zip(source: str | Path | bytes) -> zipfile.ZipFile:
    stream: str | Path | IO[bytes] = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        return zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise CorruptArchive("(archive)", f"not a readable zip archive: {exc}") from exc


class ZipPhotos:
    """A checked photo archive; members are read lazily with :meth:`read`."""

    def __init__(
        self,
        source: str | Path | bytes,
        limits: ArchiveLimits = DEFAULT_LIMITS,
        *,
        keep_bytes: int = KEEP_BYTES,
        index: _Index | None = None,
    ) -> None:
        self.source = source
        self.limits = limits
        self._kept = _Kept(keep_bytes)
        self._index = _inspected(source, limits) if index is None else index
        self._reader = _Reader(source)

    @classmethod
    def adopt(cls, shared: SharedArchive) -> ZipPhotos:
        """The archive another process has opened and inspected, opened here without
        reading its directory again."""
        return cls(shared.source, shared.limits, index=shared.index)

    def shared(self) -> SharedArchive:
        return SharedArchive(self.source, self.limits, self._index)

    def names(self) -> Iterator[str]:
        """The file members' names (directories excluded), in archive order."""
        return iter(self._index.by_name)

    def __len__(self) -> int:
        return len(self._index.by_name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._lookup(name) is not None

    def _lookup(self, name: str) -> zipfile.ZipInfo | None:
        found = self._index.by_name.get(name)
        if found is None and "/" not in name:
            found = self._index.by_basename.get(name)
        return found

    def read(self, name: str) -> bytes:
        """The member's bytes; never more than the per-member cap are decompressed.

        A member read once is kept (within ``keep_bytes``, oldest dropped first)
        for ONE more read: a batch's photos are read when checked and again,
        shortly after, when written.
        """
        info = self._lookup(name)
        if info is None:
            raise NoSuchMember(name, "no such file in the archive")
        kept = self._kept.take(info.filename)
        if kept is not None:
            return kept
        data = self._read_capped(info, name)
        if data.startswith(ZIP_MAGIC):
            raise NestedArchive(name, "the member is itself a zip archive")
        self._kept.put(info.filename, data)
        return data

    def keep(self, name: str, data: bytes) -> None:
        """Keep ``data``, read and checked elsewhere, as the member's bytes for one read.

        A worker process that checked a photo hands its bytes back this way,
        so the member need not be decompressed a second time when it is written.
        """
        info = self._lookup(name)
        if info is None:
            raise NoSuchMember(name, "no such file in the archive")
        self._kept.put(info.filename, data)

    def _read_capped(self, info: zipfile.ZipInfo, name: str) -> bytes:
        cap = self.limits.max_member_bytes
        return _inflated(_compressed(self._reader, info, name, cap), info, name, cap)

    def close(self) -> None:
        self._reader.close()

    def __enter__(self) -> ZipPhotos:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
