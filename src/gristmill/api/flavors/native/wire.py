"""Native wire objects: log batches, logs, feedback and dataset rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gristmill.services.datasets.records import record_of_datapoint
from gristmill.services.logs.logs import LogEntry
from gristmill.store.metadata.models import Datapoint, Dataset, InferenceLog


class LogIn(BaseModel):
    """One log of a batch; unknown fields are refused, so a misspelt one is not lost."""

    model_config = ConfigDict(extra="forbid")
    gateway_id: str
    provider: str
    model: str | None = None
    request: Any = None
    response: Any = None
    success: bool = True
    cached: bool = False
    stream: bool = False
    tokens_in: int | None = Field(default=None, ge=0)
    tokens_out: int | None = Field(default=None, ge=0)
    cost: float | None = None
    duration_ms: int | None = Field(default=None, ge=0)
    status_code: int | None = None
    path: str | None = None
    request_content_type: str | None = None
    response_content_type: str | None = None
    error: str | None = None
    feedback: int | None = None
    score: float | None = None
    metadata: dict[str, Any] | None = None
    created_at: datetime | None = None

    def entry(self) -> LogEntry:
        return LogEntry(**self.model_dump())


class LogBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    logs: list[LogIn]


class LogIds(BaseModel):
    object: str = "list"
    ids: list[str]


class LogObject(BaseModel):
    id: str
    object: str = "inference_log"
    gateway_id: str
    provider: str
    model: str | None
    path: str | None
    request: Any
    response: Any
    status_code: int | None
    success: bool
    cached: bool
    stream: bool
    tokens_in: int | None
    tokens_out: int | None
    cost: float | None
    duration_ms: int | None
    request_content_type: str | None
    response_content_type: str | None
    error: str | None
    feedback: int | None
    score: float | None
    metadata: dict[str, Any] | None
    created_at: datetime

    @classmethod
    def of(cls, log: InferenceLog) -> LogObject:
        fields = {k: getattr(log, k) for k in cls.model_fields if k not in ("object", "metadata")}
        return cls(**fields, metadata=log.metadata_)


class RowObject(BaseModel):
    id: str
    kind: str
    function_name: str | None
    input: Any
    output: Any
    tags: dict[str, Any] | None
    source_inference_id: str | None
    created_at: datetime
    record: dict[str, Any]  # the row as a training record of its kind

    @classmethod
    def of(cls, dp: Datapoint) -> RowObject:
        return cls(
            id=dp.id,
            kind=dp.kind,
            function_name=dp.function_name,
            input=dp.input,
            output=dp.output,
            tags=dp.tags,
            source_inference_id=dp.source_inference_id,
            created_at=dp.created_at,
            record=record_of_datapoint(dp),
        )


class RowList(BaseModel):
    object: str = "list"
    data: list[RowObject]
    total: int
    offset: int
    limit: int


class DatasetObject(BaseModel):
    """A dataset as every door shares it; `source_file_id` names the OpenAI file it was
    ingested from, if any."""

    id: str
    object: str = "dataset"
    name: str
    origin: str
    schema_type: str | None
    data_source: str
    status: str
    row_count: int
    invalid_row_count: int
    progress_done: int
    progress_total: int | None
    error: str | None
    source_file_id: str | None
    source_filename: str | None
    head_version_id: str | None
    # the head version's evaluation: evaluation_id, version_id, status, score, grade
    evaluation_summary: dict[str, Any] | None
    # the latest run: run_id, status, processed_rows, total_rows, error, and the grade before
    run_summary: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, ds: Dataset) -> DatasetObject:
        return cls(**{k: getattr(ds, k) for k in cls.model_fields if k != "object"})


class DatasetList(BaseModel):
    object: str = "list"
    data: list[DatasetObject]
    next_cursor: str | None
