"""One row through a run's recipes, and a version's rows through it in order.

Rows are adapted concurrently (the model client bounds the calls) but written in their
order; a row whose recipe failed keeps what it had, and the failure is counted and kept as a
flag with its reason. Nothing here touches the database except through the model client.
"""

from __future__ import annotations

import asyncio
import copy
from collections import Counter, deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from gristmill.ids import uuid7
from gristmill.ingest.model import Datapoint as IngestedRow
from gristmill.ingest.normalize import normalize
from gristmill.pipeline.recipes.base import Example, Recipe, Rejected
from gristmill.pipeline.recipes.examples import example_of, record_with
from gristmill.pipeline.recipes.translate import Translate, sampled
from gristmill.services.datasets.ingest_job import stored_fields
from gristmill.services.datasets.records import record_of
from gristmill.services.runs.model_client import CallFailed, ModelClient, RunStopped
from gristmill.services.runs.spec import RunSpec

MAX_FLAG_EXAMPLES = 1000


@dataclass
class RowOutcome:
    rows: list[dict[str, Any]]  # the row as it is now, then its translations
    changed: set[str] = field(default_factory=set)
    flags: list[tuple[str, str]] = field(default_factory=list)  # (recipe, reason)


@dataclass
class RunTally:
    rows_in: int = 0
    rows_out: int = 0
    rows_processed: int = 0
    duplicates_removed: int = 0
    changed: Counter[str] = field(default_factory=Counter)
    flagged: Counter[str] = field(default_factory=Counter)
    reasons: dict[str, Counter[str]] = field(default_factory=dict)
    examples: list[dict[str, Any]] = field(default_factory=list)

    def add(self, source: dict[str, Any], outcome: RowOutcome) -> None:
        self.rows_out += len(outcome.rows)
        self.changed.update(outcome.changed)
        for recipe, reason in outcome.flags:
            self.flagged[recipe] += 1
            self.reasons.setdefault(recipe, Counter())[reason] += 1
            if len(self.examples) < MAX_FLAG_EXAMPLES:
                self.examples.append(
                    {
                        "datapoint_id": source["id"],
                        "line": source.get("source_line"),
                        "recipe": recipe,
                        "reason": reason,
                    }
                )


class Adapter:
    def __init__(self, spec: RunSpec, client: ModelClient | None):
        assert spec.mapping is not None
        self.spec, self.mapping, self.client = spec, spec.mapping, client
        self.recipes = spec.recipes()
        self.translations: list[Translate] = spec.expansion.recipes() if spec.expansion else []

    async def _apply(self, recipe: Recipe, ex: Example, outcome: RowOutcome) -> bool:
        """Run one recipe on `ex`; False (and a flag) when it could not."""
        ask = recipe.ask(ex)
        if ask is None:
            return True
        assert self.client is not None
        try:
            answer = await self.client.answer(ask, recipe.name, lambda: recipe.expected_tokens(ex))
            if recipe.accept(ex, answer):
                outcome.changed.add(recipe.name)
            return True
        except (CallFailed, Rejected) as exc:
            outcome.flags.append((recipe.name, exc.reason))
            return False

    def _stored(self, row: dict[str, Any], record: dict[str, Any], kind: str) -> dict[str, Any]:
        shaped = normalize(kind, record, line=row.get("source_line") or 0, raw=None)
        if not isinstance(shaped, IngestedRow):
            raise Rejected(f"the rewritten row is not a valid {kind} row: {shaped[0]['message']}")
        shaped.tags = row.get("tags") or {}
        return {**row, **stored_fields(shaped), "function_name": row.get("function_name")}

    async def adapt(self, row: dict[str, Any]) -> RowOutcome:
        outcome = RowOutcome(rows=[row])
        record = record_of(row)
        ex = example_of(record, self.mapping)
        for recipe in self.recipes:
            await self._apply(recipe, ex, outcome)
        if outcome.changed or ex.annotations:
            preference = self.spec.preference
            if preference and (ex.completion is None or ex.rejected is None):
                outcome.flags.append(("preference_pairs", "no chosen and rejected answer"))
                preference = False
            kind = "preference" if preference else row["kind"]
            new = record_with(record, ex, self.mapping, preference=preference)
            try:
                outcome.rows = [self._stored(row, new, kind)]
            except Rejected as exc:
                outcome.flags.append(("rewrite", exc.reason))
        for t in self.translations:
            if not sampled(row["id"], t.target, self.spec.expansion.sample_rate):  # type: ignore[union-attr]
                continue
            copy_ex = copy.deepcopy(ex)
            if not await self._apply(t, copy_ex, outcome):
                continue
            new = record_with(record, copy_ex, self.mapping, preference=False)
            try:
                stored = self._stored(row, new, row["kind"])
            except Rejected as exc:
                outcome.flags.append((t.name, exc.reason))
                continue
            outcome.rows.append({**stored, "id": str(uuid7())})
        return outcome


async def adapt_in_order(
    rows: Iterable[dict[str, Any]],
    adapter: Adapter,
    *,
    keep: Callable[[dict[str, Any]], bool],
    process: Callable[[dict[str, Any]], bool],
    window: int,
) -> AsyncGenerator[tuple[dict[str, Any], RowOutcome], None]:
    """Each kept row and its outcome, in row order, with up to `window` rows in flight.
    Rows `process` declines pass through unchanged. Stops early when the client stops."""
    pending: deque[tuple[dict[str, Any], Awaitable[RowOutcome]]] = deque()

    async def settle() -> tuple[dict[str, Any], RowOutcome] | None:
        row, task = pending.popleft()
        try:
            return row, await task
        except RunStopped:
            return None

    try:
        for row in rows:
            if not keep(row):
                continue
            if process(row):
                pending.append((row, asyncio.ensure_future(adapter.adapt(row))))
            else:
                pending.append((row, _ready(RowOutcome(rows=[row]))))
            while len(pending) >= window:
                done = await settle()
                if done is None:
                    return
                yield done
        while pending:
            done = await settle()
            if done is None:
                return
            yield done
    finally:  # stopped, failed or abandoned: nothing is left running
        await _cancel(pending)


def _ready(outcome: RowOutcome) -> Awaitable[RowOutcome]:
    future: asyncio.Future[RowOutcome] = asyncio.get_running_loop().create_future()
    future.set_result(outcome)
    return future


async def _cancel(pending: deque[tuple[dict[str, Any], Awaitable[RowOutcome]]]) -> None:
    for _, task in pending:
        if isinstance(task, asyncio.Future):
            task.cancel()
    await asyncio.gather(*(t for _, t in pending), return_exceptions=True)
    pending.clear()
