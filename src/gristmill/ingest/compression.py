"""Compression: what the caller declared, what the bytes say, and streaming decompression.

A declaration comes from the `compression` argument or, failing that, from a `.gz`/`.zst`/
`.zstd` filename suffix; it must agree with the magic bytes, because a door has no other way
to tell that a user sent the wrong file. Without a declaration the magic bytes decide.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable

import zstandard

from gristmill.ingest.errors import IngestError
from gristmill.ingest.sources import CHUNK_SIZE, ByteStream

GZIP, ZSTD, NONE = "gzip", "zstd", "none"

_NAMES = {
    "gzip": GZIP,
    "gz": GZIP,
    "zstd": ZSTD,
    "zst": ZSTD,
    "zstandard": ZSTD,
    "none": NONE,
    "identity": NONE,
    "uncompressed": NONE,
}
SUFFIXES = {".gz": GZIP, ".gzip": GZIP, ".zst": ZSTD, ".zstd": ZSTD}

_UNSUPPORTED_MAGIC = {
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"PK\x03\x04": "zip",
    b"7z\xbc\xaf\x27\x1c": "7z",
}
# Feeding zstd small slices bounds how much one decompress call can return.
_ZSTD_SLICE = 64 * 1024


def parse_compression(name: str | None) -> str | None:
    if name is None:
        return None
    found = _NAMES.get(name.strip().lower())
    if found is None:
        raise IngestError(
            f"Unsupported compression '{name}': expected gzip, zstd or none.", param="compression"
        )
    return found


def sniff_compression(head: bytes) -> str:
    if head.startswith(b"\x1f\x8b"):
        return GZIP
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return ZSTD
    for magic, label in _UNSUPPORTED_MAGIC.items():
        if head.startswith(magic):
            raise IngestError(
                f"Unsupported file: it is a {label} archive. Supported are JSONL, JSON, CSV "
                "and Parquet files, optionally gzip- or zstd-compressed."
            )
    return NONE


def check_declared(declared: str, actual: str, origin: str) -> None:
    if declared == actual:
        return
    found = "it is not compressed" if actual == NONE else f"it is {actual}-compressed"
    raise IngestError(
        f"The declared compression '{declared}' ({origin}) does not match the data: {found}.",
        param="compression" if origin == "the compression parameter" else "file",
    )


def decompress(stream: ByteStream, kind: str) -> ByteStream:
    if kind == GZIP:
        return ByteStream(_gzip_chunks(stream))
    if kind == ZSTD:
        return ByteStream(_ZstdChunks(stream))
    return stream


def _gzip_chunks(stream: ByteStream) -> Callable[[], bytes]:
    reader = gzip.GzipFile(fileobj=stream, mode="rb")

    def next_chunk() -> bytes:
        try:
            return reader.read(CHUNK_SIZE)
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise IngestError(f"The gzip stream is corrupt or truncated: {exc}.") from None

    return next_chunk


class _ZstdChunks:
    """zstd frames one after another. The library's stream reader ends quietly on a truncated
    frame, so frames are decoded by hand to notice a file that stops mid-frame."""

    def __init__(self, stream: ByteStream):
        self._src = stream
        self._dctx = zstandard.ZstdDecompressor()
        self._obj = self._dctx.decompressobj()
        self._in_frame = False

    def __call__(self) -> bytes:
        while True:
            data = self._src.read(_ZSTD_SLICE)
            if not data:
                if self._in_frame:
                    raise IngestError("The zstd stream is truncated: it ends inside a frame.")
                return b""
            try:
                out = self._feed(data)
            except zstandard.ZstdError as exc:
                raise IngestError(f"The zstd stream is corrupt: {exc}.") from None
            if out:
                return out

    def _feed(self, data: bytes) -> bytes:
        parts = []
        while data:
            self._in_frame = True
            parts.append(self._obj.decompress(data))
            if not self._obj.eof:
                break
            self._in_frame = False
            data = self._obj.unused_data
            self._obj = self._dctx.decompressobj()
        return b"".join(parts)
