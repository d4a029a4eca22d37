"""A typed Python client for Gristmill's native door, on httpx.

    from gristmill import Client

    with Client("http://127.0.0.1:8000", api_key="gm-...") as gm:
        ds = gm.datasets.upload("train.jsonl", wait=True)
        print(gm.datasets.evaluation(ds["id"], wait=True)["grade"])
        gm.exports.download(gm.exports.create(ds["id"], "openai-chat"), "sft.jsonl")

Errors come by status (`NotFoundError`, `BadRequestError`, ...; each has `status_code`,
`message`, `code` and `param`), lists page themselves (`for d in gm.datasets.list()`), and
the long calls (`upload`, `evaluation`, `exports.create`, `runs.start`, `publications.create`)
wait when asked, reporting progress to a callback: `progress(stage, done, total)`.
`base_url` and `api_key` default to `GRISTMILL_URL` and `GRISTMILL_API_KEY`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

Progress = Callable[[str, int, int | None], None]
DONE = ("succeeded", "failed", "cancelled", "skipped")
CHUNK = 1 << 20


class GristmillError(Exception):
    """Anything the client raises."""


class APIConnectionError(GristmillError):
    """The server could not be reached."""


class APIStatusError(GristmillError):
    status_code = 0

    def __init__(self, message: str, *, code: str | None = None, param: str | None = None):
        super().__init__(message)
        self.message, self.code, self.param = message, code, param


class BadRequestError(APIStatusError):
    status_code = 400


class AuthenticationError(APIStatusError):
    status_code = 401


class PermissionDeniedError(APIStatusError):
    status_code = 403


class NotFoundError(APIStatusError):
    status_code = 404


class ConflictError(APIStatusError):
    status_code = 409


class PayloadTooLargeError(APIStatusError):
    status_code = 413


class UnprocessableEntityError(APIStatusError):
    status_code = 422


class RateLimitError(APIStatusError):
    status_code = 429


class InternalServerError(APIStatusError):
    status_code = 500


class JobFailedError(GristmillError):
    """Long work (an ingest, an export, a run, a publication) ended without succeeding."""

    def __init__(self, message: str, result: dict[str, Any]):
        super().__init__(message)
        self.result = result


ERRORS: dict[int, type[APIStatusError]] = {
    e.status_code: e
    for e in (
        BadRequestError,
        AuthenticationError,
        PermissionDeniedError,
        NotFoundError,
        ConflictError,
        PayloadTooLargeError,
        UnprocessableEntityError,
        RateLimitError,
    )
}


def _error(resp: httpx.Response) -> APIStatusError:
    try:
        body = resp.json().get("error") or {}
    except ValueError:
        body = {}
    cls = ERRORS.get(
        resp.status_code, InternalServerError if resp.status_code >= 500 else APIStatusError
    )
    err = cls(
        str(body.get("message") or resp.text[:300] or resp.reason_phrase),
        code=body.get("code"),
        param=body.get("param"),
    )
    err.status_code = resp.status_code
    return err


class Client:
    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 60.0,
        poll_seconds: float = 0.5,
    ) -> None:
        base = (base_url or os.environ.get("GRISTMILL_URL") or "http://127.0.0.1:8000").rstrip("/")
        key = api_key or os.environ.get("GRISTMILL_API_KEY")
        if not key:
            raise GristmillError("No API key: pass api_key or set GRISTMILL_API_KEY.")
        self.base_url, self.poll_seconds = base, poll_seconds
        self._http = httpx.Client(
            base_url=f"{base}/native/v1",
            headers={"Authorization": f"Bearer {key}"},
            timeout=timeout,
        )
        self.datasets = Datasets(self)
        self.versions = Versions(self)
        self.exports = Exports(self)
        self.runs = Runs(self)
        self.publications = Publications(self)
        self.logs = Logs(self)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            resp = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise APIConnectionError(f"Cannot reach {self.base_url}: {exc}") from exc
        if resp.status_code >= 400:
            raise _error(resp)
        return resp.json()

    def pages(self, path: str, key: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every item of a cursor-paged list, page after page."""
        cursor = None
        while True:
            page = self.request(
                "GET", path, params={**params, **({"cursor": cursor} if cursor else {})}
            )
            yield from page[key]
            cursor = page.get("next_cursor")
            if not cursor or not page[key]:
                return

    def wait(
        self,
        path: str,
        *,
        done: Callable[[dict[str, Any]], bool],
        progress_of: Callable[[dict[str, Any]], tuple[int, int | None]],
        stage: str,
        progress: Progress | None,
        timeout: float | None,
    ) -> dict[str, Any]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            current: dict[str, Any] = self.request("GET", path)
            if progress is not None:
                progress(stage, *progress_of(current))
            if done(current):
                return current
            if deadline is not None and time.monotonic() > deadline:
                raise GristmillError(f"{stage} did not finish in {timeout} s.")
            time.sleep(self.poll_seconds)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _finished(result: dict[str, Any], what: str) -> dict[str, Any]:
    if result["status"] != "succeeded":
        raise JobFailedError(f"{what} {result['status']}: {result.get('error')}", result)
    return result


class Datasets:
    def __init__(self, client: Client) -> None:
        self._c = client

    def list(
        self, *, q: str | None = None, status: str | None = None, page_size: int = 100
    ) -> Iterator[dict[str, Any]]:
        params = {
            "limit": page_size,
            **({"q": q} if q else {}),
            **({"status": status} if status else {}),
        }
        return self._c.pages("/datasets", "data", params)

    def get(self, dataset_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._c.request("GET", f"/datasets/{dataset_id}")
        return result

    def delete(self, dataset_id: str) -> None:
        self._c.request("DELETE", f"/datasets/{dataset_id}")

    def upload(
        self,
        path: str | Path,
        *,
        name: str | None = None,
        schema_type: str | None = None,
        wait: bool = True,
        progress: Progress | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Stream a file in as a new dataset; with `wait`, until its ingest has ended
        (`JobFailedError` if it failed). `progress("upload", bytes, size)`, then
        `progress("ingest", rows, total)`."""
        file = Path(path)
        try:
            size = file.stat().st_size
        except OSError as exc:
            raise GristmillError(f"Cannot read {file}: {exc.strerror}.") from None

        def chunks() -> Iterator[bytes]:
            sent = 0
            with open(file, "rb") as fh:
                while chunk := fh.read(CHUNK):
                    sent += len(chunk)
                    if progress is not None:
                        progress("upload", sent, size)
                    yield chunk

        params = {"name": name or file.name, "filename": file.name}
        if schema_type:
            params["schema_type"] = schema_type
        ds: dict[str, Any] = self._c.request(
            "POST", "/datasets", params=params, content=chunks(),
            headers={"content-type": "application/octet-stream", "content-length": str(size)},
        )  # fmt: skip
        if not wait:
            return ds
        return _finished(
            self._c.wait(
                f"/datasets/{ds['id']}",
                done=lambda d: d["status"] in ("succeeded", "failed"),
                progress_of=lambda d: (d["progress_done"], d["progress_total"]),
                stage="ingest",
                progress=progress,
                timeout=timeout,
            ),
            "The ingest",
        )

    def rows(self, dataset_id: str, *, page_size: int = 100) -> Iterator[dict[str, Any]]:
        offset = 0
        while True:
            page = self._c.request(
                "GET", f"/datasets/{dataset_id}/rows", params={"offset": offset, "limit": page_size}
            )
            yield from page["data"]
            offset += len(page["data"])
            if not page["data"] or offset >= page["total"]:
                return

    def evaluation(
        self, dataset_id: str, *, wait: bool = False, progress: Progress | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """The head's quality report; with `wait`, evaluated first if it has none yet."""
        path = f"/datasets/{dataset_id}/evaluation"
        report: dict[str, Any] = self._c.request("GET", path)
        if not wait or (report["status"] in DONE and report["status"] != "skipped"):
            return report
        if report["status"] == "skipped":
            self._c.request("POST", path)
        return self._c.wait(
            path,
            done=lambda r: r["status"] in DONE,
            progress_of=lambda r: (
                (r.get("progress") or {}).get("done", 0),
                (r.get("progress") or {}).get("total"),
            ),
            stage="evaluation",
            progress=progress,
            timeout=timeout,
        )

    def flags(self, dataset_id: str, *, check: str | None = None) -> Iterator[dict[str, Any]]:
        params = {"limit": 500, **({"check": check} if check else {})}
        return self._c.pages(f"/datasets/{dataset_id}/flags", "flags", params)


class Versions:
    def __init__(self, client: Client) -> None:
        self._c = client

    def list(self, dataset_id: str) -> Iterator[dict[str, Any]]:
        return self._c.pages(f"/datasets/{dataset_id}/versions", "data", {"limit": 100})

    def get(self, dataset_id: str, version: str) -> dict[str, Any]:
        result: dict[str, Any] = self._c.request(
            "GET", f"/datasets/{dataset_id}/versions/{version}"
        )
        return result

    def snapshot(self, dataset_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._c.request("POST", f"/datasets/{dataset_id}/versions")
        return result

    def diff(self, dataset_id: str, a: str, b: str) -> Iterator[dict[str, Any]]:
        return self._c.pages(
            f"/datasets/{dataset_id}/versions/{a}/diff/{b}", "changes", {"limit": 500}
        )

    def restore(self, dataset_id: str, version: str) -> dict[str, Any]:
        result: dict[str, Any] = self._c.request(
            "POST", f"/datasets/{dataset_id}/versions/{version}/restore"
        )
        return result

    def tag(self, dataset_id: str, version: str, name: str) -> dict[str, Any]:
        path = f"/datasets/{dataset_id}/versions/{version}/tags"
        result: dict[str, Any] = self._c.request("POST", path, json={"name": name})
        return result


class Exports:
    def __init__(self, client: Client) -> None:
        self._c = client

    def create(
        self,
        dataset_id: str,
        format: str,
        *,
        version: str | None = None,
        split: dict[str, Any] | None = None,
        wait: bool = True,
        progress: Progress | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"format": format, "version": version, "split": split}
        export: dict[str, Any] = self._c.request(
            "POST", f"/datasets/{dataset_id}/exports", json=body
        )
        if not wait:
            return export
        return _finished(
            self._c.wait(
                f"/datasets/{dataset_id}/exports/{export['id']}",
                done=lambda e: e["status"] in DONE,
                progress_of=lambda e: (e["progress"]["done"], e["progress"]["total"]),
                stage="export",
                progress=progress,
                timeout=timeout,
            ),
            "The export",
        )

    def download(self, export: dict[str, Any], dest: str | Path) -> list[Path]:
        """A finished export's files, through their signed links: `dest` itself for one file,
        `dest` with `-train` / `-validation` before its suffix for a split."""
        target, written = Path(dest), []
        for f in export["files"]:
            path = (
                target
                if len(export["files"]) == 1
                else target.with_name(f"{target.stem}-{f['split']}{target.suffix}")
            )
            try:
                with httpx.stream("GET", f["url"], timeout=self._c._http.timeout) as resp:
                    if resp.status_code >= 400:
                        resp.read()
                        raise _error(resp)
                    with open(path, "wb") as fh:
                        for chunk in resp.iter_bytes(CHUNK):
                            fh.write(chunk)
            except httpx.HTTPError as exc:
                raise APIConnectionError(f"Cannot download {f['name']}: {exc}") from exc
            written.append(path)
        return written


class Runs:
    def __init__(self, client: Client) -> None:
        self._c = client

    def start(
        self, dataset_id: str, spec: dict[str, Any], *, wait: bool = True,
        progress: Progress | None = None, timeout: float | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """An adaptation run (the Adaption SDK's `DatasetRunParams`); `estimate: true` only
        prices it."""
        run: dict[str, Any] = self._c.request("POST", f"/datasets/{dataset_id}/runs", json=spec)
        if not wait or spec.get("estimate"):
            return run
        return _finished(
            self._c.wait(
                f"/datasets/{dataset_id}/runs/{run['id']}",
                done=lambda r: r["status"] in DONE,
                progress_of=lambda r: (
                    r["progress"]["processed_rows"] or 0,
                    r["progress"]["total_rows"],
                ),
                stage="run",
                progress=progress,
                timeout=timeout,
            ),
            "The run",
        )

    def get(self, dataset_id: str, run_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._c.request("GET", f"/datasets/{dataset_id}/runs/{run_id}")
        return result

    def cancel(self, dataset_id: str, run_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._c.request(
            "POST", f"/datasets/{dataset_id}/runs/{run_id}/cancel"
        )
        return result


class Publications:
    def __init__(self, client: Client) -> None:
        self._c = client

    def create(
        self, dataset_id: str, target: str, spec: dict[str, Any], *, wait: bool = True,
        timeout: float | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        body = {"target": target, "target_spec": spec}
        pub: dict[str, Any] = self._c.request(
            "POST", f"/datasets/{dataset_id}/publications", json=body
        )
        if not wait:
            return pub
        return _finished(
            self._c.wait(
                f"/datasets/{dataset_id}/publications/{pub['id']}",
                done=lambda p: p["status"] in DONE,
                progress_of=lambda p: (0, None),
                stage="publication",
                progress=None,
                timeout=timeout,
            ),
            "The publication",
        )

    def get(self, dataset_id: str, publish_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._c.request(
            "GET", f"/datasets/{dataset_id}/publications/{publish_id}"
        )
        return result


class Logs:
    def __init__(self, client: Client) -> None:
        self._c = client

    def list(
        self, gateway: str, *, page_size: int = 50, **filters: Any
    ) -> Iterator[dict[str, Any]]:
        """A gateway's logs, newest first, page after page; `filters` as the Cloudflare door
        takes them (`model="gpt-4o-mini"`, `success=True`, `search="refund"`, ...)."""
        params = {k: str(v).lower() if isinstance(v, bool) else v for k, v in filters.items()}
        page = 1
        while True:
            found = self._c.request(
                "GET",
                f"/gateways/{gateway}/logs",
                params={**params, "page": page, "per_page": page_size},
            )
            yield from found["data"]
            if not found["data"] or page * page_size >= found["total"]:
                return
            page += 1

    def get(self, log_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._c.request("GET", f"/logs/{log_id}")
        return result
