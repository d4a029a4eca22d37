"""The one exception the ingestion library raises for a file that cannot be ingested at all."""

from __future__ import annotations

from gristmill.services.errors import InvalidRequest


class IngestError(InvalidRequest):
    """The whole source is unusable (format, compression, header, options).

    Problems confined to single rows never raise: they become per-row reasons.
    `param` names the request field a door should blame; it defaults to the file.
    """

    def __init__(self, message: str, *, param: str | None = "file", code: str | None = None):
        super().__init__(message, param=param, code=code)
