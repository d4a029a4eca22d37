"""Where `bench/datapoints.py`'s server spends its time: py-spy's raw stacks of the server
under read load, sorted by request step and by kind of work."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from bench.common import PROFILE_RATE, frame_file, frame_name, parked

# Which step of a request a sample belongs to: the first rule with a frame on the stack wins
# (so the SQL of the key lookup counts as auth); a rule is (label, frames), a frame being
# "function name" or "function name@path fragment".
_STEPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("waiting for a SQLite reader slot (Database.reading)", ("Semaphore.acquire",)),
    ("auth: API key lookup, on a cache miss (authenticate)", ("authenticate",)),
    ("request body: read + parse (read_json)", ("read_json",)),
    ("dataset lookup by name (_dataset_ref)", ("_dataset_ref",)),
    ("render: TensorZero shape (tensorzero_view)", ("tensorzero_view",)),
    (
        "query: SQL and Core rows (services.datapoints list/get)",
        ("list_datapoints@gristmill/services/", "get_datapoints@gristmill/services/"),
    ),
    ("response: orjson encode (json_response)", ("json_response",)),
    (
        "response: validate + serialise the response_model (serialize_response)",
        ("serialize_response",),
    ),
    ("response: send through the middlewares (Response.__call__)", ("Response.__call__",)),
    ("access log line (AccessLog → logging)", ("Logger.info",)),
    (
        "routing, dependencies, threadpool hand-off (starlette, fastapi, anyio)",
        ("Router.__call__", "run_in_threadpool", "WorkerThread.run"),
    ),
    ("event loop + HTTP parsing (asyncio, uvicorn)", ("Runner.run",)),
)

# What kind of work a sample is: rules on the innermost frame (leaf), except the first two,
# which match anywhere below the leaf; rules are (label, function names, path fragments).
_WORK: tuple[tuple[str, frozenset[str], tuple[str, ...]], ...] = (
    (
        "open/close SQLite connections + PRAGMAs (pool overflow)",
        frozenset({"_ConnectionRecord.__connect", "DefaultDialect.do_close"}),
        (),
    ),
    ("SQLAlchemy pool queue: lock waits", frozenset(), ("sqlalchemy/util/queue.py",)),
    (
        "sqlite3 C: execute + fetch",
        frozenset(
            {
                "DefaultDialect.do_execute",
                "CursorFetchStrategy.fetchall",
                "CursorFetchStrategy.fetchone",
            }
        ),
        (),
    ),
    ("JSON columns: orjson decode", frozenset(), ("sqlalchemy/sql/sqltypes.py",)),
    ("SQLAlchemy Python (ORM, Core)", frozenset(), ("sqlalchemy",)),
    ("pydantic", frozenset(), ("pydantic",)),
    ("gristmill Python", frozenset(), ("gristmill/",)),
    ("threads: locks, queues (threading, queue)", frozenset(), ("threading.py", "queue.py")),
    (
        "framework Python (starlette, fastapi, anyio, uvicorn, asyncio)",
        frozenset(),
        ("starlette/", "fastapi/", "anyio/", "uvicorn/", "asyncio/", "sniffio/"),
    ),
    ("logging", frozenset(), ("logging/",)),
)


def _step(stack: tuple[str, ...]) -> str:
    frames = [(frame_name(f), frame_file(f)) for f in stack]
    for label, rules in _STEPS:
        for rule in rules:
            name, _, where = rule.partition("@")
            if any(n == name and where in f for n, f in frames):
                return label
    return "other"


def _work(stack: tuple[str, ...]) -> str:
    leaf_name, leaf_file = frame_name(stack[-1]), frame_file(stack[-1])
    names = {frame_name(f) for f in stack}
    for i, (label, funcs, paths) in enumerate(_WORK):
        if i < 2:
            if funcs & names or any(p in frame_file(f) for p in paths for f in stack):
                return label
        elif leaf_name in funcs or any(p in leaf_file for p in paths):
            return label
    return "other"


@dataclass
class Profile:
    samples: int = 0
    idle: int = 0
    cpu: float = 0.0  # the server's CPU seconds over the profile
    rate: int = PROFILE_RATE
    seconds: float = 0.0
    steps: Counter[str] = field(default_factory=Counter)
    step_leaves: dict[str, Counter[str]] = field(default_factory=dict)
    work: Counter[str] = field(default_factory=Counter)
    leaves: Counter[str] = field(default_factory=Counter)
    inclusive: Counter[str] = field(default_factory=Counter)


def analyse(stacks: Counter[tuple[str, ...]], rate: int, seconds: float, cpu: float) -> Profile:
    """The server's busy samples by request step, by kind of work, by leaf frame (self time)
    and by frame anywhere on the stack (inclusive time); parked threads are only counted."""
    prof = Profile(rate=rate, seconds=seconds, cpu=cpu)
    for stack, count in stacks.items():
        if parked(stack):
            prof.idle += count
            continue
        prof.samples += count
        step = _step(stack)
        prof.steps[step] += count
        prof.step_leaves.setdefault(step, Counter())[frame_name(stack[-1])] += count
        prof.work[_work(stack)] += count
        prof.leaves[stack[-1]] += count
        for frame in set(stack):
            prof.inclusive[frame] += count
    return prof


def _share(counter: Counter[str], label: str, total: int) -> str:
    return f"{100 * counter[label] / total:5.1f}%" if total else "    -"


def print_profile(title: str, busy: Profile, gil: Profile, top: int = 8) -> None:
    """Two recordings of the same window: every busy thread (where requests spend their wall
    time, waits for the GIL or the pool included) and the GIL holder (where the Python CPU
    goes)."""
    if not busy.samples or not gil.samples:
        print(f"profile {title}: py-spy saw no samples")
        return
    b, g = busy.samples, gil.samples
    seconds = busy.seconds or 1.0
    print(
        f"server profile, {title}: py-spy {busy.rate} Hz for {seconds:.0f} s; server CPU "
        f"{busy.cpu / seconds:.2f} cores, GIL held {g / busy.rate / seconds:.0%} of the time, "
        f"{b / busy.rate / seconds:.1f} threads busy on average ({busy.idle} parked samples "
        "left out). 'busy': share of busy-thread samples (a thread waiting for the GIL "
        "counts where it waits); 'GIL': share of GIL-holder samples."
    )
    print("     busy     GIL  request step")
    for label, _ in (busy.steps + gil.steps).most_common():
        print(f"   {_share(busy.steps, label, b)}  {_share(gil.steps, label, g)}  {label}")
        leaves = busy.step_leaves.get(label, Counter()).most_common(3)
        n = busy.steps[label]
        if n:
            print(" " * 20 + "in " + ", ".join(f"{f} {100 * k / n:.0f}%" for f, k in leaves))
    print("     busy     GIL  kind of work (innermost frame)")
    for label, _ in (busy.work + gil.work).most_common():
        print(f"   {_share(busy.work, label, b)}  {_share(gil.work, label, g)}  {label}")
    print(f"  top {top} functions by self time while holding the GIL:")
    for frame, n in gil.leaves.most_common(top):
        print(f"   {100 * n / g:5.1f}%  {frame}")
    print(f"  top {top} gristmill functions by inclusive time (busy threads):")
    ours = [
        (f, n)
        for f, n in busy.inclusive.most_common()
        if "gristmill/" in f and "gristmill/cli/" not in f and "__call__" not in f
    ]
    for frame, n in ours[:top]:
        print(f"   {100 * n / b:5.1f}%  {frame}")
