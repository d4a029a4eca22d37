"""Tables of the metadata store. Every row below Account belongs to exactly one account."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware on every backend: SQLite hands datetimes back naive."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None:
            # SQLite keeps the wall clock and drops the offset: store everything as UTC
            value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


JSONType = JSON().with_variant(JSONB(), "postgresql")
JSONDict = dict[str, Any]


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), JSONDict: JSONType, Any: JSONType}


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Identity(Base):
    __tablename__ = "identities"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # user | service_account
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    identity_id: Mapped[str] = mapped_column(ForeignKey("identities.id"))
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class File(Base):
    __tablename__ = "files"
    __table_args__ = (Index("ix_files_account_created", "account_id", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    purpose: Mapped[str] = mapped_column(String(40))
    filename: Mapped[str] = mapped_column(String(512))
    bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    blob_key: Mapped[str] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(20), default="processed")
    status_details: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)


class Upload(Base):
    __tablename__ = "uploads"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    filename: Mapped[str] = mapped_column(String(512))
    purpose: Mapped[str] = mapped_column(String(40))
    mime_type: Mapped[str] = mapped_column(String(200))
    bytes: Mapped[int] = mapped_column(BigInteger)
    # pending | completing | completed | cancelled | expired
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    file_id: Mapped[str | None] = mapped_column(String(40), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class UploadPart(Base):
    __tablename__ = "upload_parts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    upload_id: Mapped[str] = mapped_column(ForeignKey("uploads.id"), index=True)
    blob_key: Mapped[str] = mapped_column(String(512))
    bytes: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Dataset(Base):
    """A named set of datapoints. Created by any door; every door sees the same rows."""

    __tablename__ = "datasets"
    __table_args__ = (Index("ix_datasets_account_created", "account_id", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    name: Mapped[str] = mapped_column(String(300))
    # chat | generation | preference | reranking_questions | json; None until detected
    schema_type: Mapped[str | None] = mapped_column(String(40), default=None)
    data_source: Mapped[str] = mapped_column(String(40), default="LocalFile")
    origin: Mapped[str] = mapped_column(String(20), default="native")  # door that created it
    source_file_id: Mapped[str | None] = mapped_column(String(40), default=None)
    source_blob_key: Mapped[str | None] = mapped_column(String(512), default=None)
    source_filename: Mapped[str | None] = mapped_column(String(512), default=None)
    source_format: Mapped[str | None] = mapped_column(String(20), default=None)
    column_mapping: Mapped[JSONDict | None] = mapped_column(default=None)
    # pending | running | succeeded | failed
    status: Mapped[str] = mapped_column(String(20), default="pending")
    progress_done: Mapped[int] = mapped_column(BigInteger, default=0)
    progress_total: Mapped[int | None] = mapped_column(BigInteger, default=None)
    row_count: Mapped[int] = mapped_column(BigInteger, default=0)
    invalid_row_count: Mapped[int] = mapped_column(BigInteger, default=0)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    head_version_id: Mapped[str | None] = mapped_column(String(40), default=None)
    job_id: Mapped[str | None] = mapped_column(String(40), default=None)
    evaluation_summary: Mapped[JSONDict | None] = mapped_column(default=None)
    # the latest adaptation run: id, status, progress, error, and the grade it started from
    run_summary: Mapped[JSONDict | None] = mapped_column(default=None)
    created_by_identity_id: Mapped[str | None] = mapped_column(String(40), default=None)
    created_by_identity_type: Mapped[str] = mapped_column(String(20), default="user")
    extra: Mapped[JSONDict | None] = mapped_column(default=None)
    # Cloudflare AI Gateway datasets: rows are the gateway's logs matching `filters`
    gateway_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    filters: Mapped[Any] = mapped_column(default=None, nullable=True)
    enable: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Datapoint(Base):
    """A working row of a dataset (the mutable head). Soft-deleted rows keep `staled_at`."""

    __tablename__ = "datapoints"
    __table_args__ = (
        Index("ix_datapoints_dataset", "dataset_id", "staled_at", "id"),
        Index("ix_datapoints_job", "dataset_id", "job_id"),
        Index("ix_datapoints_dataset_updated", "dataset_id", "updated_at"),
        # a log's row in a gateway dataset: re-syncing on feedback looks it up per dataset
        Index("ix_datapoints_dataset_inference", "dataset_id", "source_inference_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # UUIDv7
    account_id: Mapped[str] = mapped_column(String(40))
    dataset_id: Mapped[str] = mapped_column(String(40))
    function_name: Mapped[str | None] = mapped_column(String(200), default=None)
    kind: Mapped[str] = mapped_column(String(40))
    input: Mapped[Any] = mapped_column(default=None, nullable=True)
    output: Mapped[Any] = mapped_column(default=None, nullable=True)
    output_schema: Mapped[Any] = mapped_column(default=None, nullable=True)
    tool_params: Mapped[Any] = mapped_column(default=None, nullable=True)
    tags: Mapped[JSONDict | None] = mapped_column(default=None)
    extra: Mapped[JSONDict | None] = mapped_column(default=None)
    name: Mapped[str | None] = mapped_column(String(300), default=None)
    source_line: Mapped[int | None] = mapped_column(BigInteger, default=None)
    source_inference_id: Mapped[str | None] = mapped_column(String(64), default=None)
    episode_id: Mapped[str | None] = mapped_column(String(64), default=None)
    job_id: Mapped[str | None] = mapped_column(String(40), default=None)  # the ingest that wrote it
    is_custom: Mapped[bool] = mapped_column(Boolean, default=False)
    staled_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DatasetRowError(Base):
    """A row that failed validation on ingest: its source line and the reasons."""

    __tablename__ = "dataset_row_errors"
    __table_args__ = (Index("ix_row_errors_dataset_line", "dataset_id", "line"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(40))
    dataset_id: Mapped[str] = mapped_column(String(40))
    job_id: Mapped[str | None] = mapped_column(String(40), default=None)
    line: Mapped[int] = mapped_column(BigInteger)
    reasons: Mapped[Any] = mapped_column()


class DatasetVersion(Base):
    """An immutable snapshot of a dataset's rows: a Parquet blob."""

    __tablename__ = "dataset_versions"
    __table_args__ = (UniqueConstraint("dataset_id", "number"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(40))
    dataset_id: Mapped[str] = mapped_column(String(40), index=True)
    number: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(40))
    blob_key: Mapped[str] = mapped_column(String(512))
    row_count: Mapped[int] = mapped_column(BigInteger)
    bytes: Mapped[int] = mapped_column(BigInteger)
    stats: Mapped[JSONDict | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class VersionTag(Base):
    """A name for one of a dataset's versions (`v1.0`, `train-2026-12`): unique per dataset,
    usable wherever a version id is, the Hub door's revisions included."""

    __tablename__ = "version_tags"
    __table_args__ = (UniqueConstraint("dataset_id", "name"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(40))
    dataset_id: Mapped[str] = mapped_column(String(40))
    version_id: Mapped[str] = mapped_column(String(40), index=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Export(Base):
    """A version written out in a training format, split into files in the blob store."""

    __tablename__ = "exports"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(40))
    dataset_id: Mapped[str] = mapped_column(String(40), index=True)
    version_id: Mapped[str] = mapped_column(String(40))
    format: Mapped[str] = mapped_column(String(40))
    # {"validation_fraction"|"validation_rows", "seed"} or None for one train file
    split: Mapped[JSONDict | None] = mapped_column(default=None)
    job_id: Mapped[str | None] = mapped_column(String(40), default=None)
    # pending | running | succeeded | failed
    status: Mapped[str] = mapped_column(String(20), default="pending")
    progress_done: Mapped[int] = mapped_column(BigInteger, default=0)
    progress_total: Mapped[int | None] = mapped_column(BigInteger, default=None)
    # [{"name", "split", "rows", "bytes", "blob_key"}]
    files: Mapped[Any] = mapped_column(default=None, nullable=True)
    rows_written: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_skipped: Mapped[int] = mapped_column(BigInteger, default=0)
    # [{"line", "datapoint_id", "reason"}], the first few
    skipped: Mapped[Any] = mapped_column(default=None, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class Publication(Base):
    """A version published to another service (the Hub, Kaggle, an OpenAI Files API, S3)."""

    __tablename__ = "publications"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(40))
    dataset_id: Mapped[str] = mapped_column(String(40), index=True)
    version_id: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(20))
    spec: Mapped[JSONDict] = mapped_column()  # target_spec without its secrets
    # tokens and keys from target_spec: kept only until the publication ends
    secrets: Mapped[JSONDict | None] = mapped_column(default=None)
    # what finished steps a retried attempt must not repeat (repo created, file uploaded, ...)
    state: Mapped[JSONDict | None] = mapped_column(default=None)
    job_id: Mapped[str | None] = mapped_column(String(40), default=None)
    # pending | running | succeeded | failed
    status: Mapped[str] = mapped_column(String(20), default="pending")
    result_url: Mapped[str | None] = mapped_column(Text, default=None)
    message: Mapped[str | None] = mapped_column(Text, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class Evaluation(Base):
    """The quality evaluation of one dataset version: score, grade and the per-check report."""

    __tablename__ = "evaluations"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(40))
    dataset_id: Mapped[str] = mapped_column(String(40), index=True)
    version_id: Mapped[str] = mapped_column(String(40), unique=True)
    job_id: Mapped[str | None] = mapped_column(String(40), default=None)
    # pending | running | succeeded | failed
    status: Mapped[str] = mapped_column(String(20), default="pending")
    progress_done: Mapped[int] = mapped_column(BigInteger, default=0)
    progress_total: Mapped[int | None] = mapped_column(BigInteger, default=None)
    rows: Mapped[int | None] = mapped_column(BigInteger, default=None)
    score: Mapped[float | None] = mapped_column(Float, default=None)
    grade: Mapped[str | None] = mapped_column(String(2), default=None)
    report: Mapped[JSONDict | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class EvaluationFlag(Base):
    """One row flagged by one check of an evaluation: its line, datapoint and why."""

    __tablename__ = "evaluation_flags"
    __table_args__ = (
        Index("ix_flags_evaluation_check", "evaluation_id", "check", "id"),
        Index("ix_flags_evaluation_datapoint", "evaluation_id", "datapoint_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    evaluation_id: Mapped[str] = mapped_column(String(40))
    job_id: Mapped[str | None] = mapped_column(String(40), default=None)
    check: Mapped[str] = mapped_column(String(40))
    line: Mapped[int | None] = mapped_column(BigInteger, default=None)
    datapoint_id: Mapped[str | None] = mapped_column(String(40), default=None)
    detail: Mapped[str] = mapped_column(Text)


class Run(Base):
    """An adaptation run: recipes over a dataset's head version, ending as a new version."""

    __tablename__ = "runs"
    __table_args__ = (UniqueConstraint("account_id", "idempotency_key"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(40))
    dataset_id: Mapped[str] = mapped_column(String(40), index=True)
    # a translate/localize run writes its version into a new dataset instead
    target_dataset_id: Mapped[str | None] = mapped_column(String(40), default=None)
    job_id: Mapped[str | None] = mapped_column(String(40), default=None)
    # pending | running | succeeded | failed | cancelled
    status: Mapped[str] = mapped_column(String(20), default="pending")
    params: Mapped[JSONDict] = mapped_column()
    idempotency_key: Mapped[str | None] = mapped_column(String(200), default=None)
    source_version_id: Mapped[str] = mapped_column(String(40))
    result_version_id: Mapped[str | None] = mapped_column(String(40), default=None)
    progress_done: Mapped[int] = mapped_column(BigInteger, default=0)
    progress_total: Mapped[int | None] = mapped_column(BigInteger, default=None)
    estimate: Mapped[JSONDict | None] = mapped_column(default=None)
    report: Mapped[JSONDict | None] = mapped_column(default=None)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class RunCall(Base):
    """A model answer a run has received, keyed by the hash of its request: the checkpoint
    that lets a crashed run resume without paying for a finished row again."""

    __tablename__ = "run_calls"

    run_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    answer: Mapped[JSONDict] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CustomEval(Base):
    """An LLM judge's rubric scored on a sample of rows before and after a run."""

    __tablename__ = "custom_evals"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(40))
    dataset_id: Mapped[str] = mapped_column(String(40), index=True)
    run_id: Mapped[str] = mapped_column(String(40))
    job_id: Mapped[str | None] = mapped_column(String(40), default=None)
    name: Mapped[str | None] = mapped_column(String(300), default=None)
    judge_prompt: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    score_before: Mapped[float | None] = mapped_column(Float, default=None)
    score_after: Mapped[float | None] = mapped_column(Float, default=None)
    scored_rows: Mapped[int | None] = mapped_column(Integer, default=None)
    report: Mapped[JSONDict | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)


class PresignedUpload(Base):
    """A single-PUT upload URL handed to a client; it expires and works once."""

    __tablename__ = "presigned_uploads"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(40))
    dataset_id: Mapped[str] = mapped_column(String(40), index=True)
    blob_key: Mapped[str] = mapped_column(String(512))
    token_hash: Mapped[str | None] = mapped_column(String(64), default=None, unique=True)
    filename: Mapped[str] = mapped_column(String(512))
    content_type: Mapped[str | None] = mapped_column(String(200), default=None)
    expires_at: Mapped[datetime] = mapped_column()
    put_at: Mapped[datetime | None] = mapped_column(default=None)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    bytes: Mapped[int | None] = mapped_column(BigInteger, default=None)
    sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Job(Base):
    """Long work, claimed by a worker under a lease; retried with backoff after a crash."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_claim", "status", "run_after"),
        UniqueConstraint("account_id", "kind", "idempotency_key"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(40))
    params: Mapped[JSONDict] = mapped_column()
    # queued | running | succeeded | failed
    status: Mapped[str] = mapped_column(String(20), default="queued")
    progress_done: Mapped[int] = mapped_column(BigInteger, default=0)
    progress_total: Mapped[int | None] = mapped_column(BigInteger, default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    lease_owner: Mapped[str | None] = mapped_column(String(80), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    run_after: Mapped[datetime] = mapped_column(default=utcnow)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), default=None)
    result: Mapped[JSONDict | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Gateway(Base):
    """A Cloudflare-style AI gateway: a named front door whose calls are logged."""

    __tablename__ = "gateways"
    __table_args__ = (UniqueConstraint("account_id", "name"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(64))  # the gateway id in URLs
    config: Mapped[JSONDict | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class InferenceLog(Base):
    """One model call seen by the logging gateway or sent to the batch log endpoint."""

    __tablename__ = "inference_logs"
    __table_args__ = (
        Index("ix_logs_gateway_created", "account_id", "gateway_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # UUIDv7
    account_id: Mapped[str] = mapped_column(String(40))
    gateway_id: Mapped[str] = mapped_column(String(64))
    provider: Mapped[str] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(200), default=None)
    path: Mapped[str | None] = mapped_column(String(300), default=None)
    request: Mapped[Any] = mapped_column(default=None, nullable=True)
    response: Mapped[Any] = mapped_column(default=None, nullable=True)
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    success: Mapped[bool] = mapped_column(Boolean, default=True)
    cached: Mapped[bool] = mapped_column(Boolean, default=False)
    stream: Mapped[bool] = mapped_column(Boolean, default=False)
    tokens_in: Mapped[int | None] = mapped_column(BigInteger, default=None)
    tokens_out: Mapped[int | None] = mapped_column(BigInteger, default=None)
    cost: Mapped[float | None] = mapped_column(default=None)
    duration_ms: Mapped[int | None] = mapped_column(BigInteger, default=None)
    request_content_type: Mapped[str | None] = mapped_column(String(100), default=None)
    response_content_type: Mapped[str | None] = mapped_column(String(100), default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    feedback: Mapped[int | None] = mapped_column(Integer, default=None)
    score: Mapped[float | None] = mapped_column(default=None)
    metadata_: Mapped[JSONDict | None] = mapped_column("metadata", default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
