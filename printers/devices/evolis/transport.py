"""Moving bytes to and from a printer, and nothing else.

A :class:`Transport` sends command bytes and returns one reply at a time,
read up to and including its CR; it knows nothing of what the bytes mean.
Two implementations:

:class:`TcpTransport`
    A network printer (or the simulator) over asyncio streams; use it with
    ``async with``.

:class:`UsbTransport`
    A USB printer-class device file such as ``/dev/usb/lp0``. The file is
    opened non-blocking and every read and write runs in a worker thread
    (``asyncio.to_thread``) that waits on ``select`` with a deadline, so the
    event loop never blocks on the device.

``receive_reply`` takes its time-out as an argument rather than leaving it to
the caller's ``asyncio.timeout``: the USB transport waits in a thread, which
a cancelled task cannot interrupt, so the deadline has to reach the thread.

:func:`open_transport` makes the transport a printer address names.

Every ``OSError``, end of stream or time-out becomes
:class:`sscard_core.errors.TransportError` (raised ``from`` the cause).
"""

from __future__ import annotations

import asyncio
import errno
import os
import select
import time
from types import TracebackType
from typing import Protocol, Self
from urllib.parse import urlsplit

from sscard_core.errors import InputError, TransportError

CR = b"\r"
MAX_REPLY = 4096  # no reply is longer; more bytes without a CR mean a broken stream


class Transport(Protocol):
    """Bytes to and from a printer."""

    async def send(self, data: bytes) -> None: ...

    async def receive_reply(self, timeout: float) -> bytes:  # noqa: ASYNC109
        """One reply, up to and including its CR."""
        ...

    async def aclose(self) -> None: ...


class TcpTransport:
    """A printer reached over TCP."""

    def __init__(self, host: str, port: int, *, connect_timeout: float = 5.0) -> None:
        self.host = host
        self.port = port
        self._connect_timeout = connect_timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    def __repr__(self) -> str:
        return f"TcpTransport({self.host!r}, {self.port})"

    async def connect(self) -> None:
        try:
            async with asyncio.timeout(self._connect_timeout):
                self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        except (OSError, TimeoutError) as exc:
            raise TransportError(
                f"cannot connect to the printer at {self.host}:{self.port}",
                host=self.host,
                port=self.port,
            ) from exc

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def _streams(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None:
            raise TransportError(f"{self!r} is not connected")
        return self._reader, self._writer

    async def send(self, data: bytes) -> None:
        _, writer = self._streams()
        try:
            writer.write(data)
            await writer.drain()
        except (OSError, RuntimeError) as exc:  # RuntimeError: the transport was closed
            raise TransportError(f"cannot send to {self.host}:{self.port}") from exc

    async def receive_reply(self, timeout: float) -> bytes:  # noqa: ASYNC109
        reader, _ = self._streams()
        try:
            async with asyncio.timeout(timeout):
                return await reader.readuntil(CR)
        except TimeoutError as exc:
            raise TransportError(f"no reply within {timeout} s", timeout=timeout) from exc
        except asyncio.IncompleteReadError as exc:
            raise TransportError("the printer closed the connection") from exc
        except (asyncio.LimitOverrunError, OSError) as exc:
            raise TransportError(f"cannot read from {self.host}:{self.port}") from exc

    async def aclose(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is None:
            return
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            return


class UsbTransport:
    """A USB printer-class device file, opened non-blocking, used from a thread."""

    def __init__(self, path: str, *, write_timeout: float = 30.0) -> None:
        self.path = path
        self._write_timeout = write_timeout
        self._fd: int | None = None
        self._pending = bytearray()

    def __repr__(self) -> str:
        return f"UsbTransport({self.path!r})"

    def open(self) -> None:
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK | os.O_NOCTTY)
        except OSError as exc:
            raise TransportError(f"cannot open {self.path}", path=self.path) from exc

    async def __aenter__(self) -> Self:
        self.open()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def _require_fd(self) -> int:
        if self._fd is None:
            raise TransportError(f"{self.path} is not open", path=self.path)
        return self._fd

    async def send(self, data: bytes) -> None:
        fd = self._require_fd()
        await asyncio.to_thread(self._write_all, fd, data)

    def _write_all(self, fd: int, data: bytes) -> None:
        view = memoryview(data)
        deadline = time.monotonic() + self._write_timeout
        while view:
            self._wait(fd, writable=True, deadline=deadline)
            view = view[self._os_write(fd, view) :]

    async def receive_reply(self, timeout: float) -> bytes:  # noqa: ASYNC109
        fd = self._require_fd()
        return await asyncio.to_thread(self._read_reply, fd, time.monotonic() + timeout)

    def _read_reply(self, fd: int, deadline: float) -> bytes:
        while CR not in self._pending:
            if len(self._pending) > MAX_REPLY:
                raise TransportError(f"{len(self._pending)} bytes from {self.path} without a CR")
            self._wait(fd, writable=False, deadline=deadline)
            chunk = self._os_read(fd)
            if chunk == b"":
                raise TransportError(f"{self.path} reached end of file", path=self.path)
            self._pending += chunk or b""
        end = self._pending.index(CR) + 1
        reply = bytes(self._pending[:end])
        del self._pending[:end]
        return reply

    def _os_read(self, fd: int) -> bytes | None:
        """Bytes read, b"" at end of file, None if the device had nothing after all."""
        try:
            return os.read(fd, MAX_REPLY)
        except BlockingIOError:
            return None
        except OSError as exc:
            raise TransportError(f"cannot read {self.path}", path=self.path) from exc

    def _os_write(self, fd: int, data: memoryview) -> int:
        try:
            return os.write(fd, data)
        except BlockingIOError:
            return 0
        except OSError as exc:
            raise TransportError(f"cannot write {self.path}", path=self.path) from exc

    def _wait(self, fd: int, *, writable: bool, deadline: float) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TransportError(f"{self.path} timed out", path=self.path)
        rlist, wlist = ([], [fd]) if writable else ([fd], [])
        try:
            ready = select.select(rlist, wlist, [], left)
        except OSError as exc:
            raise TransportError(f"cannot wait on {self.path}", path=self.path) from exc
        if not any(ready):
            raise TransportError(f"{self.path} timed out", path=self.path, errno=errno.ETIMEDOUT)

    async def aclose(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.close(fd)
        except OSError as exc:
            raise TransportError(f"cannot close {self.path}", path=self.path) from exc


async def open_transport(url: str) -> Transport:
    """The open transport to ``tcp://HOST:PORT`` or a USB device file path."""
    parts = urlsplit(url)
    if parts.scheme == "tcp" and parts.hostname and parts.port:
        tcp = TcpTransport(parts.hostname, parts.port)
        await tcp.connect()
        return tcp
    if parts.scheme in ("", "usb", "file"):
        usb = UsbTransport(parts.path)
        usb.open()
        return usb
    raise InputError(f"a printer address must be tcp://HOST:PORT or a device path, not {url}")
