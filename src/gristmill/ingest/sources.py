"""Turning whatever the caller holds (a path, bytes, a file object, an iterator of byte chunks)
into one readable stream that can be peeked at and counts the bytes it has consumed."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import IO, Any, TypeAlias

CHUNK_SIZE = 1 << 20

Source: TypeAlias = (
    "str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes] | Iterable[bytes]"
)


class ByteStream(io.RawIOBase):
    """A read-only stream over a chunk producer (`next_chunk() -> b""` at the end).

    `peek(n)` looks ahead without consuming, which is what compression and format sniffing
    need on sources that cannot seek. `read_chunk()` hands out whole chunks without copying,
    for readers that split bytes themselves.
    """

    def __init__(self, next_chunk: Callable[[], bytes]):
        super().__init__()
        self._next = next_chunk
        self._pending = b""
        self._pos = 0
        self._eof = False
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def _pull(self) -> bytes:
        while not self._eof:
            chunk = self._next()
            if chunk:
                self.bytes_read += len(chunk)
                return chunk
            self._eof = True
        return b""

    def peek(self, size: int) -> bytes:
        while len(self._pending) - self._pos < size:
            chunk = self._pull()
            if not chunk:
                break
            self._pending = self._pending[self._pos :] + chunk
            self._pos = 0
        return self._pending[self._pos : self._pos + size]

    def read_chunk(self) -> bytes:
        if self._pos < len(self._pending):
            out = self._pending[self._pos :] if self._pos else self._pending
            self._pending, self._pos = b"", 0
            return out
        return self._pull()

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._pos >= len(self._pending):
            self._pending, self._pos = self._pull(), 0
            if not self._pending:
                return 0
        n = min(len(view), len(self._pending) - self._pos)
        view[:n] = self._pending[self._pos : self._pos + n]
        self._pos += n
        return n


@dataclass
class OpenedSource:
    """A source made readable. `path` or `seekable` are set when random access is possible
    (Parquet needs it); `exits` closes only what this library opened itself."""

    stream: ByteStream
    name: str | None
    path: str | None
    seekable: IO[bytes] | None
    exits: ExitStack


def _file_chunks(fh: IO[bytes]) -> Callable[[], bytes]:
    def next_chunk() -> bytes:
        data = fh.read(CHUNK_SIZE)
        return bytes(data) if data else b""

    return next_chunk


def _iter_chunks(chunks: Iterable[bytes]) -> Callable[[], bytes]:
    it: Iterator[bytes] = iter(chunks)

    def next_chunk() -> bytes:
        for chunk in it:
            if chunk:
                return bytes(chunk)
        return b""

    return next_chunk


def _is_seekable(fh: Any) -> bool:
    try:
        return bool(fh.seekable())
    except (AttributeError, ValueError, OSError):
        return False


def open_source(source: Source, filename: str | None = None) -> OpenedSource:
    exits = ExitStack()
    if isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        fh: IO[bytes] = exits.enter_context(open(path, "rb"))  # noqa: SIM115
        name = filename or os.path.basename(path)
        return OpenedSource(ByteStream(_file_chunks(fh)), name, path, fh, exits)
    if isinstance(source, bytes | bytearray | memoryview):
        buffer = io.BytesIO(bytes(source))
        return OpenedSource(ByteStream(_file_chunks(buffer)), filename, None, buffer, exits)
    if hasattr(source, "read"):
        fh = source  # type: ignore[assignment]
        if filename is None:
            given = getattr(fh, "name", None)
            filename = os.path.basename(given) if isinstance(given, str) else None
        seekable = fh if _is_seekable(fh) else None
        return OpenedSource(ByteStream(_file_chunks(fh)), filename, None, seekable, exits)
    return OpenedSource(ByteStream(_iter_chunks(source)), filename, None, None, exits)
