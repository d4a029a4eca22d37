"""Adaption wire objects, field for field as the `adaption` SDK sends and parses them
(`adaption.types.dataset*`, `adaption.types.datasets.upload_*`, `adaption.pagination.SyncCursor`).

The SDK does not say what an error body looks like (it keeps whatever JSON comes back as
`APIStatusError.body`), so errors use `{"error": {"message", "code", "param"}}`: the
dataset's own `error_data` has `message` and a stable `code`, and `param` names the field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gristmill.api.envelopes import Problem
from gristmill.services.datapoints.filters import parse_time
from gristmill.services.errors import InvalidRequest
from gristmill.services.quality.reports import before_after
from gristmill.services.runs.runs import Expanded, Started
from gristmill.store.metadata.models import Dataset, DatasetRowError

MAX_LIMIT = 100  # "max 100, default 20" in DatasetListParams
DEFAULT_LIMIT = 20
SORT_FIELDS = ("created_at", "updated_at", "name")


def render_error(p: Problem) -> dict[str, Any]:
    return {"error": {"message": p.message, "code": p.code, "param": p.param}}


# --- requests ---------------------------------------------------------------------------


class SourceIn(BaseModel):
    """`dataset_create_params.Source`. Sheets and provider options are accepted and unused:
    URL imports are refused before they matter. `schema_type` is a Gristmill extension."""

    model_config = ConfigDict(extra="ignore")

    url: str | None = None
    name: str | None = None
    file_format: str | None = None
    processing_mode: Literal["adapt", "raw"] | None = None
    column_mapping: dict[str, Any] | None = None
    schema_type: str | None = None

    def upload_name(self) -> str:
        if self.url is not None:
            raise InvalidRequest(
                "Importing from a URL is not available in Gristmill (it has no outside network "
                "access): upload the file instead, with source.name and source.file_format.",
                param="source.url",
                code="unsupported_source",
            )
        if not self.name or not self.name.strip():
            raise InvalidRequest("source.name is required for a file upload.", param="source.name")
        if self.processing_mode == "raw" and not self.column_mapping:
            raise InvalidRequest(
                "processing_mode 'raw' needs a column_mapping.", param="source.column_mapping"
            )
        paired = [k for k in ("chosen", "rejected") if (self.column_mapping or {}).get(k)]
        if paired:
            raise InvalidRequest(
                f"column_mapping.{paired[0]} is not supported: upload preference rows as "
                "input / preferred_output / non_preferred_output instead.",
                param="source.column_mapping",
            )
        return self.name


class CreateBody(BaseModel):
    source: SourceIn


class InitiateBody(BaseModel):
    name: str
    file_format: str


class CompleteBody(BaseModel):
    s3_key: str
    name: str
    file_format: str
    file_size_bytes: int = Field(ge=0)


class CompleteByIdBody(BaseModel):
    file_size_bytes: int = Field(ge=0)
    sha256: str | None = None


def whole_number(value: str | None, param: str, default: int) -> int:
    """The SDK types limits as floats, so `5.0` must read as 5."""
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not number.is_integer():
        raise InvalidRequest(f"{param} must be a whole number, got {value!r}.", param=param)
    return int(number)


def timestamp(value: str | None, param: str) -> datetime | None:
    return parse_time(value, param) if value else None


def sort_key(sort: str | None, direction: str | None) -> str:
    field = sort or "created_at"
    if field not in SORT_FIELDS:
        raise InvalidRequest(
            f"Unknown sort {sort!r}: expected one of {', '.join(SORT_FIELDS)}.", param="sort"
        )
    if (direction or "desc") not in ("asc", "desc"):
        raise InvalidRequest(
            f"Unknown sort_direction {direction!r}: expected asc or desc.", param="sort_direction"
        )
    return field if direction == "asc" else f"-{field}"


# --- responses --------------------------------------------------------------------------


class UploadInstructions(BaseModel):
    url: str
    method: str = "PUT"
    s3_key: str


class CreateResponse(BaseModel):
    dataset_id: str
    status: str
    upload_instructions: UploadInstructions | None = None


class InitiateResponse(BaseModel):
    upload_url: str
    # Not in the SDK's type (extra fields are kept): `complete` needs it back.
    s3_key: str


class CompleteResponse(BaseModel):
    dataset_id: str
    status: str


class ColumnMapping(BaseModel):
    prompt: str | None = None
    completion: str | None = None
    chat: str | None = None
    context: list[str] = []


class Progress(BaseModel):
    percent: int | None = None
    processed_rows: int | None = None
    total_rows: int | None = None

    @classmethod
    def counts(cls, done: int, total: int | None) -> Progress:
        percent = min(100, done * 100 // total) if total else None
        return cls(percent=percent, processed_rows=done, total_rows=total)

    @classmethod
    def of(cls, ds: Dataset) -> Progress | None:
        run = _active_run(ds)
        if run is not None:
            return cls.counts(run.get("processed_rows") or 0, run.get("total_rows"))
        if ds.status == "pending" or (ds.progress_total is None and not ds.progress_done):
            return None
        return cls.counts(ds.progress_done, ds.progress_total)


def _active_run(ds: Dataset) -> dict[str, Any] | None:
    run = ds.run_summary
    return run if run and run.get("status") in ("pending", "running") else None


def status_of(ds: Dataset) -> Any:
    """The dataset's status as the SDK polls it: `running` while a run works on it, and
    `failed` when its latest run failed (its rows are still those of the version before)."""
    run = ds.run_summary or {}
    if ds.status == "succeeded" and run.get("status") in ("pending", "running"):
        return "running"
    if ds.status == "succeeded" and run.get("status") == "failed":
        return "failed"
    return ds.status


class ErrorData(BaseModel):
    message: str | None = None
    code: str | None = None
    level: Literal["error", "warning"] | None = None

    @classmethod
    def of(cls, ds: Dataset) -> ErrorData | None:
        run = ds.run_summary or {}
        if ds.status == "succeeded" and run.get("status") == "failed":
            message = run.get("error") or "The run failed."
            return cls(message=message, code="run_failed", level="error")
        if ds.status != "failed":
            return None
        return cls(message=ds.error or "The ingest failed.", code="ingest_failed", level="error")


class EvaluationSummary(BaseModel):
    grade_before: str | None = None
    grade_after: str | None = None
    score_before: float | None = None
    score_after: float | None = None
    improvement_percent: float | None = None

    @classmethod
    def of(cls, ds: Dataset) -> EvaluationSummary | None:
        """Null until the head version's evaluation has succeeded, as the SDK documents."""
        found = before_after(ds.evaluation_summary, ds.run_summary)
        return cls.model_validate(found) if found else None


def _row_count(ds: Dataset) -> int | None:
    return ds.row_count if ds.status == "succeeded" else None


class DatasetOut(BaseModel):
    dataset_id: str
    kind: Literal["uploaded", "translated", "localized"] = "uploaded"
    source_dataset_id: str | None = None
    name: str | None
    status: Literal["pending", "running", "succeeded", "failed"]
    created_at: datetime
    created_by_user_id: str | None
    updated_at: datetime
    row_count: int | None
    configured_column_mapping: ColumnMapping | None
    evaluation_summary: EvaluationSummary | None
    run_id: str | None = None
    progress: Progress | None
    error_data: ErrorData | None
    image_column_formats: dict[str, str] | None = None

    @classmethod
    def of(cls, ds: Dataset) -> DatasetOut:
        extra = ds.extra or {}
        return cls(
            dataset_id=ds.id,
            kind=extra.get("kind", "uploaded"),
            source_dataset_id=extra.get("source_dataset_id"),
            name=ds.name,
            status=status_of(ds),
            created_at=ds.created_at,
            created_by_user_id=ds.created_by_identity_id,
            updated_at=ds.updated_at,
            row_count=_row_count(ds),
            configured_column_mapping=(
                ColumnMapping.model_validate(ds.column_mapping) if ds.column_mapping else None
            ),
            evaluation_summary=EvaluationSummary.of(ds),
            run_id=(ds.run_summary or {}).get("run_id"),
            progress=Progress.of(ds),
            error_data=ErrorData.of(ds),
        )


class DatasetListItem(BaseModel):
    dataset_id: str
    name: str | None
    status: Literal["pending", "running", "awaiting_input", "succeeded", "failed"]
    updated_at: datetime
    created_at: datetime
    row_count: int | None
    description: str | None = None

    @classmethod
    def of(cls, ds: Dataset) -> DatasetListItem:
        return cls(
            dataset_id=ds.id,
            name=ds.name,
            status=ds.status,
            updated_at=ds.updated_at,
            created_at=ds.created_at,
            row_count=_row_count(ds),
        )


class DatasetPage(BaseModel):
    datasets: list[DatasetListItem]
    next_cursor: str | None


class StatusOut(BaseModel):
    dataset_id: str
    status: Literal["pending", "running", "awaiting_input", "succeeded", "failed"]
    row_count: int | None
    progress: Progress | None
    error_data: ErrorData | None

    @classmethod
    def of(cls, ds: Dataset) -> StatusOut:
        return cls(
            dataset_id=ds.id,
            status=status_of(ds),
            row_count=_row_count(ds),
            progress=Progress.of(ds),
            error_data=ErrorData.of(ds),
        )


class DeleteOut(BaseModel):
    message: str


class Quality(BaseModel):
    grade_before: str | None = None
    grade_after: str | None = None
    score_before: float | None = None
    score_after: float | None = None
    percentile_after: float | None = None
    improvement_percent: float | None = None


class EvaluationOut(BaseModel):
    """`DatasetGetEvaluationResponse`; `raw_results` is the native door's whole report."""

    dataset_id: str
    status: Literal["pending", "running", "succeeded", "failed", "skipped"]
    quality: Quality | None = None
    raw_results: dict[str, Any] | None = None
    message: str | None = None

    @classmethod
    def of(cls, report: dict[str, Any]) -> EvaluationOut:
        status = report["status"]
        quality, raw, message = None, None, None
        if status == "succeeded":
            quality = Quality(
                **(report.get("before_after") or {}),
                percentile_after=report.get("percentile"),
            )
            raw = report
        elif status == "failed":
            message = report.get("error") or "The evaluation failed."
        elif status == "skipped":
            message = report.get("error") or "The dataset has no version to evaluate."
        return cls(
            dataset_id=report["dataset_id"],
            status=status,
            quality=quality,
            raw_results=raw,
            message=message,
        )


class Reason(BaseModel):
    code: str
    message: str


class RowError(BaseModel):
    line: int
    reasons: list[Reason]

    @classmethod
    def of(cls, e: DatasetRowError) -> RowError:
        return cls(line=e.line, reasons=[Reason.model_validate(r) for r in e.reasons])


class RowErrorPage(BaseModel):
    """Gristmill's own: the SDK has no call for a dataset's invalid rows."""

    errors: list[RowError]
    next_cursor: str | None


class RunResponse(BaseModel):
    """`DatasetRunResponse` (and `DatasetAdaptResponse`): camelCase on the wire."""

    model_config = ConfigDict(populate_by_name=True)

    run_id: str | None
    estimated_minutes: float = Field(serialization_alias="estimatedMinutes")
    estimated_credits_consumed: float = Field(serialization_alias="estimatedCreditsConsumed")
    estimate: bool
    multimodal_pricing_applied: bool = Field(
        default=False, serialization_alias="multimodalPricingApplied"
    )

    @classmethod
    def of(cls, started: Started) -> RunResponse:
        est = started.estimate
        return cls(
            run_id=started.run.id if started.run is not None else None,
            estimated_minutes=est.get("minutes", 0.0),
            estimated_credits_consumed=est.get("credits", 0.0),
            estimate=started.run is None,
        )


class ExpandResponse(BaseModel):
    """`DatasetTranslateResponse` / `DatasetLocalizeResponse`."""

    dataset_id: str | None
    status: str | None
    estimated_credits_consumed: float
    estimate: bool
    estimated_new_rows: float

    @classmethod
    def of(cls, made: Expanded) -> ExpandResponse:
        replay = made.dataset is not None and not made.started.estimate
        return cls(
            dataset_id=made.dataset.id if made.dataset is not None else None,
            status=status_of(made.dataset) if made.dataset is not None else None,
            estimated_credits_consumed=0.0 if replay else made.started.estimate.get("credits", 0.0),
            estimate=made.dataset is None,
            estimated_new_rows=made.new_rows,
        )
