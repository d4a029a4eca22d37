"""The `publish` job: write the version in the target's format (the export writers, into a
temp folder), render its dataset card, and hand both to the target. Finished steps are kept
in the publication's `state`, so a retried attempt resumes after the last one; the
publication turns `succeeded` (and forgets its secrets) in one final transaction."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from gristmill.hub import Hub
from gristmill.jobs.worker import JobContext, register
from gristmill.services.datasets import card
from gristmill.services.datasets.export_job import stem_of, write_export
from gristmill.services.publishing.base import Attempt, Bundle
from gristmill.services.publishing.publications import TARGETS
from gristmill.store.metadata.models import (
    Dataset,
    DatasetVersion,
    Export,
    Job,
    Publication,
    utcnow,
)

EXTENSIONS = {"parquet": "parquet"}  # every other format is JSON lines


def _bundle(hub: Hub, pub: Publication, ds: Dataset, file_format: str, tmp: Path) -> Bundle:
    with hub.db.session() as s:
        version = s.get_one(DatasetVersion, pub.version_id)
        s.expunge(version)
    spec = Export(
        id=f"for-{pub.id}",
        account_id=pub.account_id,
        dataset_id=pub.dataset_id,
        version_id=pub.version_id,
        format=file_format,
        split=pub.spec.get("split"),
    )
    written, paths = write_export(hub, spec, stem_of(ds), tmp, lambda _done: None)
    files = {f["split"]: paths[f["name"]] for f in written.files}
    ext = EXTENSIONS.get(file_format, "jsonl")
    data = [(split, f"data/{split}-00000-of-00001.{ext}") for split in files]
    return Bundle(
        dataset_name=ds.name,
        stem=stem_of(ds),
        version_id=version.id,
        version_number=version.number,
        rows=written.rows_written,
        rows_skipped=written.rows_skipped,
        card=card.render(hub, ds, version, data, written.files[0].get("columns")),
        files=files,
        file_format=file_format,
    )


def run_publish(ctx: JobContext) -> dict[str, Any]:
    hub = ctx.hub
    pub_id = ctx.job.params["id"]
    with hub.db.session() as s:
        pub = s.get_one(Publication, pub_id)
        ds = s.get(Dataset, pub.dataset_id)
        if ds is None or pub.status == "succeeded":
            return {"publication_id": pub_id, "status": pub.status}
        pub.status = "running"
        s.flush()
        s.expunge_all()
    target = TARGETS[pub.target]

    def save_state(state: dict[str, Any]) -> None:
        with hub.db.session() as s:
            s.get_one(Publication, pub_id).state = dict(state)

    with tempfile.TemporaryDirectory() as tmp:
        bundle = _bundle(hub, pub, ds, target.data_format(pub.spec), Path(tmp))
        attempt = Attempt(
            publication_id=pub_id,
            spec={**pub.spec, **(pub.secrets or {})},
            settings=hub.settings,
            bundle=bundle,
            state=dict(pub.state or {}),
            save_state=save_state,
        )
        url, message = target.publish(attempt)
    with hub.db.session() as s:
        ctx.hold_lease(s)
        done = s.get_one(Publication, pub_id)
        done.status, done.result_url, done.message = "succeeded", url, message
        done.secrets, done.finished_at = None, utcnow()
    return {"publication_id": pub_id, "result_url": url}


def give_up_publish(hub: Hub, job: Job, message: str) -> None:
    with hub.db.session() as s:
        pub = s.get(Publication, job.params.get("id"))
        if pub is not None and pub.status != "succeeded":
            pub.status, pub.error, pub.secrets, pub.finished_at = "failed", message, None, utcnow()


def register_publish() -> None:
    register("publish", run_publish, give_up_publish)
