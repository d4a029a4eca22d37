"""A finished export streamed as a download, with its report in headers (every door that
downloads an export in a training format answers the same way)."""

from __future__ import annotations

from fastapi.responses import StreamingResponse

from gristmill.hub import Hub
from gristmill.services.datasets import export_job
from gristmill.store.metadata.models import Export


def stream_export(hub: Hub, export: Export) -> StreamingResponse:
    """The single file of a finished export, with its report in headers."""
    file = export.files[0]
    return StreamingResponse(
        hub.blobs.read(file["blob_key"]),
        media_type=export_job.media_type(export.format),
        headers={
            "content-disposition": f'attachment; filename="{file["name"]}"',
            "x-gristmill-export-id": export.id,
            "x-gristmill-version-id": export.version_id,
            "x-gristmill-rows-written": str(export.rows_written),
            "x-gristmill-rows-skipped": str(export.rows_skipped),
        },
    )
