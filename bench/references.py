"""The reference loaders for `bench/ingest.py`, one per process so that neither one's memory,
caches or threads touch the other measurements:

    .venv/bin/python bench/references.py duckdb   FILE WORKDIR
    .venv/bin/python bench/references.py datasets FILE WORKDIR

`duckdb` times `COPY (SELECT * FROM read_json(FILE)) TO 'WORKDIR/x.parquet'`; `datasets` times
`datasets.load_dataset('json', data_files=FILE, cache_dir=WORKDIR/hf-cache)` (set
HF_DATASETS_OFFLINE=1 and HF_HUB_OFFLINE=1 in its environment). Each prints one JSON line:
`{"name", "seconds", "import_seconds", "rows", "peak_rss_kb"}`; `seconds` covers only the call,
not the interpreter start or the library import. The peak RSS is VmHWM from /proc, not
getrusage's ru_maxrss, which Linux carries over from the parent across fork + exec. Only the
standard library and the library measured are imported.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def run_duckdb(file: Path, work: Path) -> tuple[float, float, int]:
    t0 = time.perf_counter()
    import duckdb

    imported = time.perf_counter() - t0
    out = work / "x.parquet"
    spill = work / "duckdb-tmp"
    con = duckdb.connect()
    con.execute(f"SET temp_directory = {_sql_text(str(spill))}")
    t0 = time.perf_counter()
    con.execute(
        f"COPY (SELECT * FROM read_json({_sql_text(str(file))})) "
        f"TO {_sql_text(str(out))} (FORMAT parquet)"
    )
    seconds = time.perf_counter() - t0
    # DuckDB 2.0: relations have no fetchone(); a statement's result does.
    row = con.execute("SELECT count(*) FROM read_parquet(?)", [str(out)]).fetchone()
    con.close()
    return seconds, imported, int(row[0]) if row else -1


def run_datasets(file: Path, work: Path) -> tuple[float, float, int]:
    t0 = time.perf_counter()
    import datasets  # type: ignore[import-untyped]

    imported = time.perf_counter() - t0
    t0 = time.perf_counter()
    loaded = datasets.load_dataset("json", data_files=str(file), cache_dir=str(work / "hf-cache"))
    seconds = time.perf_counter() - t0
    return seconds, imported, int(loaded["train"].num_rows)


RUNNERS = {"duckdb": run_duckdb, "datasets": run_datasets}


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] not in RUNNERS:
        print(f"usage: references.py {{{','.join(RUNNERS)}}} FILE WORKDIR", file=sys.stderr)
        return 2
    name, file, work = argv[0], Path(argv[1]), Path(argv[2])
    work.mkdir(parents=True, exist_ok=True)
    seconds, imported, rows = RUNNERS[name](file, work)
    with open("/proc/self/status") as fh:
        hwm = next((ln for ln in fh if ln.startswith("VmHWM:")), "VmHWM: 0 kB")
    print(
        json.dumps(
            {
                "name": name,
                "seconds": seconds,
                "import_seconds": imported,
                "rows": rows,
                "peak_rss_kb": int(hwm.split()[1]),
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
