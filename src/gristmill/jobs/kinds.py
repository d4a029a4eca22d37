"""Every job kind the workers know, registered in one place."""

from __future__ import annotations


def register_all() -> None:
    from gristmill.services.ingest_job import register_ingest

    register_ingest()
