"""Streaming a byte source into the blob store while hashing, size-capping and checking it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from gristmill.services.errors import PayloadTooLarge
from gristmill.store.blobs import BlobStore

ChunkCheck = Callable[[bytes], None]


@dataclass(frozen=True)
class StoredBlob:
    key: str
    bytes: int
    sha256: str
    md5: str


def store_stream(
    blobs: BlobStore,
    key: str,
    chunks: Iterable[bytes],
    *,
    max_bytes: int,
    too_large: str,
    checks: Iterable[ChunkCheck] = (),
    finish: Callable[[], None] | None = None,
    digests: tuple[str, ...] = ("sha256",),
) -> StoredBlob:
    """Write `chunks` to `key`. Any exception (size cap, a check) leaves nothing stored.

    Only the digests asked for are computed (an empty string stands for the others): hashing
    costs about as much as the disk write, so upload parts ask for none."""
    hashers = {name: hashlib.new(name, usedforsecurity=False) for name in digests}
    checks = list(checks)
    total = 0
    with blobs.writer(key) as out:
        for chunk in chunks:
            total += len(chunk)
            if total > max_bytes:
                raise PayloadTooLarge(too_large)
            for check in checks:
                check(chunk)
            for hasher in hashers.values():
                hasher.update(chunk)
            out.write(chunk)
        if finish is not None:
            finish()
    hexes = {name: h.hexdigest() for name, h in hashers.items()}
    return StoredBlob(
        key=key, bytes=total, sha256=hexes.get("sha256", ""), md5=hexes.get("md5", "")
    )
