"""Blobs in a local directory: written to a temp file, published by an atomic rename."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from gristmill.store.blobs.base import CHUNK, BlobNotFound, BlobStore, BlobWriter


class _FileWriter(BlobWriter):
    def __init__(self, path: Path):
        self._fh = open(path, "wb")  # noqa: SIM115 - closed by LocalBlobStore.writer
        self.bytes_written = 0

    def write(self, data: bytes) -> None:
        self._fh.write(data)
        self.bytes_written += len(data)

    def close(self) -> None:
        self._fh.close()


class LocalBlobStore(BlobStore):
    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()
        self._tmp = self.root / ".tmp"
        self._tmp.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root not in path.parents:
            raise ValueError(f"blob key escapes the store: {key!r}")
        return path

    @contextmanager
    def writer(self, key: str) -> Iterator[BlobWriter]:
        final = self._path(key)
        tmp = self._tmp / uuid.uuid4().hex
        w = _FileWriter(tmp)
        try:
            yield w
            w.close()
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)
        finally:
            w.close()
            tmp.unlink(missing_ok=True)

    def put_file(self, key: str, path: Path) -> int:
        """A hard link to the file when it is on the store's disk (no copy at all), else a
        kernel-side copy; published by the same atomic rename as a streamed write."""
        final = self._path(key)
        tmp = self._tmp / uuid.uuid4().hex
        try:
            try:
                os.link(path, tmp)
            except OSError:  # another file system, or links not allowed
                shutil.copyfile(path, tmp)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        return final.stat().st_size

    def read(self, key: str, chunk_size: int = CHUNK) -> Iterator[bytes]:
        try:
            fh = open(self._path(key), "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError as exc:
            raise BlobNotFound(key) from exc
        return self._chunks(fh, chunk_size)

    def read_range(self, key: str, start: int, end: int) -> Iterator[bytes]:
        try:
            fh = open(self._path(key), "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError as exc:
            raise BlobNotFound(key) from exc
        fh.seek(start)
        return self._bounded(fh, end - start + 1)

    @staticmethod
    def _bounded(fh: BinaryIO, left: int) -> Iterator[bytes]:
        with fh:
            while left > 0 and (chunk := fh.read(min(CHUNK, left))):
                left -= len(chunk)
                yield chunk

    @staticmethod
    def _chunks(fh: BinaryIO, chunk_size: int) -> Iterator[bytes]:
        with fh:
            while chunk := fh.read(chunk_size):
                yield chunk

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError as exc:
            raise BlobNotFound(key) from exc

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def local_path(self, key: str) -> Path:
        return self._path(key)
