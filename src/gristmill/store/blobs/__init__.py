"""Blob storage: a local directory or an S3-compatible bucket, chosen by URL."""

from __future__ import annotations

from gristmill.settings import Settings
from gristmill.store.blobs.base import BlobNotFound, BlobStore, BlobWriter


def open_blob_store(settings: Settings) -> BlobStore:
    url = settings.resolved_blob_url()
    if url.startswith("file://"):
        from gristmill.store.blobs.local import LocalBlobStore

        return LocalBlobStore(url.removeprefix("file://"))
    if url.startswith("s3://"):
        from gristmill.store.blobs.s3 import S3BlobStore

        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        return S3BlobStore(
            bucket=bucket,
            prefix=prefix,
            endpoint_url=settings.s3_endpoint_url,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
            region=settings.s3_region,
        )
    raise ValueError(f"unsupported blob URL {url!r}: use file:///path or s3://bucket/prefix")


__all__ = ["BlobNotFound", "BlobStore", "BlobWriter", "open_blob_store"]
