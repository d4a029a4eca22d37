"""The blob store contract: streamed writes published atomically, streamed reads."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

CHUNK = 1024 * 1024


class BlobNotFound(KeyError):
    pass


class BlobWriter(ABC):
    """Accepts bytes; the blob becomes visible only when the writer's context exits cleanly."""

    bytes_written: int = 0

    @abstractmethod
    def write(self, data: bytes) -> None: ...


class BlobStore(ABC):
    @abstractmethod
    def writer(self, key: str) -> AbstractContextManager[BlobWriter]:
        """Stream a blob in; an exception inside the block discards everything written."""

    @abstractmethod
    def read(self, key: str, chunk_size: int = CHUNK) -> Iterator[bytes]: ...

    @abstractmethod
    def size(self, key: str) -> int: ...

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove a blob; deleting a missing blob is not an error."""

    def read_range(self, key: str, start: int, end: int) -> Iterator[bytes]:
        """Bytes start..end (inclusive) of a blob, streamed; for HTTP range requests."""
        skip, left = start, end - start + 1
        for chunk in self.read(key):
            if skip >= len(chunk):
                skip -= len(chunk)
                continue
            piece = chunk[skip : skip + left]
            skip, left = 0, left - len(piece)
            yield piece
            if left <= 0:
                return

    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        with self.writer(key) as w:
            for chunk in chunks:
                w.write(chunk)
            return w.bytes_written

    def put_file(self, key: str, path: Path) -> int:
        """Store a local file's bytes at `key` (a store may take the file itself, so the
        caller must not change it afterwards); the size."""
        with open(path, "rb") as fh:
            return self.put(key, iter(lambda: fh.read(CHUNK), b""))

    def presigned_put_url(self, key: str, expires_in: int) -> str | None:
        """A URL that accepts one PUT of the blob's bytes, or None if the store cannot sign."""
        return None

    def presigned_get_url(self, key: str, expires_in: int, filename: str) -> str | None:
        """A URL that serves the blob as an attachment until it expires, or None if the
        store cannot sign (Gristmill then signs a URL of its own)."""
        return None
