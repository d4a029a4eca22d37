"""Publish to an OpenAI-compatible Files API (OpenAI, ScaleGenAI, a second Gristmill's OpenAI
door): the `openai-chat` export uploaded as `fine-tune` files, one per split.

`target_spec`: `api_key` (required), `base_url` (default `https://api.openai.com/v1`), `split`.
A file is named after the publication, so a retry after a crash finds the file it uploaded
instead of uploading it again."""

from __future__ import annotations

from typing import Any

import httpx

from gristmill.services.publishing.base import Attempt, PublishFailed, text_field
from gristmill.settings import Settings

DEFAULT_BASE_URL = "https://api.openai.com/v1"


class OpenAIFiles:
    name: str = "openai"
    secret_fields: tuple[str, ...] = ("api_key",)

    def check(self, spec: dict[str, Any], settings: Settings) -> None:
        text_field(spec, "api_key")
        text_field(spec, "base_url", required=False)

    def data_format(self, spec: dict[str, Any]) -> str:
        return "openai-chat"

    def _existing(self, http: httpx.Client, filename: str) -> str | None:
        after = None
        while True:
            params: dict[str, str | int] = {"purpose": "fine-tune", "limit": 100}
            if after:
                params["after"] = after
            page = self._checked(http.get("/files", params=params)).json()
            for f in page.get("data", []):
                if f.get("filename") == filename:
                    return str(f["id"])
            if not page.get("has_more") or not page.get("data"):
                return None
            after = page["data"][-1]["id"]

    @staticmethod
    def _checked(resp: httpx.Response) -> httpx.Response:
        if resp.status_code in (401, 403):
            raise PublishFailed(f"The Files API refused the key ({resp.status_code}).")
        if 400 <= resp.status_code < 500 and resp.status_code != 429:
            raise PublishFailed(f"The Files API answered {resp.status_code}: {resp.text[:300]}")
        resp.raise_for_status()  # 429 and 5xx: the job retries
        return resp

    def publish(self, attempt: Attempt) -> tuple[str, str]:
        spec = attempt.spec
        base = (spec.get("base_url") or DEFAULT_BASE_URL).rstrip("/")
        headers = {"Authorization": f"Bearer {spec['api_key']}"}
        uploaded: dict[str, str] = dict(attempt.state.get("files", {}))
        with httpx.Client(base_url=base, headers=headers, timeout=300) as http:
            for split, path in attempt.bundle.files.items():
                if split in uploaded:
                    continue
                filename = f"{attempt.bundle.stem}-{attempt.publication_id}-{split}.jsonl"
                file_id = self._existing(http, filename)
                if file_id is None:
                    with open(path, "rb") as fh:
                        resp = http.post(
                            "/files",
                            data={"purpose": "fine-tune"},
                            files={"file": (filename, fh, "application/jsonl")},
                        )
                    file_id = str(self._checked(resp).json()["id"])
                uploaded[split] = file_id
                attempt.done(files=uploaded)
        listed = ", ".join(f"{split}: {fid}" for split, fid in uploaded.items())
        first = next(iter(uploaded.values()))
        return f"{base}/files/{first}", f"Uploaded as fine-tune files ({listed})."
