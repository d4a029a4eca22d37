"""Custom evaluations (Adaption's `custom_evals`): a judge rubric, scored by the run model on
a sample of rows as they were before a dataset's latest run and as the run left them.

The sample is the first `SAMPLE_ROWS` rows present in both versions (same datapoint); a
pair the judge could not score on both sides (malformed answer, out-of-range score) is left
out, so `scored_rows` says how many pairs the means are over.
"""

from __future__ import annotations

import asyncio
from itertools import islice
from typing import Any

from sqlalchemy import select

from gristmill.hub import Hub
from gristmill.ids import prefixed
from gristmill.jobs import queue
from gristmill.jobs.worker import JobContext, register
from gristmill.pipeline.recipes.base import Rejected
from gristmill.pipeline.recipes.examples import ColumnMapping, example_of
from gristmill.pipeline.recipes.judge import Judge
from gristmill.services.datasets import datasets as dataset_service
from gristmill.services.datasets import versions
from gristmill.services.datasets.records import record_of
from gristmill.services.errors import Conflict, InvalidRequest, NotFound
from gristmill.services.runs.model_client import CallFailed, ModelClient, RunStopped, run_calls
from gristmill.services.runs.spec import RunSpec, model_of
from gristmill.store.metadata.models import CustomEval, DatasetVersion, Job, Run, utcnow

SAMPLE_ROWS = 50
MAX_RUBRIC_CHARS = 20_000


def _latest_run(hub: Hub, account_id: str, dataset_id: str) -> Run:
    with hub.db.session() as s:
        run: Run | None = s.scalar(
            select(Run)
            .where(
                Run.account_id == account_id,
                Run.dataset_id == dataset_id,
                Run.status == "succeeded",
                Run.target_dataset_id.is_(None),
            )
            .order_by(Run.created_at.desc())
            .limit(1)
        )
    if run is None:
        raise Conflict(
            f"Dataset {dataset_id} has not been adapted yet: a custom evaluation compares a "
            "run's rows with the rows before it.",
            param="dataset_id",
        )
    return run


def create_custom_eval(
    hub: Hub, account_id: str, dataset_id: str, body: dict[str, Any]
) -> CustomEval:
    dataset_service.get_dataset(hub, account_id, dataset_id)
    rubric, name = body.get("judge_prompt"), body.get("name")
    if not isinstance(rubric, str) or not rubric.strip():
        raise InvalidRequest("judge_prompt must be a non-empty string.", param="judge_prompt")
    if len(rubric) > MAX_RUBRIC_CHARS:
        raise InvalidRequest(
            f"judge_prompt is longer than {MAX_RUBRIC_CHARS:,} characters.", param="judge_prompt"
        )
    if name is not None and (not isinstance(name, str) or len(name) > 300):
        raise InvalidRequest("name must be a string of at most 300 characters.", param="name")
    run = _latest_run(hub, account_id, dataset_id)
    model_of(RunSpec.from_json(run.params), hub.settings)
    ev = CustomEval(
        id=prefixed("ceval_"),
        account_id=account_id,
        dataset_id=dataset_id,
        run_id=run.id,
        name=name,
        judge_prompt=rubric,
        status="pending",
    )
    job = queue.new_job(hub, account_id=account_id, kind="custom_eval", params={"id": ev.id})
    ev.job_id = job.id
    with hub.db.session() as s:
        s.add_all([ev, job])
    return ev


def list_custom_evals(hub: Hub, account_id: str, dataset_id: str) -> list[CustomEval]:
    dataset_service.get_dataset(hub, account_id, dataset_id)
    with hub.db.session() as s:
        return list(
            s.scalars(
                select(CustomEval)
                .where(CustomEval.account_id == account_id, CustomEval.dataset_id == dataset_id)
                .order_by(CustomEval.created_at.desc(), CustomEval.id.desc())
            )
        )


def get_custom_eval(hub: Hub, account_id: str, dataset_id: str, eval_id: str) -> CustomEval:
    with hub.db.session() as s:
        ev = s.get(CustomEval, eval_id)
    if ev is None or ev.account_id != account_id or ev.dataset_id != dataset_id:
        raise NotFound(f"Custom evaluation {eval_id} not found.", param="custom_eval_id")
    return ev


def _rows(hub: Hub, version_id: str, limit: int | None = None) -> dict[str, dict[str, Any]]:
    with hub.db.session() as s:
        version = s.get(DatasetVersion, version_id)
    if version is None:
        raise InvalidRequest(f"Version {version_id} no longer exists.")
    with versions.local_copy(hub, version.blob_key) as path:
        rows = islice(versions.iter_snapshot_rows(path), limit)
        return {r["id"]: r for r in rows}


async def _score_pairs(
    client: ModelClient, judge: Judge, mapping: ColumnMapping, pairs: list[tuple[Any, Any]]
) -> tuple[list[tuple[float, float]], dict[str, int]]:
    skipped: dict[str, int] = {}

    async def one(row: dict[str, Any]) -> float | None:
        ex = example_of(record_of(row), mapping)
        ask = judge.ask(ex)
        assert ask is not None
        try:
            return judge.score(
                await client.answer(ask, judge.name, lambda: judge.expected_tokens(ex))
            )
        except (CallFailed, Rejected) as exc:
            skipped[exc.reason] = skipped.get(exc.reason, 0) + 1
            return None

    scored = await asyncio.gather(*(asyncio.gather(one(a), one(b)) for a, b in pairs))
    both = [(a, b) for a, b in scored if a is not None and b is not None]
    return both, skipped


def run_custom_eval(ctx: JobContext) -> dict[str, Any]:
    hub = ctx.hub
    eval_id = ctx.job.params["id"]
    with hub.db.session() as s:
        ev = s.get(CustomEval, eval_id)
        run = s.get(Run, ev.run_id) if ev is not None else None
        if ev is None or run is None or ev.account_id != ctx.job.account_id:
            raise InvalidRequest(f"Custom evaluation {eval_id} has nothing to evaluate any more.")
        if ev.status == "succeeded":
            return {"custom_eval_id": eval_id}
        ev.status = "running"
        rubric, source, result = ev.judge_prompt, run.source_version_id, run.result_version_id
        spec = RunSpec.from_json(run.params)
    assert spec.mapping is not None and result is not None
    # runs keep row order, so the first rows of each version hold the pairs
    after = _rows(hub, result, limit=SAMPLE_ROWS * 4)
    before = _rows(hub, source, limit=SAMPLE_ROWS * 8)
    pairs = [(before[i], after[i]) for i in list(after)[: SAMPLE_ROWS * 4] if i in before]
    pairs = pairs[:SAMPLE_ROWS]
    provider, model = model_of(spec, hub.settings)
    client = ModelClient(
        hub,
        account_id=ctx.job.account_id,
        run_id=eval_id,
        provider=provider,
        model=model,
        max_cost=spec.max_cost,
        resume=ctx.job.attempts > 1,
    )

    async def score() -> tuple[list[tuple[float, float]], dict[str, int]]:
        try:
            return await _score_pairs(client, Judge(rubric), spec.mapping, pairs)  # type: ignore[arg-type]
        finally:
            await client.aclose()

    try:
        both, skipped = run_calls(score)
    except RunStopped as exc:
        both, skipped = [], {str(exc): len(pairs)}
    with hub.db.session() as s:
        ctx.hold_lease(s)
        ev = s.get(CustomEval, eval_id)
        assert ev is not None
        ev.completed_at, ev.scored_rows = utcnow(), len(both)
        ev.report = {"pairs": len(pairs), "skipped": skipped, "cost_usd": round(client.spent, 6)}
        if not both:
            ev.status = "failed"
            ev.error = "The judge scored no pair on both sides" + (
                f": {', '.join(f'{k} ({v})' for k, v in skipped.items())}." if skipped else "."
            )
            return {"custom_eval_id": eval_id, "scored_rows": 0}
        ev.score_before = round(sum(a for a, _ in both) / len(both), 3)
        ev.score_after = round(sum(b for _, b in both) / len(both), 3)
        ev.status, ev.error = "succeeded", None
    return {"custom_eval_id": eval_id, "scored_rows": len(both)}


def improvement(ev: CustomEval) -> float | None:
    if ev.score_before is None or ev.score_after is None or not ev.score_before:
        return None
    return round((ev.score_after - ev.score_before) / ev.score_before * 100, 1)


def give_up_custom_eval(hub: Hub, job: Job, message: str) -> None:
    with hub.db.session() as s:
        ev = s.get(CustomEval, job.params.get("id"))
        if ev is not None and ev.status != "succeeded":
            ev.status, ev.error, ev.completed_at = "failed", message, utcnow()


def register_custom_eval() -> None:
    register("custom_eval", run_custom_eval, give_up_custom_eval)
