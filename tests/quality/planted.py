"""Datasets with planted defects at known rows, over the clean corpus.

`plant(n, {check: count})` returns the rows and, per check, the 1-based lines where that
check's defect was planted. Each planted row carries one defect only, so each check must
flag exactly its own lines.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gristmill.services.datasets.versions import SnapshotFile
from tests.quality.corpus import answer_of, clean_rows, with_answer

Row = dict[str, Any]

PII = [
    ("email", "You can write to jane.doe@example.org about it."),
    ("phone number", "Call our office on +1 650-253-0000 for details."),
    ("payment card", "The card on file is 4111 1111 1111 1111."),
    ("US SSN", "My social security number is 123-45-6789."),
    ("IP address", "The server answers on 203.0.113.77 in our lab."),
    ("IBAN", "Send the refund to GB82 WEST 1234 5698 7654 32, please."),
    ("secret", "Use the key AKIAIOSFODNN7EXAMPLE to sign the request."),
]
REFUSALS = [
    "I'm sorry, but I can't help with that request.",
    "As an AI language model, I do not have opinions about standard library modules.",
    "I cannot assist with this. Please consult the official documentation instead.",
    "I apologize, but I am unable to answer questions about this function.",
    "I must decline to describe this, as it may be misused.",
]
FOREIGN = [
    "Cette fonction renvoie une nouvelle liste triée et ne modifie jamais la séquence "
    "d'origine, ce qui la rend sûre à utiliser partout.",
    "Diese Funktion liest die Datei zeilenweise ein und gibt für jede Zeile ein Wörterbuch "
    "mit den Spaltennamen als Schlüssel zurück.",
    "Esta función crea un archivo temporal que se borra automáticamente cuando se cierra, "
    "así que no hace falta limpiarlo después.",
    "Questa funzione restituisce il valore assoluto di un numero intero o decimale, senza "
    "cambiare il tipo del risultato.",
    "Deze functie zet een tekenreeks om naar kleine letters en laat cijfers en leestekens "
    "ongewijzigd staan in de uitvoer.",
]


def _long_answer(clean: list[Row], k: int) -> str:
    """Sixty clean answers in a row (~2,000 tokens); another window for each k, so two long
    rows are not near duplicates of each other."""
    start = (k * 60) % max(1, len(clean) - 60)
    return " ".join(answer_of(r) for r in clean[start : start + 60])


def _loop(answer: str) -> str:
    head = " ".join(answer.split()[:9])
    return " ".join([head + "."] * 12)


def _mojibake(answer: str) -> str:
    return (
        (answer + " It is the caf\u00e9\u2019s favourite \u2014 na\u00efve, but it works.")
        .encode()
        .decode("cp1252", errors="replace")
    )


SWAPS = ("notably", "usually", "typically", "mostly", "often", "rarely", "always")


def _near(source: Row, k: int) -> Row:
    """The source with one word of its answer changed (a different one each time)."""
    words = answer_of(source).split()
    words[len(words) // 2 + k % 3] = SWAPS[k % len(SWAPS)]
    return with_answer(source, " ".join(words))


def _exact(source: Row) -> Row:
    question = source["messages"][0]["content"]
    return {
        "messages": [
            {"role": "user", "content": "  " + question.upper() + "  "},
            {"role": "assistant", "content": answer_of(source).replace(" ", "   ")},
        ]
    }


CHECKS = (
    "exact_duplicate",
    "near_duplicate",
    "pii",
    "too_long",
    "empty_response",
    "refusal",
    "repetition",
    "language_mismatch",
    "mojibake",
)


def plant(n: int, counts: dict[str, int], seed: int = 0) -> tuple[list[Row], dict[str, set[int]]]:
    rows = clean_rows(n, seed)
    clean = [dict(r) for r in rows]
    # defects go after the first 20 rows, which the duplicates copy
    # the three longest: with one word of 40 changed, estimates stay well above 0.8
    long_sources = sorted(range(20), key=lambda i: -len(answer_of(rows[i]).split()))[:3]
    assert len(answer_of(rows[long_sources[-1]]).split()) >= 40, "answers too short to copy"
    planted: dict[str, set[int]] = {c: set() for c in CHECKS}
    makers: dict[str, Callable[[int, int], Row]] = {
        "exact_duplicate": lambda i, k: _exact(rows[k % 20]),
        "near_duplicate": lambda i, k: _near(rows[long_sources[k % len(long_sources)]], k),
        "pii": lambda i, k: with_answer(rows[i], answer_of(rows[i]) + " " + PII[k % 7][1]),
        "too_long": lambda i, k: with_answer(rows[i], _long_answer(clean, k)),
        "empty_response": lambda i, k: with_answer(rows[i], "  \n "),
        "refusal": lambda i, k: with_answer(rows[i], REFUSALS[k % 5]),
        "repetition": lambda i, k: with_answer(rows[i], _loop(answer_of(rows[i]))),
        "language_mismatch": lambda i, k: with_answer(rows[i], FOREIGN[k % 5]),
        "mojibake": lambda i, k: with_answer(rows[i], _mojibake(answer_of(rows[i]))),
    }
    order = [c for c in CHECKS for _ in range(counts.get(c, 0))]
    step = max(1, (n - 20) // max(1, len(order)))
    used = list(range(20, n, step))[: len(order)]
    assert len(used) == len(order), "not enough rows to plant that many defects"
    for k, (check, i) in enumerate(zip(order, used, strict=True)):
        rows[i] = makers[check](i, k)
        planted[check].add(i + 1)
    return rows, planted


def snapshot(rows: list[Row], path: Path, row_group: int = 5000) -> Path:
    """The rows as a version snapshot, written by the code ingest uses (a row group per
    `row_group` rows, as ingest writes a row group per batch)."""
    snap = SnapshotFile()
    records = []
    for i, row in enumerate(rows):
        messages = row["messages"]
        records.append(
            {
                "id": str(uuid.UUID(int=i + 1)),
                "kind": "chat",
                "input": {"messages": messages[:-1]},
                "output": messages[-1:],
                "source_line": i + 1,
                "created_at": datetime.now(UTC),
            }
        )
    for start in range(0, len(records), row_group):
        snap.add(records[start : start + row_group])
    snap._close_writer()
    target = path / "version.parquet"
    snap.path.rename(target)
    snap.close()
    return target
