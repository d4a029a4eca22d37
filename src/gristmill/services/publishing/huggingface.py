"""Publish to a Hugging Face Hub (`GRISTMILL_HF_ENDPOINT`, the public Hub by default; a
second Gristmill's Hub door works too) with `huggingface_hub`: one commit of `README.md` and
`data/{split}-00000-of-00001.parquet` (or `.jsonl`), so `load_dataset` reads it as it is.

`target_spec`: `repo_id` ("namespace/name", required), `token` (else `GRISTMILL_HF_TOKEN`),
`endpoint`, `private` (default true), `exist_ok` (default false: a repo that exists already is
refused rather than overwritten), `format` (`parquet` or `jsonl`), `split`."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from gristmill.services.errors import InvalidRequest
from gristmill.services.publishing.base import Attempt, PublishFailed, choice, flag, text_field
from gristmill.settings import Settings

FORMATS = ("parquet", "jsonl")


class HuggingFace:
    name: str = "huggingface"
    secret_fields: tuple[str, ...] = ("token",)

    def check(self, spec: dict[str, Any], settings: Settings) -> None:
        repo_id = text_field(spec, "repo_id")
        assert repo_id is not None
        if repo_id.count("/") != 1 or not all(repo_id.split("/")):
            raise InvalidRequest(
                f"target_spec.repo_id {repo_id!r} must be 'namespace/name'.",
                param="target_spec.repo_id",
            )
        if not (text_field(spec, "token", required=False) or settings.hf_token):
            raise InvalidRequest(
                "Publishing to Hugging Face needs a token: target_spec.token or "
                "GRISTMILL_HF_TOKEN.",
                param="target_spec.token",
            )
        text_field(spec, "endpoint", required=False)
        flag(spec, "private", True)
        flag(spec, "exist_ok", False)
        self.data_format(spec)

    def data_format(self, spec: dict[str, Any]) -> str:
        return choice(spec, "format", FORMATS)

    def publish(self, attempt: Attempt) -> tuple[str, str]:
        from huggingface_hub import HfApi
        from huggingface_hub.errors import HfHubHTTPError

        spec = attempt.spec
        endpoint = (spec.get("endpoint") or attempt.settings.hf_endpoint).rstrip("/")
        api = HfApi(endpoint=endpoint, token=spec.get("token") or attempt.settings.hf_token)
        repo_id = spec["repo_id"]
        url = f"{endpoint}/datasets/{repo_id}"
        try:
            if not attempt.state.get("repo_ready"):
                try:
                    api.create_repo(
                        repo_id,
                        repo_type="dataset",
                        private=spec.get("private", True),
                        exist_ok=spec.get("exist_ok", False),
                    )
                except HfHubHTTPError as exc:
                    if exc.response is not None and exc.response.status_code == 409:
                        raise PublishFailed(
                            f"The repo {repo_id} exists already on {endpoint}: set "
                            "target_spec.exist_ok to true to add a commit to it.",
                            param="target_spec.repo_id",
                        ) from None
                    raise
                attempt.done(repo_ready=True)
            # a retry whose commit landed before the crash: the commit is there, whole
            if attempt.state.get("committed") or any(
                c.title == attempt.title
                for c in api.list_repo_commits(repo_id, repo_type="dataset")
            ):
                return url, f"Published to {url}."
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp)
                (folder / "README.md").write_bytes(attempt.bundle.card)
                (folder / "data").mkdir()
                suffix = attempt.bundle.file_format
                for split, path in attempt.bundle.files.items():
                    shutil.copyfile(path, folder / "data" / f"{split}-00000-of-00001.{suffix}")
                commit = api.upload_folder(
                    folder_path=folder,
                    repo_id=repo_id,
                    repo_type="dataset",
                    commit_message=attempt.title,
                )
            attempt.done(committed=True, commit=commit.oid)
        except HfHubHTTPError as exc:
            status = exc.response.status_code if exc.response is not None else None
            # 409 on a commit: the repo is busy (an earlier attempt's commit still landing):
            # retry, and the retry finds that commit by its title
            if status is not None and 400 <= status < 500 and status not in (409, 429):
                why = {401: "the token was refused", 403: "the token may not write there"}
                raise PublishFailed(
                    f"Hugging Face answered {status}: {why.get(status, exc.server_message or exc)}."
                ) from None
            raise
        return url, f"Published to {url} ({attempt.bundle.rows:,} rows)."
