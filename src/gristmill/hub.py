"""The Hub bundles what every use case needs: settings, the metadata store and the blob store."""

from __future__ import annotations

from dataclasses import dataclass

from gristmill.settings import Settings
from gristmill.store.blobs import BlobStore, open_blob_store
from gristmill.store.metadata.db import Database, upgrade


@dataclass
class Hub:
    settings: Settings
    db: Database
    blobs: BlobStore

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool = True) -> Hub:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        url = settings.resolved_database_url()
        if migrate:
            upgrade(url)
        return cls(settings=settings, db=Database(url), blobs=open_blob_store(settings))

    def close(self) -> None:
        self.db.dispose()
