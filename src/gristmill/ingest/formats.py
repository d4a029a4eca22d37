"""Which of the four formats a source is: named explicitly, implied by the filename, or sniffed."""

from __future__ import annotations

import codecs

from gristmill.ingest.compression import SUFFIXES
from gristmill.ingest.errors import IngestError

JSONL, JSON, CSV, PARQUET = "jsonl", "json", "csv", "parquet"
FORMATS = (JSONL, JSON, CSV, PARQUET)

_NAMES = {
    "jsonl": JSONL,
    "ndjson": JSONL,
    "jsonlines": JSONL,
    "json": JSON,
    "csv": CSV,
    "parquet": PARQUET,
}
_EXTENSIONS = {".jsonl": JSONL, ".ndjson": JSONL, ".json": JSON, ".csv": CSV, ".parquet": PARQUET}
SNIFF_BYTES = 64 * 1024


def parse_format(name: str | None) -> str | None:
    if name is None:
        return None
    found = _NAMES.get(name.strip().lower().lstrip("."))
    if found is None:
        raise IngestError(
            f"Unsupported format '{name}': expected one of {', '.join(FORMATS)}.", param="format"
        )
    return found


def split_filename(filename: str | None) -> tuple[str | None, str | None, str]:
    """(format, compression, extension) as the filename suggests them; either may be None.

    The extension is returned so that an error can name what it did not recognise.
    """
    if not filename:
        return None, None, ""
    lowered = filename.lower()
    compression = None
    for suffix, kind in SUFFIXES.items():
        if lowered.endswith(suffix):
            compression = kind
            lowered = lowered[: -len(suffix)]
            break
    dot = lowered.rfind(".")
    ext = lowered[dot:] if dot > 0 else ""
    return _EXTENSIONS.get(ext), compression, ext


def sniff_format(head: bytes) -> str | None:
    """A best guess from the first bytes of the (decompressed) data, or None."""
    if head.startswith(b"PAR1"):
        return PARQUET
    # Lenient: a bad byte on some row must not hide what kind of file this is.
    decoded = codecs.getincrementaldecoder("utf-8")("replace").decode(head, final=False)
    stripped = decoded.lstrip("\ufeff \t\r\n")
    if stripped.startswith("["):
        return JSON
    if stripped.startswith("{"):
        return JSONL
    first_line = stripped.split("\n", 1)[0]
    if "\x00" not in decoded and "," in first_line:
        return CSV
    return None


def describe_unrecognised(filename: str | None, ext: str) -> str:
    if ext:
        return (
            f"Unsupported file type '{ext}' ({filename}): the content is not JSONL, JSON, CSV "
            f"or Parquet either. Expected one of {', '.join(FORMATS)}."
        )
    return f"Could not recognise the file format: expected one of {', '.join(FORMATS)}."
