"""Adaption custom evaluations: a judge rubric scored before and after a dataset's run."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body
from pydantic import BaseModel

from gristmill.api.deps import HubDep
from gristmill.api.flavors.adaption.auth import Caller
from gristmill.services.runs import custom_evals
from gristmill.store.metadata.models import CustomEval

router = APIRouter(tags=["adaption custom evaluations"])


class CustomEvalOut(BaseModel):
    """`adaption.types.datasets.CustomEval`."""

    custom_eval_id: str
    dataset_id: str
    status: str
    judge_prompt: str
    name: str | None
    score_before: float | None
    score_after: float | None
    improvement_percent: float | None
    scored_rows: int | None
    error_message: str | None
    created_at: datetime
    completed_at: datetime | None

    @classmethod
    def of(cls, ev: CustomEval) -> CustomEvalOut:
        return cls(
            custom_eval_id=ev.id,
            dataset_id=ev.dataset_id,
            status=ev.status,
            judge_prompt=ev.judge_prompt,
            name=ev.name,
            score_before=ev.score_before,
            score_after=ev.score_after,
            improvement_percent=custom_evals.improvement(ev),
            scored_rows=ev.scored_rows,
            error_message=ev.error,
            created_at=ev.created_at,
            completed_at=ev.completed_at,
        )


class CustomEvalList(BaseModel):
    items: list[CustomEvalOut]


@router.post("/{dataset_id}/custom-evals", response_model=CustomEvalOut)
def create(
    dataset_id: str, hub: HubDep, caller: Caller, body: Annotated[dict[str, Any], Body()]
) -> CustomEvalOut:
    return CustomEvalOut.of(
        custom_evals.create_custom_eval(hub, caller.account_id, dataset_id, body)
    )


@router.get("/{dataset_id}/custom-evals", response_model=CustomEvalList)
def list_all(dataset_id: str, hub: HubDep, caller: Caller) -> CustomEvalList:
    found = custom_evals.list_custom_evals(hub, caller.account_id, dataset_id)
    return CustomEvalList(items=[CustomEvalOut.of(e) for e in found])


@router.get("/{dataset_id}/custom-evals/{custom_eval_id}", response_model=CustomEvalOut)
def get(dataset_id: str, custom_eval_id: str, hub: HubDep, caller: Caller) -> CustomEvalOut:
    return CustomEvalOut.of(
        custom_evals.get_custom_eval(hub, caller.account_id, dataset_id, custom_eval_id)
    )
