"""The create request's multipart body, where `file` may be a file part or a plain field.

The `scale-gp` SDK sends `file` as a plain form field. Starlette keeps plain fields in memory
and refuses them past 1 MiB, so a plain `file` field is spooled to disk exactly like a file
part: a multi-GB file costs no memory whichever way it comes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from tempfile import SpooledTemporaryFile
from typing import IO

from fastapi import Request
from starlette.datastructures import FormData, Headers, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from gristmill.api.deps import CHUNK, file_chunks
from gristmill.services.errors import InvalidRequest

FILE_FIELD = "file"


class _FileFieldParser(MultiPartParser):
    # Starlette's hooks are the only way in short of a second multipart parser; the test with
    # a multi-MB plain-field file fails loudly if an upgrade changes them.
    def on_headers_finished(self) -> None:
        super().on_headers_finished()
        part = self._current_part
        if part.file is None and part.field_name == FILE_FIELD:
            self._current_fields -= 1
            spool = SpooledTemporaryFile(max_size=self.spool_max_size)  # noqa: SIM115
            self._files_to_close_on_error.append(spool)
            part.file = UploadFile(
                file=spool,  # type: ignore[arg-type]
                size=0,
                filename=None,
                headers=Headers(raw=part.item_headers),
            )


async def read_create_form(request: Request) -> FormData:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidRequest(
            "Send the training dataset as multipart/form-data with the fields account_id, "
            "name, schema_type and file.",
            param=FILE_FIELD,
        )
    parser = _FileFieldParser(request.headers, request.stream(), max_files=4, max_fields=16)
    try:
        return await parser.parse()
    except MultiPartException as exc:
        raise InvalidRequest(f"Malformed multipart body: {exc.message}") from None


def file_bytes(upload: UploadFile) -> Iterator[bytes]:
    """The file's bytes, in chunks (read in a worker thread).

    Given `bytes`, as in the SDK's own example (`file=b"..."`), the SDK sends their Python
    repr (`b'...'`) as the plain field; that form is decoded back to the bytes meant."""
    size = _bytes_repr_size(upload.file) if upload.filename is None else None
    if size is None:
        plain: Iterator[bytes] = file_chunks(upload)
        return plain
    return _unrepr(upload.file, size)


def _bytes_repr_size(fh: IO[bytes]) -> int | None:
    fh.seek(0)
    head = fh.read(2)
    if head not in (b"b'", b'b"'):
        return None
    size = fh.seek(0, os.SEEK_END)
    fh.seek(size - 1)
    return size if size >= 3 and fh.read(1) == head[1:] else None


_ESCAPE = re.compile(rb"\\(x[0-9a-fA-F]{2}|.)", re.DOTALL)
_SIMPLE = {b"n": b"\n", b"r": b"\r", b"t": b"\t"}


def _unescape(match: re.Match[bytes]) -> bytes:
    code = match.group(1)
    if code[:1] == b"x":
        return bytes([int(code[1:], 16)])
    return _SIMPLE.get(code, code)


def _safe_cut(buf: bytes) -> int:
    """Where `buf` can be cut without splitting an escape (at most 4 bytes: `\\xhh`)."""
    last = buf.rfind(b"\\", max(0, len(buf) - 4))
    if last < 0:
        return len(buf)
    run = last + 1 - len(buf[: last + 1].rstrip(b"\\"))
    if run % 2 == 0:  # the last backslash is the escaped half of a `\\\\` pair
        return len(buf)
    need = 4 if buf[last + 1 : last + 2] == b"x" else 2
    return len(buf) if last + need <= len(buf) else last


def _unrepr(fh: IO[bytes], size: int) -> Iterator[bytes]:
    fh.seek(2)
    remaining = size - 3  # between `b'` and the closing quote
    carry = b""
    while remaining > 0:
        chunk = fh.read(min(CHUNK, remaining))
        if not chunk:
            break
        remaining -= len(chunk)
        buf = carry + chunk
        cut = _safe_cut(buf) if remaining else len(buf)
        carry = buf[cut:]
        yield _ESCAPE.sub(_unescape, buf[:cut])
