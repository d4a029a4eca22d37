"""The Hugging Face Hub door at `/hf`: the Hub's HTTP API for dataset repos, enough for
`huggingface_hub` and `datasets` with `HF_ENDPOINT=http://…/hf` and `HF_TOKEN=<Gristmill key>`.

Revisions arrive percent-encoded as one path segment (`refs%2Fpr%2F1`), and tree paths with
`%2F` for `/`, so the door routes on the raw path itself. Errors carry `X-Error-Code`
(`RepoNotFound`, `RevisionNotFound`, `EntryNotFound`) and `X-Error-Message`, which is all the
client reads (a HEAD has no body). See `services.hub_door` for what a repo holds."""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

import orjson
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from gristmill.api.deps import bearer_token, get_hub
from gristmill.api.envelopes import Doors, Problem
from gristmill.hub import Hub
from gristmill.services import accounts
from gristmill.services.errors import InvalidRequest, NotFound, PayloadTooLarge, ServiceError
from gristmill.services.hub_door import repos, writes

PREFIX = "/hf"
BAD_TOKEN = "Invalid credentials in Authorization header"
router = APIRouter(tags=["hugging face hub"])


def render_error(p: Problem) -> dict[str, Any]:
    return {"error": p.message}


def _error(exc: ServiceError, head: bool) -> Response:
    headers = {"X-Error-Message": exc.message.replace("\n", " ")[:500]}
    if isinstance(exc, repos.RepoNotFound | repos.RevisionNotFound | repos.EntryNotFound):
        headers["X-Error-Code"] = exc.code
    if exc.status == 401:
        headers["X-Error-Message"] = BAD_TOKEN
    body: dict[str, Any] = {"error": exc.message}
    if isinstance(exc, writes.RepoExists):
        body["url"] = exc.url
    content = b"" if head else orjson.dumps(body)
    return Response(content, exc.status, headers, media_type="application/json")


def _json(value: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(value), 200, headers, media_type="application/json")


def _zulu(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def _segments(request: Request) -> list[str]:
    raw: bytes = request.scope.get("raw_path") or request.url.path.encode()
    path = raw.decode("latin-1").split("?", 1)[0].removeprefix(PREFIX)
    return [unquote(part) for part in path.strip("/").split("/")]


def _info(hub: Hub, rev: repos.Revision) -> dict[str, Any]:
    ds = rev.repo.dataset
    files = repos.files_of(hub, rev)
    at = rev.version.created_at if rev.version is not None else ds.created_at
    return {
        "_id": ds.id,
        "id": rev.repo.repo_id,
        "author": rev.repo.namespace,
        "sha": rev.sha,
        "lastModified": _zulu(at),
        "createdAt": _zulu(ds.created_at),
        "private": True,
        "gated": False,
        "disabled": False,
        "downloads": 0,
        "likes": 0,
        "tags": ["gristmill", *([f"format:{'parquet'}"] if rev.version else [])],
        "siblings": [{"rfilename": f.path} for f in files],
        "usedStorage": sum(f.size for f in files),
    }


def _entry(e: repos.RepoFile | repos.RepoDir) -> dict[str, Any]:
    if isinstance(e, repos.RepoDir):
        return {"type": "directory", "path": e.path, "oid": e.oid}
    return {"type": "file", "path": e.path, "size": e.size, "oid": e.oid}


def _tree(hub: Hub, rev: repos.Revision, path: str, recursive: bool) -> list[dict[str, Any]]:
    return [_entry(e) for e in repos.listing(hub, rev, path, recursive)]


def _range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """(start, end) of a `Range: bytes=…` header; None for the whole file; "bad" if it
    cannot be met."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, _, last = header.removeprefix("bytes=").partition("-")
    try:
        if not first:
            start, end = max(size - int(last), 0), size - 1
        else:
            start, end = int(first), min(int(last), size - 1) if last else size - 1
    except ValueError:
        return None
    return (start, end) if start <= end and start < size else "bad"


def _resolve_file(hub: Hub, request: Request, rev: repos.Revision, path: str) -> Response:
    f = repos.file_at(hub, rev, path)
    headers = {
        "X-Repo-Commit": rev.sha,
        "ETag": f'"{f.oid}"',
        "Accept-Ranges": "bytes",
        "Content-Disposition": f'inline; filename="{path.rsplit("/", 1)[-1]}"',
    }
    wanted = _range(request.headers.get("range"), f.size)
    if wanted == "bad":
        headers["Content-Range"] = f"bytes */{f.size}"
        return Response(b"", 416, headers)
    start, end = wanted if isinstance(wanted, tuple) else (0, f.size - 1)
    headers["Content-Length"] = str(end - start + 1)
    status = 206 if isinstance(wanted, tuple) else 200
    if status == 206:
        headers["Content-Range"] = f"bytes {start}-{end}/{f.size}"
    if request.method == "HEAD":
        return Response(b"", status, headers, media_type="application/octet-stream")
    chunks = f.read(start, end) if f.size else iter([b""])
    return StreamingResponse(chunks, status, headers, media_type="application/octet-stream")


def _repo(hub: Hub, caller: accounts.Principal, parts: list[str]) -> repos.Repo:
    if len(parts) < 2:
        raise repos.RepoNotFound("Repository not found")
    return repos.find_repo(hub, caller, parts[0], parts[1])


def _api(
    hub: Hub, request: Request, caller: accounts.Principal, parts: list[str], body: bytes
) -> Response:
    base = str(request.base_url).rstrip("/") + PREFIX
    method = request.method
    if parts[:2] == ["repos", "create"] and method == "POST":
        return _json(writes.create_repo(hub, caller, _body_json(body), base))
    if parts[:2] == ["repos", "delete"] and method == "DELETE":
        writes.delete_repo(hub, caller, _body_json(body))
        return _json({})
    if parts == ["validate-yaml"] and method == "POST":
        return _json({"errors": [], "warnings": []})
    if parts[:1] != ["datasets"]:
        raise NotFound(f"{method} /api/{'/'.join(parts)} is not served: this hub holds datasets.")
    repo = _repo(hub, caller, parts[1:3])
    action, rest = (parts[3], parts[4:]) if len(parts) > 3 else ("revision", ["main"])
    revision = rest[0] if rest else "main"
    if action == "revision" and method == "GET":
        return _json(_info(hub, repos.resolve(hub, repo, revision)))
    if action == "tree" and method == "GET":
        rev = repos.resolve(hub, repo, revision)
        recursive = request.query_params.get("recursive", "false").lower() == "true"
        return _json(_tree(hub, rev, "/".join(rest[1:]), recursive))
    if action == "paths-info" and method == "POST":
        rev = repos.resolve(hub, repo, revision)
        form = _form(request, body)
        wanted = set(form)
        found = {e["path"]: e for e in _tree(hub, rev, "", recursive=True)}
        return _json([found[p] for p in wanted if p in found])
    if action == "commits" and method == "GET":
        repos.resolve(hub, repo, revision)
        listed = repos.commits(hub, repo)
        return _json([{**c, "date": _zulu(c["date"])} for c in listed])  # type: ignore[arg-type]
    if action == "preupload" and method == "POST":
        repos.resolve(hub, repo, revision)
        return _json(writes.preupload(_body_json(body).get("files")))
    raise NotFound(f"{method} /api/{'/'.join(parts)} is not served by this hub.")


def _body_json(body: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(body or b"{}")
    except orjson.JSONDecodeError:
        raise InvalidRequest("The body is not JSON.", param="body") from None
    if not isinstance(value, dict):
        raise InvalidRequest("The body must be a JSON object.", param="body")
    return value


def _form(request: Request, body: bytes) -> list[str]:
    if request.headers.get("content-type", "").startswith("application/json"):
        return [str(p) for p in _body_json(body).get("paths", [])]
    return parse_qs(body.decode("utf-8", "replace")).get("paths", [])


async def _spool(request: Request, limit: int) -> Any:
    spooled = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the caller
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            spooled.close()
            raise PayloadTooLarge(f"The commit is larger than the limit of {limit} bytes.")
        spooled.write(chunk)
    return spooled


def _commit(
    hub: Hub, request: Request, caller: accounts.Principal, parts: list[str], spooled: Any
) -> Response:
    repo = _repo(hub, caller, parts[1:3])
    revision = parts[4] if len(parts) > 4 else "main"
    base = str(request.base_url).rstrip("/") + PREFIX
    with tempfile.TemporaryDirectory() as tmp:
        return _json(writes.commit(hub, caller, repo, revision, spooled, Path(tmp), base))


@router.api_route(
    "/{rest:path}", methods=["GET", "HEAD", "POST", "DELETE"], include_in_schema=False
)
async def hub_api(request: Request, rest: str) -> Response:
    hub = get_hub(request)
    head = request.method == "HEAD"
    parts = _segments(request)
    try:
        caller = await run_in_threadpool(accounts.authenticate, hub, bearer_token(request))
        if parts[:1] == ["api"] and len(parts) >= 6 and parts[4] == "commit":
            spooled = await _spool(request, hub.settings.max_upload_bytes * 2)
            try:
                return await run_in_threadpool(_commit, hub, request, caller, parts[1:], spooled)
            finally:
                spooled.close()
        body = await request.body() if request.method in ("POST", "DELETE") else b""
        if parts[:1] == ["api"]:
            return await run_in_threadpool(_api, hub, request, caller, parts[1:], body)
        if parts[:1] == ["datasets"] and len(parts) >= 6 and parts[3] == "resolve":

            def resolve_file() -> Response:
                rev = repos.resolve(hub, _repo(hub, caller, parts[1:3]), parts[4])
                return _resolve_file(hub, request, rev, "/".join(parts[5:]))

            return await run_in_threadpool(resolve_file)
        raise NotFound(f"{request.method} {request.url.path} is not served by this hub.")
    except ServiceError as exc:
        return _error(exc, head)


def mount(app: FastAPI, doors: Doors) -> None:
    app.include_router(router, prefix=PREFIX)
    doors.register(PREFIX, render_error)
