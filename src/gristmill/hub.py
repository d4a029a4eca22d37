"""The Hub bundles what every use case needs: settings, the metadata store and the blob store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gristmill.settings import Settings
from gristmill.store.blobs import BlobStore, open_blob_store
from gristmill.store.metadata.db import Database, upgrade
from gristmill.ttl_cache import TTLCache


@dataclass
class Hub:
    settings: Settings
    db: Database
    blobs: BlobStore
    # API key hash -> accounts.Principal, so that a busy door does not look its key up per request
    principals: TTLCache[str, Any] = field(default_factory=lambda: TTLCache(0))

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool = True) -> Hub:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        url = settings.resolved_database_url()
        if migrate:
            upgrade(url)
        return cls(
            settings=settings,
            db=Database(url, settings.sqlite_readers),
            blobs=open_blob_store(settings),
            principals=TTLCache(settings.auth_cache_seconds),
        )

    def close(self) -> None:
        self.db.dispose()
