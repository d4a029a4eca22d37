"""What a run will cost and how long it will take, before it starts.

Token counts are tiktoken's (`o200k_base`) over the very requests the recipes would send for a
sample of rows, and each recipe's expected answer length; the price is the model's (see
`services.logs.pricing`); the time is the calls over the run's concurrency at the seconds per
call this hub has measured for the model (its recent successful run calls), or
`GRISTMILL_RUN_SECONDS_PER_CALL` before there are any.

One credit is $0.01 of provider cost.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, select

from gristmill.hub import Hub
from gristmill.pipeline.recipes.examples import example_of
from gristmill.pipeline.recipes.translate import sampled
from gristmill.services.datasets.records import record_of
from gristmill.services.logs.pricing import price_of
from gristmill.services.runs.model_client import GATEWAY
from gristmill.services.runs.spec import RunSpec
from gristmill.store.metadata.models import InferenceLog

CREDIT_USD = 0.01
MIN_MEASURED_CALLS = 20


@dataclass
class Estimate:
    rows: int  # rows the run will process
    calls: int
    tokens_in: int
    tokens_out: int
    cost_usd: float | None  # None: the model has no price
    credits: float
    minutes: float
    seconds_per_call: float
    rows_added: int  # translated copies

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def seconds_per_call(hub: Hub, account_id: str, model: str | None) -> float:
    """The mean duration of this account's recent successful run calls to `model`."""
    if model:
        with hub.db.session() as s:
            recent = (
                select(InferenceLog.duration_ms)
                .where(
                    InferenceLog.account_id == account_id,
                    InferenceLog.gateway_id == GATEWAY,
                    InferenceLog.model == model,
                    InferenceLog.success.is_(True),
                    InferenceLog.duration_ms.is_not(None),
                )
                .order_by(InferenceLog.created_at.desc())
                .limit(500)
                .subquery()
            )
            n, mean = s.execute(select(func.count(), func.avg(recent.c.duration_ms))).one()
        if n >= MIN_MEASURED_CALLS and mean:
            return float(mean) / 1000
    return hub.settings.run_seconds_per_call


def estimate_run(
    hub: Hub, account_id: str, spec: RunSpec, sample: list[dict[str, Any]], rows: int
) -> Estimate:
    """Extrapolate from `sample` (decoded rows from the head) to `rows` rows."""
    model = spec.model.partition("/")[2] if spec.model else None
    recipes = spec.recipes() if spec.mapping else []
    translations = spec.expansion.recipes() if spec.expansion and spec.mapping else []
    calls = tokens_in = tokens_out = added = 0
    for row in sample:
        ex = example_of(record_of(row), spec.mapping) if spec.mapping else None
        if ex is None:
            continue
        for recipe in [*recipes]:
            ask = recipe.ask(ex)
            if ask is not None:
                calls += 1
                tokens_in += ask.prompt_tokens()
                tokens_out += recipe.expected_tokens(ex)
        for t in translations:
            if spec.expansion and sampled(row["id"], t.target, spec.expansion.sample_rate):
                ask = t.ask(ex)
                assert ask is not None
                calls, added = calls + 1, added + 1
                tokens_in += ask.prompt_tokens()
                tokens_out += t.expected_tokens(ex)
    scale = rows / len(sample) if sample else 0.0
    price = price_of(model, hub.settings.model_prices)
    cost = None
    if price is not None:
        cost = (tokens_in * price[0] + tokens_out * price[1]) / 1_000_000 * scale
    per_call = seconds_per_call(hub, account_id, model)
    total_calls = round(calls * scale)
    minutes = total_calls * per_call / hub.settings.run_concurrency / 60
    return Estimate(
        rows=rows,
        calls=total_calls,
        tokens_in=round(tokens_in * scale),
        tokens_out=round(tokens_out * scale),
        cost_usd=round(cost, 6) if cost is not None else None,
        credits=round((cost or 0.0) / CREDIT_USD, 2),
        minutes=round(minutes, 2),
        seconds_per_call=round(per_call, 3),
        rows_added=round(added * scale),
    )
