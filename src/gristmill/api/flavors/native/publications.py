"""Publications: a version sent to the Hugging Face Hub, Kaggle, an OpenAI Files API or S3."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from gristmill.api.deps import HubDep
from gristmill.api.flavors.native.auth import Caller
from gristmill.services.publishing import publications

router = APIRouter(tags=["native publications"])


@router.post("/datasets/{dataset_id}/publications", status_code=202)
def publish(
    dataset_id: str,
    hub: HubDep,
    caller: Caller,
    body: Annotated[dict[str, Any] | None, Body()] = None,
) -> dict[str, Any]:
    """`{"target": "huggingface" | "kaggle" | "openai" | "s3", "target_spec": {...}}`."""
    body = body or {}
    pub = publications.start_publication(
        hub, caller.account_id, dataset_id, body.get("target"), body.get("target_spec")
    )
    return publications.publication_view(pub)


@router.get("/datasets/{dataset_id}/publications/{publish_id}")
def get_publication(
    dataset_id: str, publish_id: str, hub: HubDep, caller: Caller
) -> dict[str, Any]:
    found = publications.get_publication(hub, caller.account_id, dataset_id, publish_id)
    return publications.publication_view(found)
