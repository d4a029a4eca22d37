"""Memory stays flat: a ~50 MB file is ingested with a small, bounded peak."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

from gristmill.ingest import IngestReader

TARGET_BYTES = 50 * 1024 * 1024
PARAGRAPH = (
    "Our return policy allows unworn items to be sent back within 30 days of delivery. "
    "Refunds go to the original payment method within five business days of arrival. "
) * 6


def write_big_jsonl(path: Path) -> int:
    """Written row by row, so generating the file does not itself hold it in memory."""
    rows = 0
    with path.open("w", encoding="utf-8") as out:
        while out.tell() < TARGET_BYTES:
            rows += 1
            row = {
                "messages": [
                    {"role": "system", "content": "You are a retail support assistant."},
                    {
                        "role": "user",
                        "content": f"Ticket {rows}: can I return my shoes? {PARAGRAPH}",
                    },
                    {"role": "assistant", "content": f"Yes. {PARAGRAPH}"},
                ],
                "metadata": {"ticket": rows},
            }
            out.write(json.dumps(row) + "\n")
    return rows


def test_fifty_megabytes_of_jsonl_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "tickets.jsonl"
    total = write_big_jsonl(path)
    assert path.stat().st_size >= TARGET_BYTES

    valid = rejected = batches = 0
    tracemalloc.start()
    try:
        with IngestReader(path, batch_size=2000) as reader:
            for batch in reader:
                batches += 1
                valid += len(batch.rows)
                rejected += len(batch.errors)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert (valid, rejected) == (total, 0)
    assert batches == -(-total // 2000)
    assert reader.bytes_read == path.stat().st_size
    assert peak < 50 * 1024 * 1024, f"peak traced memory {peak / 2**20:.1f} MiB"
