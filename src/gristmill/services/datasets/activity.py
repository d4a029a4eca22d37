"""The work in progress on a dataset: its ingest, evaluations, runs, exports and
publications that have not finished, each with rows done of total (the viewer's live
progress bars)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select

from gristmill.hub import Hub
from gristmill.services.datasets import datasets as dataset_service
from gristmill.store.metadata.models import Evaluation, Export, Publication, Run

UNFINISHED = ("pending", "queued", "running")


@dataclass(frozen=True)
class Activity:
    kind: str  # ingest | evaluation | run | export | publication
    id: str
    status: str
    done: int
    total: int | None

    @property
    def percent(self) -> int | None:
        return min(100, self.done * 100 // self.total) if self.total else None

    def view(self) -> dict[str, Any]:
        return {**asdict(self), "percent": self.percent}


def dataset_activity(hub: Hub, account_id: str, dataset_id: str) -> list[Activity]:
    ds = dataset_service.get_dataset(hub, account_id, dataset_id)
    found: list[Activity] = []
    if ds.status in UNFINISHED:
        found.append(
            Activity("ingest", ds.job_id or ds.id, ds.status, ds.progress_done, ds.progress_total)
        )
    with hub.db.session() as s:
        for model, kind in ((Evaluation, "evaluation"), (Run, "run"), (Export, "export")):
            rows: Any = s.scalars(
                select(model)
                .where(model.dataset_id == ds.id, model.status.in_(UNFINISHED))
                .order_by(model.created_at)
            )
            found.extend(
                Activity(kind, r.id, r.status, r.progress_done or 0, r.progress_total) for r in rows
            )
        publishing = select(Publication).where(
            Publication.dataset_id == ds.id, Publication.status.in_(UNFINISHED)
        )
        # a publication's steps are not rows: it shows as going, with no bar
        found.extend(
            Activity("publication", p.id, p.status, 0, None) for p in s.scalars(publishing)
        )
    return found
