"""Scale GP wire objects, field for field as the `scale-gp` SDK's types parse them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, Literal, get_args

import orjson
from pydantic import BaseModel

from gristmill.api.envelopes import Problem
from gristmill.services.errors import InvalidRequest
from gristmill.store.metadata.models import Datapoint, Dataset

SchemaType = Literal["GENERATION", "RERANKING_QUESTIONS"]
DataSource = Literal[
    "S3", "SharePoint", "SharePointPage", "LocalFile", "LocalChunks", "GoogleDrive",
    "AzureBlobStorage", "GoogleCloudStorage", "Confluence", "Slack", "Snowflake",
    "Databricks", "SQLDatabase", "MongoDB",
]  # fmt: skip
IdentityType = Literal["user", "service_account"]

# Gristmill's schema type names for the two Scale GP knows; datasets of other types are not
# training datasets to this door.
GRISTMILL_TYPES: dict[str, SchemaType] = {
    "generation": "GENERATION",
    "reranking_questions": "RERANKING_QUESTIONS",
}
SCHEMA_TYPES = tuple(GRISTMILL_TYPES)
MAX_LIMIT = 10_000  # the SDK documents "cannot be greater than 10k"


def schema_type_in(value: str) -> str:
    wanted = value.strip().upper()
    for ours, theirs in GRISTMILL_TYPES.items():
        if theirs == wanted:
            return ours
    raise InvalidRequest(
        f"Unknown schema_type {value!r}: expected one of {', '.join(get_args(SchemaType))}.",
        param="schema_type",
    )


class TrainingDataset(BaseModel):
    id: str
    account_id: str
    created_at: datetime
    created_by_identity_type: IdentityType
    created_by_user_id: str
    data_source: DataSource
    name: str
    schema_type: SchemaType

    @classmethod
    def of(cls, ds: Dataset) -> TrainingDataset:
        source = ds.data_source if ds.data_source in get_args(DataSource) else "LocalFile"
        kind = ds.created_by_identity_type
        return cls(
            id=ds.id,
            account_id=ds.account_id,
            created_at=ds.created_at,
            created_by_identity_type=kind if kind == "service_account" else "user",
            created_by_user_id=ds.created_by_identity_id or ds.account_id,
            data_source=source,
            name=ds.name,
            schema_type=GRISTMILL_TYPES[ds.schema_type or ""],
        )


class PaginatedTrainingDatasets(BaseModel):
    items: list[TrainingDataset]
    current_page: int
    items_per_page: int
    total_item_count: int


class GenericDeleteResponse(BaseModel):
    success: bool
    count: int


def _text(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def content_item(dp: Datapoint) -> dict[str, Any]:
    """A row as `TrainingDatasetGenerationItem` (input, output: strings). A reranking row has
    no generation counterpart: its question and chunk fill input and output, and `positive`
    rides along as an extra field, which the SDK keeps."""
    given = dp.input if isinstance(dp.input, dict) else {}
    if dp.kind == "generation":
        prompt, completion = given.get("prompt"), _text(dp.output)
        return {"input": prompt, "output": completion, "schema_type": "GENERATION"}
    if dp.kind == "reranking_questions":
        label = dp.output.get("positive") if isinstance(dp.output, dict) else None
        return {"input": given.get("question"), "output": given.get("chunk"), "positive": label}
    return {"input": _text(dp.input), "output": _text(dp.output)}


def json_array(items: Iterable[dict[str, Any]], batch: int = 500) -> Iterator[bytes]:
    """A JSON array, encoded a batch of items at a time so a large one streams."""
    yield b"["
    lead, parts = b"", []
    for item in items:
        parts.append(orjson.dumps(item))
        if len(parts) >= batch:
            yield lead + b",".join(parts)
            lead, parts = b",", []
    if parts:
        yield lead + b",".join(parts)
    yield b"]"


def render_error(p: Problem) -> dict[str, Any]:
    """FastAPI's envelope, which Scale's API uses: a bad field is named in `loc`, as in a
    validation error; anything else is a plain `detail` string."""
    if p.param and p.status in (400, 422):
        return {"detail": [{"loc": [p.param], "msg": p.message, "type": p.code}]}
    return {"detail": p.message}


# The create body is parsed by hand (see forms.py), so FastAPI cannot infer it for /openapi.json.
CREATE_REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["account_id", "name", "schema_type", "file"],
                    "properties": {
                        "account_id": {"type": "string"},
                        "name": {"type": "string"},
                        "schema_type": {"type": "string", "enum": list(get_args(SchemaType))},
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "A file part, or the file's text as a plain field.",
                        },
                    },
                }
            }
        },
    }
}
