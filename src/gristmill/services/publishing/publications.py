"""Publications: a version sent to the Hugging Face Hub, Kaggle, an OpenAI-compatible Files
API or S3 by a `publish` job, with a status to poll and a result URL.

The request is checked whole before anything is queued (the target, its `target_spec`, a
token where one is needed); the live rows are cut as a version first if they changed, so what
is published is a version that stays. Secrets from `target_spec` are kept apart from it, never
shown, and dropped when the publication ends."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from gristmill.hub import Hub
from gristmill.ids import prefixed
from gristmill.jobs import queue
from gristmill.services.datasets import datasets as dataset_service
from gristmill.services.datasets import export_job, version_history
from gristmill.services.errors import InvalidRequest
from gristmill.services.publishing.base import Target
from gristmill.services.publishing.huggingface import HuggingFace
from gristmill.services.publishing.kaggle import Kaggle
from gristmill.services.publishing.openai_files import OpenAIFiles
from gristmill.services.publishing.s3 import S3
from gristmill.store.metadata.models import Publication

TARGETS: dict[str, Target] = {t.name: t for t in (HuggingFace(), Kaggle(), OpenAIFiles(), S3())}


def _split_of(spec: dict[str, Any]) -> dict[str, Any] | None:
    try:
        split = export_job.parse_split(spec.get("split"))
    except InvalidRequest as exc:
        raise InvalidRequest(exc.message, param=f"target_spec.{exc.param}") from None
    return split.to_json() if split else None


def start_publication(
    hub: Hub, account_id: str, dataset_id: str, target: Any, target_spec: Any
) -> Publication:
    ds = dataset_service.get_dataset(hub, account_id, dataset_id)  # 404 before anything else
    if target not in TARGETS:
        raise InvalidRequest(
            f"Unknown target {target!r}: expected one of {', '.join(TARGETS)}.", param="target"
        )
    if not isinstance(target_spec, dict | None):
        raise InvalidRequest("target_spec must be an object.", param="target_spec")
    spec = dict(target_spec or {})
    chosen = TARGETS[target]
    chosen.check(spec, hub.settings)
    split = _split_of(spec)
    try:
        version_id = version_history.version_to_ship(hub, ds, spec.get("version"))
    except InvalidRequest as exc:
        raise InvalidRequest(exc.message, param="target_spec.version") from None
    secrets = {k: spec.pop(k) for k in chosen.secret_fields if k in spec}
    spec["split"] = split
    pub = Publication(
        id=prefixed("pub_"),
        account_id=account_id,
        dataset_id=ds.id,
        version_id=version_id,
        target=target,
        spec=spec,
        secrets=secrets or None,
        state={},
        status="pending",
    )
    job = queue.new_job(hub, account_id=account_id, kind="publish", params={"id": pub.id})
    pub.job_id = job.id
    with hub.db.session() as s:
        s.add_all([pub, job])
        s.flush()
        s.expunge(pub)
    return pub


def get_publication(hub: Hub, account_id: str, dataset_id: str, publish_id: str) -> Publication:
    return dataset_service.dataset_part(
        hub, account_id, dataset_id, Publication, publish_id, what="Publication", param="publish_id"
    )


def message_of(pub: Publication) -> str:
    if pub.status == "failed":
        return f"Publishing to {pub.target} failed: {pub.error}"
    if pub.status == "succeeded":
        return pub.message or f"Published to {pub.result_url}."
    return f"Publishing version {pub.version_id} to {pub.target}: {pub.status}."


def publication_view(pub: Publication) -> dict[str, Any]:
    return {
        "id": pub.id,
        "object": "dataset.publication",
        "dataset_id": pub.dataset_id,
        "version_id": pub.version_id,
        "target": pub.target,
        "target_spec": pub.spec,  # without its secrets
        "status": pub.status,
        "result_url": pub.result_url,
        "message": message_of(pub),
        "error": pub.error,
        "created_at": pub.created_at.isoformat(),
        "finished_at": pub.finished_at.isoformat() if pub.finished_at else None,
    }


def published_links(hub: Hub, account_id: str, dataset_id: str) -> dict[str, str | None]:
    """The newest successful publication's URL per target (the Adaption door's export links)."""
    ds = dataset_service.get_dataset(hub, account_id, dataset_id)
    with hub.db.session() as s:
        found = s.scalars(
            select(Publication)
            .where(
                Publication.dataset_id == ds.id,
                Publication.account_id == account_id,
                Publication.status == "succeeded",
            )
            .order_by(Publication.finished_at)
        )
        return {p.target: p.result_url for p in found}
