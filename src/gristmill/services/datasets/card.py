"""The dataset card a Hub revision serves as `README.md`: YAML metadata that `datasets`
reads (the config and its data files, the license), then the grade with every check's
reason, and the features of the data file."""

from __future__ import annotations

import json

from sqlalchemy import select

from gristmill.hub import Hub
from gristmill.store.metadata.models import Dataset, DatasetVersion, Evaluation


def _yaml_text(value: str) -> str:
    return json.dumps(value)  # a JSON string is a YAML string, quoted and escaped


def _evaluation(hub: Hub, version: DatasetVersion | None) -> Evaluation | None:
    if version is None:
        return None
    with hub.db.session() as s:
        return s.scalar(select(Evaluation).where(Evaluation.version_id == version.id))


def _grade_lines(ev: Evaluation | None) -> list[str]:
    if ev is None or ev.status != "succeeded":
        state = "not evaluated yet" if ev is None else f"evaluation {ev.status}"
        return ["## Quality", "", f"This version is {state}.", ""]
    lines = [
        "## Quality",
        "",
        f"Grade **{ev.grade}** ({ev.score:.1f} / 10) over {ev.rows:,} rows, by Gristmill's checks.",
        "",
        "| check | flagged | rate | points lost | reason |",
        "| --- | --- | --- | --- | --- |",
    ]
    for c in (ev.report or {}).get("checks", []):
        reason = str(c.get("reason", "")).replace("|", "\\|")
        lines.append(
            f"| `{c['check']}` | {c['flagged']:,} | {c['rate'] * 100:.1f} % "
            f"| {c['points_lost']:.2f} | {reason} |"
        )
    return [*lines, ""]


def render(
    hub: Hub,
    ds: Dataset,
    version: DatasetVersion | None,
    data_files: list[tuple[str, str]],
    features: dict[str, str] | None = None,
) -> bytes:
    """`data_files`: (split, path in the repo) of each data file; `features`: column → its
    Arrow type in them."""
    license_id = str((ds.extra or {}).get("license") or "unknown")
    meta = ["---", f"license: {_yaml_text(license_id)}", f"pretty_name: {_yaml_text(ds.name)}"]
    meta += ["tags:", "- gristmill"]
    if data_files:
        meta += ["configs:", "- config_name: default", "  data_files:"]
        meta += [f"  - split: {split}\n    path: {_yaml_text(path)}" for split, path in data_files]
    meta.append("---")
    if version is None:
        about = "This repo has no rows yet: upload a Parquet, JSONL, JSON or CSV file."
    else:
        about = (
            f"Version {version.number} (`{version.id}`, {version.reason}) of Gristmill dataset "
            f"`{ds.id}`: {version.row_count:,} {ds.schema_type or ''} rows."
        )
    body = ["", f"# {ds.name}", "", about, "", *_grade_lines(_evaluation(hub, version))]
    if features:
        body += ["## Features", "", "| column | type |", "| --- | --- |"]
        body += [f"| `{name}` | `{kind}` |" for name, kind in features.items()]
        body.append("")
    own = str((ds.extra or {}).get("card") or "")
    if own.startswith("---"):  # the uploader's metadata names their paths, not these
        own = own.split("\n---", 1)[-1].split("\n", 1)[-1] if "\n---" in own[3:] else ""
    if own.strip():
        body += ["## From the uploader's card", "", own.strip(), ""]
    return ("\n".join(meta + body) + "\n").encode()
