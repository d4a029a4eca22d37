"""Runtime configuration: GRISTMILL_* environment variables, overridable by CLI flags."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MiB = 1024 * 1024
GiB = 1024 * MiB


class Upstream(BaseModel):
    """Where the logging gateway forwards one provider's calls, and the key it sends there."""

    base_url: str
    api_key: str | None = None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRISTMILL_", extra="ignore")

    data_dir: Path = Path(".gristmill")
    database_url: str | None = None
    blob_url: str | None = None

    s3_endpoint_url: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    s3_region: str = "us-east-1"

    host: str = "127.0.0.1"
    port: int = 8000
    # HTTP server processes sharing the port: one Python process serves on about one core
    processes: int = Field(default=1, ge=1)

    max_upload_bytes: int = 8 * GiB
    max_part_bytes: int = 64 * MiB
    upload_expiry_seconds: int = 3600
    upload_sweep_interval_seconds: float = 60.0

    worker: bool = True
    job_lease_seconds: float = 30.0
    job_poll_interval_seconds: float = 0.5
    job_max_attempts: int = 5
    job_backoff_seconds: float = 1.0
    presigned_url_expiry_seconds: int = 3600
    export_url_expiry_seconds: int = 3600
    hf_endpoint: str = "https://huggingface.co"
    hf_token: str | None = None
    kaggle_username: str | None = None
    kaggle_key: str | None = None
    kaggle_api_url: str | None = None
    # how long the account and identity behind a checked API key are kept in memory; whether
    # the key is revoked is asked of the store on every request whatever this is
    auth_cache_seconds: float = 300.0
    # quality evaluation: the token limit of the too_long check (o200k_base tokens), the
    # local runner's processes (default: one per core), rows per task (a process's share of
    # memory), and a Ray cluster to run on instead ("auto": a local Ray in the worker)
    max_example_tokens: int = Field(default=65_536, ge=1)
    evaluation_processes: int | None = Field(default=None, ge=1)
    evaluation_task_rows: int = Field(default=50_000, ge=100)
    ray_address: str | None = None
    # read queries run at once on SQLite (see store.metadata.db.Database); 0: no limit
    sqlite_readers: int = 2
    public_base_url: str | None = None
    # the viewer: rows a text search reads per page, hours a sign-in lasts
    viewer_search_window: int = Field(default=100_000, ge=10)
    viewer_session_hours: float = Field(default=12.0, gt=0)

    # Logging gateway: GRISTMILL_UPSTREAMS='{"openai": {"base_url": "...", "api_key": "..."}}'
    upstreams: dict[str, Upstream] = {}
    gateway_timeout_seconds: float = 60.0  # whole upstream call, and each streamed chunk
    gateway_max_request_bytes: int = 32 * MiB
    # Extra or overriding prices, USD per 1M tokens: '{"my-model": [0.5, 1.5]}' (in, out)
    model_prices: dict[str, tuple[float, float]] = {}
    max_log_batch: int = 10_000  # entries per POST /native/v1/logs

    # Adaptation runs: the model their recipes call, "provider/model" with the provider one
    # of `upstreams` (e.g. "openai/gpt-4o-mini"); calls in flight per run; retries of a call
    # that met a 429, a 5xx or a timeout; the default budget of one run in USD (None: no
    # cap); and the seconds per call an estimate assumes before the hub has measured any
    run_model: str | None = None
    run_concurrency: int = Field(default=16, ge=1, le=1024)
    run_max_retries: int = Field(default=5, ge=0)
    run_retry_base_seconds: float = Field(default=0.5, ge=0)
    run_max_cost: float | None = Field(default=None, ge=0)
    run_seconds_per_call: float = Field(default=2.0, gt=0)
    # a web-search endpoint for hallucination_mitigation; none is built in
    search_url: str | None = None

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'gristmill.db').resolve()}"

    def resolved_blob_url(self) -> str:
        if self.blob_url:
            return self.blob_url
        return f"file://{(self.data_dir / 'blobs').resolve()}"

    @property
    def admin_key_path(self) -> Path:
        return self.data_dir / "admin-key"
