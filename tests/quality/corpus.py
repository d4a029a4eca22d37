"""Clean, varied real text for quality tests, with planted defects at known rows.

The clean rows are question/answer pairs built from the Python standard library's own
documentation: the answer is the first paragraph of a public function's or class's
docstring, the question asks about that name in one of several phrasings. That is real
prose written by many people about many subjects, the same on every machine with this
Python. No two answers are alike: the library documents families of functions with one
sentence pattern ("Log a message with severity 'INFO'...", "... 'DEBUG'..."), which really
are near duplicates, so only the first answer of each opening (its first five words) is kept.
"""

from __future__ import annotations

import importlib
import inspect
import json
import random
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

MODULES = (
    "argparse",
    "base64",
    "bisect",
    "calendar",
    "collections",
    "colorsys",
    "configparser",
    "contextlib",
    "copy",
    "csv",
    "datetime",
    "decimal",
    "difflib",
    "email.utils",
    "enum",
    "filecmp",
    "fnmatch",
    "fractions",
    "ftplib",
    "functools",
    "getpass",
    "gettext",
    "glob",
    "gzip",
    "hashlib",
    "heapq",
    "hmac",
    "html",
    "http.cookies",
    "imaplib",
    "inspect",
    "ipaddress",
    "itertools",
    "json",
    "locale",
    "logging",
    "lzma",
    "mailbox",
    "mimetypes",
    "operator",
    "optparse",
    "pathlib",
    "pickle",
    "platform",
    "plistlib",
    "pprint",
    "queue",
    "quopri",
    "random",
    "re",
    "sched",
    "secrets",
    "selectors",
    "shelve",
    "shlex",
    "shutil",
    "smtplib",
    "socket",
    "sqlite3",
    "statistics",
    "string",
    "struct",
    "subprocess",
    "tarfile",
    "tempfile",
    "textwrap",
    "threading",
    "timeit",
    "tokenize",
    "trace",
    "traceback",
    "types",
    "typing",
    "unicodedata",
    "urllib.parse",
    "uuid",
    "warnings",
    "wave",
    "weakref",
    "webbrowser",
    "xml.dom.minidom",
    "zipfile",
    "zlib",
)
QUESTIONS = (
    "What does {name} do?",
    "Can you explain {name} from the Python standard library?",
    "I keep seeing {name} in code reviews. What is it for?",
    "Describe the purpose of {name} in a few sentences.",
    "How would you summarise {name} for a new Python developer?",
)
MIN_WORDS = 12


@lru_cache(maxsize=1)
def documented() -> list[tuple[str, str]]:
    """(qualified name, first docstring paragraph) pairs, in a fixed order, no repeats."""
    seen: set[str] = set()
    openings: set[str] = set()
    found: list[tuple[str, str]] = []
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name, obj in _members(module, module_name):
            doc = inspect.getdoc(obj) or ""
            para = " ".join(doc.split("\n\n")[0].split())
            key = " ".join(para.lower().split())
            opening = " ".join(key.split()[:5])
            if len(para.split()) < MIN_WORDS or key in seen or opening in openings:
                continue
            if "(*args" in para:
                continue
            seen.add(key)
            openings.add(opening)
            found.append((name, para))
    return found


def _members(owner: Any, prefix: str, depth: int = 0) -> Iterator[tuple[str, Any]]:
    """Public functions and classes of a module, and the methods of its classes."""
    for attr in sorted(vars(owner)):
        if attr.startswith("_"):
            continue
        obj = getattr(owner, attr, None)
        if inspect.isclass(obj) or inspect.isroutine(obj):
            if getattr(obj, "__module__", None) not in (None, owner.__name__, prefix) and not depth:
                continue  # re-exported from elsewhere: documented there
            yield f"{prefix}.{attr}", obj
            if inspect.isclass(obj) and depth == 0:
                yield from _members(obj, f"{prefix}.{attr}", 1)


def clean_rows(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """`n` chat rows, each about a different documented name."""
    pool = documented()
    assert len(pool) >= n, f"only {len(pool)} documented names"
    rng = random.Random(seed)
    picked = rng.sample(pool, n)
    return [
        {
            "messages": [
                {"role": "user", "content": rng.choice(QUESTIONS).format(name=name)},
                {"role": "assistant", "content": answer},
            ]
        }
        for name, answer in picked
    ]


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in rows)


def answer_of(row: dict[str, Any]) -> str:
    return str(row["messages"][-1]["content"])


def with_answer(row: dict[str, Any], answer: str) -> dict[str, Any]:
    return {"messages": [row["messages"][0], {"role": "assistant", "content": answer}]}


def lines(rows: Iterator[int]) -> set[int]:
    return {r + 1 for r in rows}
