"""Cloudflare v4 wire objects, field for field as the `cloudflare` SDK parses them.

Every response, errors included, is the envelope `{success, errors, messages, result,
result_info}`; errors are `[{code, message}]` with Cloudflare-style numeric codes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict

from gristmill.api.envelopes import Problem
from gristmill.store.metadata.models import Dataset, Gateway, InferenceLog

T = TypeVar("T")
HEAD_CHARS = 4096  # how much of a logged request or response `logs.get` shows inline

# Cloudflare's codes where it has one (10000 authentication, 7003 unknown object), else ours.
_CODES = {400: 1001, 401: 10000, 403: 10000, 404: 7003, 405: 10405, 409: 1006, 413: 1413}


class ResultInfo(BaseModel):
    page: int
    per_page: int
    count: int
    total_count: int


class Envelope(BaseModel, Generic[T]):
    success: bool = True
    errors: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    result: T
    result_info: ResultInfo | None = None


def ok(result: T, info: ResultInfo | None = None) -> Envelope[T]:
    return Envelope(result=result, result_info=info)


def page_info(page: int, per_page: int, count: int, total: int) -> ResultInfo:
    return ResultInfo(page=page, per_page=per_page, count=count, total_count=total)


def render_error(p: Problem) -> dict[str, Any]:
    code = _CODES.get(p.status, 10000 + p.status if p.status >= 500 else 1000)
    error: dict[str, Any] = {"code": code, "message": p.message}
    if p.param:
        error["source"] = {"pointer": p.param}
    return {"success": False, "errors": [error], "messages": [], "result": None}


class GatewayBody(BaseModel):
    """Create/update: `id` (create only) and the settings, kept as given."""

    model_config = ConfigDict(extra="allow")
    id: str | None = None

    def config(self) -> dict[str, Any]:
        return self.model_dump(exclude={"id"}, exclude_unset=True)


class GatewayOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    created_at: datetime
    modified_at: datetime

    @classmethod
    def of(cls, g: Gateway) -> GatewayOut:
        return cls(id=g.name, created_at=g.created_at, modified_at=g.updated_at, **(g.config or {}))


class DatasetBody(BaseModel):
    name: str
    enable: bool
    filters: list[Any]  # checked by the service, which names a bad key, operator or value


class DatasetOut(BaseModel):
    id: str
    created_at: datetime
    modified_at: datetime
    enable: bool
    filters: list[dict[str, Any]]
    gateway_id: str
    name: str

    @classmethod
    def of(cls, d: Dataset) -> DatasetOut:
        return cls(
            id=d.id,
            created_at=d.created_at,
            modified_at=d.updated_at,
            enable=d.enable,
            filters=d.filters or [],
            gateway_id=d.gateway_id or "",
            name=d.name,
        )


class LogOut(BaseModel):
    id: str
    cached: bool
    created_at: datetime
    duration: int
    model: str
    path: str
    provider: str
    success: bool
    tokens_in: int | None = None
    tokens_out: int | None = None
    cost: float | None = None
    metadata: str | None = None  # a JSON object as text, as Cloudflare sends it
    request_content_type: str | None = None
    response_content_type: str | None = None
    status_code: int | None = None
    feedback: int | None = None
    score: float | None = None

    @classmethod
    def fields_of(cls, log: InferenceLog) -> dict[str, Any]:
        return dict(
            id=log.id,
            cached=log.cached,
            created_at=log.created_at,
            duration=log.duration_ms or 0,
            model=log.model or "",
            path=log.path or "",
            provider=log.provider,
            success=log.success,
            tokens_in=log.tokens_in,
            tokens_out=log.tokens_out,
            cost=log.cost,
            metadata=orjson.dumps(log.metadata_).decode() if log.metadata_ else None,
            request_content_type=log.request_content_type,
            response_content_type=log.response_content_type,
            status_code=log.status_code,
            feedback=log.feedback,
            score=log.score,
        )

    @classmethod
    def of(cls, log: InferenceLog) -> LogOut:
        return cls(**cls.fields_of(log))


def _head(body: Any) -> tuple[str | None, bool | None, int | None]:
    if body is None:
        return None, None, None
    text = body if isinstance(body, str) else orjson.dumps(body).decode()
    return text[:HEAD_CHARS], len(text) <= HEAD_CHARS, len(text.encode())


class LogDetail(LogOut):
    request_head: str | None = None
    request_head_complete: bool | None = None
    request_size: int | None = None
    response_head: str | None = None
    response_head_complete: bool | None = None
    response_size: int | None = None
    error: str | None = None

    @classmethod
    def of(cls, log: InferenceLog) -> LogDetail:
        req, resp = _head(log.request), _head(log.response)
        return cls(
            **cls.fields_of(log),
            error=log.error,
            request_head=req[0],
            request_head_complete=req[1],
            request_size=req[2],
            response_head=resp[0],
            response_head_complete=resp[1],
            response_size=resp[2],
        )
