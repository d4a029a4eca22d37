"""Publish to Kaggle with the official `kaggle` package (2.x, over `kagglesdk`): a folder with
`dataset-metadata.json` (title, license, the dataset card as its description) and the data
files `{stem}-{split}.{ext}`. A slug that Kaggle doesn't know yet becomes a new dataset
(`dataset_create_new`). A slug it knows gets a new version (`dataset_create_version`) whose
notes are the publication's title.

`target_spec`:

* `dataset` ("owner/slug", required; the slug is 6 to 50 characters, as kaggle checks).
* `title`: 6 to 50 characters. By default it comes from the dataset's name, padded or cut to fit.
* `username` and `key`: a legacy API key. Else `GRISTMILL_KAGGLE_USERNAME` and
  `GRISTMILL_KAGGLE_KEY`. `key` is the secret field.
* `public` (default false) and `license` (default `CC0-1.0`).
* `format` (`parquet`, `csv` or `jsonl`) and `split`.

How the package is used, since one server process runs many publications:

* **Credentials belong to the call.** kaggle's own lookup reads process-wide things:
  `KAGGLE_*` env vars, `~/.kaggle/kaggle.json` and an access token found in the environment.
  None of it is used. Each publication builds its own `KaggleApi` with its username and key set
  in `config_values`. Every kagglesdk client that instance builds sends Basic auth with that key,
  even if the environment holds a token kagglesdk would otherwise prefer.
* **No work at import.** `import kaggle` runs `KaggleApi().authenticate()`. That can send an
  `IntrospectToken` request and, with no credentials, ends in `exit(1)`. The package is imported
  once, under a lock, with that call made a no-op (`_import_kaggle_api`).
* **Upload state.** kaggle keeps resumable-upload state in
  `tempfile.gettempdir()/.kaggle-uploads-<uid>`, keyed by file path. Every attempt uploads from a
  fresh private temp folder, so attempts never share that state, and an attempt deletes its own
  state files when it ends (kaggle keeps them after a failure).
* **Endpoint.** The `GRISTMILL_KAGGLE_API_URL` setting (default: Kaggle's own,
  `https://api.kaggle.com`) exists for Kaggle-compatible servers and for tests (a local fake
  that speaks kagglesdk's wire protocol). The RPCs go to `{url}/v1/{service}/{Method}`, the
  same paths as api.kaggle.com. The URL is set on each kagglesdk client this publication's
  `KaggleApi` builds, and nothing global is patched. kagglesdk's `KAGGLE_API_ENVIRONMENT` is
  ignored.

Retries: a retried attempt resumes from `state`. `creating` or `versioning` is saved before
the call that publishes, and `published` after it. If an earlier attempt's create landed (the
slug it found free now exists), the publication is taken as done and not created again. If an
earlier attempt's version landed (a version with this publication's notes exists), it is not
made again. Refusals (bad key, slug in use, no permission) fail the publication. 429, 5xx and
connection errors raise, so the job retries. kaggle itself retries 429s and connection errors
for a couple of minutes first."""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from gristmill.services.errors import InvalidRequest
from gristmill.services.publishing.base import Attempt, PublishFailed, choice, flag, text_field
from gristmill.settings import Settings

FORMATS = ("parquet", "csv", "jsonl")
DEFAULT_LICENSE = "CC0-1.0"
WEB_URL = "https://www.kaggle.com/datasets"
METADATA_FILE = "dataset-metadata.json"
NAME_MIN, NAME_MAX = 6, 50  # kaggle's client-side rule for slugs and titles

_import_lock = threading.Lock()
_api_class: Any = None


def _length_ok(text: str) -> bool:
    return NAME_MIN <= len(text) <= NAME_MAX


def default_title(dataset_name: str) -> str:
    """The dataset's name as a Kaggle title: whitespace collapsed, cut to 50, padded to 6."""
    title = " ".join(dataset_name.split())[:NAME_MAX].rstrip()
    if len(title) < NAME_MIN:
        title = f"{title} dataset" if title else "Gristmill dataset"
    return title


def _description(card: bytes) -> str:
    """The dataset card without its YAML front matter (Hugging Face's, not Kaggle's)."""
    text = card.decode("utf-8", errors="replace")
    if text.startswith("---\n") and "\n---\n" in text[3:]:
        text = text[3:].split("\n---\n", 1)[1]
    return text.strip()


def _import_kaggle_api() -> Any:
    """`kaggle.api.kaggle_api_extended.KaggleApi`, imported once per process.

    `kaggle/__init__.py` runs `KaggleApi().authenticate()` at import time. That call can read a
    token from the environment, send it to api.kaggle.com and print auth help. It can also
    `exit(1)` (kaggle swallows that `SystemExit`). Here the package is created from its spec
    and its `__init__` is executed with `KaggleApi.authenticate` made a no-op for that time.
    Everything else in the package is as kaggle builds it. `kaggle.api` is the usual instance,
    just unauthenticated. The lock keeps two publications from doing this at once."""
    global _api_class
    with _import_lock:
        if _api_class is not None:
            return _api_class
        try:
            if "kaggle" not in sys.modules:
                spec = importlib.util.find_spec("kaggle")
                if spec is None or spec.loader is None:
                    raise ImportError("No module named 'kaggle'")
                package = importlib.util.module_from_spec(spec)
                sys.modules["kaggle"] = package
                try:
                    extended = importlib.import_module("kaggle.api.kaggle_api_extended")
                    authenticate = extended.KaggleApi.authenticate
                    extended.KaggleApi.authenticate = lambda self: None
                    try:
                        spec.loader.exec_module(package)
                    finally:
                        extended.KaggleApi.authenticate = authenticate
                except BaseException:
                    for name in [m for m in sys.modules if m.split(".")[0] == "kaggle"]:
                        del sys.modules[name]
                    raise
            extended = importlib.import_module("kaggle.api.kaggle_api_extended")
        except (ImportError, SystemExit) as exc:
            raise PublishFailed(
                "Publishing to Kaggle needs the kaggle package on the server "
                f"(pip install 'gristmill[publish]'): {exc}"
            ) from None
        except OSError as exc:  # it makes its config folder when imported
            raise PublishFailed(
                f"The kaggle package could not be imported: {exc} (KAGGLE_CONFIG_DIR names "
                "the config folder it makes)."
            ) from None
        _api_class = _pinned_api(extended)
        return _api_class


def _pinned_api(extended: Any) -> Any:
    """A KaggleApi whose clients use one publication's key and endpoint and nothing else."""
    base: Any = extended.KaggleApi
    legacy_key = str(extended.AuthMethod.LEGACY_API_KEY)

    class PinnedKaggleApi(base):  # type: ignore[misc]
        def __init__(self, username: str, key: str, endpoint: str | None) -> None:
            # what authenticate() would find, given here; an instance dict (kaggle's
            # `config_values` default is one dict shared by the class)
            self.config_values = {
                self.CONFIG_NAME_USER: username,
                self.CONFIG_NAME_KEY: key,
                self.CONFIG_NAME_AUTH_METHOD: legacy_key,
            }
            self._authenticated = True
            # not the args KAGGLE_API_ENVIRONMENT chose when kaggle was imported
            self.args: list[str] = []
            self._endpoint = endpoint.rstrip("/") if endpoint else None

        def authenticate(self) -> None:
            """The credentials are given; kaggle's search of the environment never runs."""

        def build_kaggle_client(self) -> Any:
            username = self.config_values[self.CONFIG_NAME_USER]
            key = self.config_values[self.CONFIG_NAME_KEY]
            client = self.build_kaggle_client_with_params(
                args=[],  # the PROD env: paths /v1/{service}/{Method}, no IAP token
                username=username,
                password=key,
                api_token=None,
                response_processor=self.get_response_processor(),
            )
            http = client.http_client()
            if self._endpoint is not None:
                http._endpoint = self._endpoint
                probe = http._get_request_url("s", "M")
                if probe != f"{self._endpoint}/v1/s/M":  # kagglesdk changed: never go elsewhere
                    raise RuntimeError(f"kagglesdk ignored GRISTMILL_KAGGLE_API_URL ({probe})")
            # kagglesdk prefers a token found in the environment (KAGGLE_API_TOKEN,
            # ~/.kaggle/access_token) over the key it is given: set up its session now, then
            # make it send this publication's key whatever it found
            http._init_session()
            http._session.auth = (username, key)
            return client

    return PinnedKaggleApi


class Kaggle:
    name: str = "kaggle"
    secret_fields: tuple[str, ...] = ("key",)

    def check(self, spec: dict[str, Any], settings: Settings) -> None:
        ref = text_field(spec, "dataset")
        assert ref is not None
        owner, _, slug = ref.partition("/")
        if not owner or not slug or "/" in slug or ref != ref.strip():
            raise InvalidRequest(
                f"target_spec.dataset {ref!r} must be 'owner/slug'.",
                param="target_spec.dataset",
            )
        if not _length_ok(slug):
            raise InvalidRequest(
                f"The slug of target_spec.dataset ({slug!r}) must be between {NAME_MIN} and "
                f"{NAME_MAX} characters.",
                param="target_spec.dataset",
            )
        title = text_field(spec, "title", required=False)
        if title is not None and not _length_ok(title):
            raise InvalidRequest(
                f"target_spec.title must be between {NAME_MIN} and {NAME_MAX} characters.",
                param="target_spec.title",
            )
        text_field(spec, "license", required=False)
        username = text_field(spec, "username", required=False) or settings.kaggle_username
        key = text_field(spec, "key", required=False) or settings.kaggle_key
        if not key:
            raise InvalidRequest(
                "Publishing to Kaggle needs an API key: target_spec.key (with "
                "target_spec.username) or GRISTMILL_KAGGLE_KEY.",
                param="target_spec.key",
            )
        if not username:
            raise InvalidRequest(
                "Publishing to Kaggle needs the username the key belongs to: "
                "target_spec.username or GRISTMILL_KAGGLE_USERNAME.",
                param="target_spec.username",
            )
        flag(spec, "public", False)
        self.data_format(spec)

    def data_format(self, spec: dict[str, Any]) -> str:
        return choice(spec, "format", FORMATS)

    def publish(self, attempt: Attempt) -> tuple[str, str]:
        from requests.exceptions import HTTPError

        spec, settings, state = attempt.spec, attempt.settings, attempt.state
        ref: str = spec["dataset"]
        owner, slug = ref.split("/")
        rows = attempt.bundle.rows
        if state.get("published"):  # the publication is whole; only its ending was lost
            url = str(state.get("url") or f"{WEB_URL}/{ref}")
            return url, f"Published {rows:,} rows to {url}."
        username = spec.get("username") or settings.kaggle_username
        key = spec.get("key") or settings.kaggle_key
        if not (username and key):  # the server's settings changed since the check
            raise PublishFailed(
                "Publishing to Kaggle needs an API key: target_spec.key (with "
                "target_spec.username) or GRISTMILL_KAGGLE_KEY.",
                param="target_spec.key",
            )
        api = _import_kaggle_api()(username, key, settings.kaggle_api_url)
        with tempfile.TemporaryDirectory(prefix="gristmill-kaggle-") as tmp:
            folder = self._folder(attempt, Path(tmp) / slug)
            try:
                if not self._exists(api, ref):
                    attempt.done(creating=True)
                    result = api.dataset_create_new(
                        str(folder),
                        public=spec.get("public", False),
                        quiet=True,
                        convert_to_csv=False,
                    )
                    what = "a new dataset"
                elif state.get("creating"):
                    # an earlier attempt found the slug free and created it, then stopped
                    # before it could say so: that dataset holds this publication
                    found = self._view(api, owner, slug)
                    return self._finish(attempt, found.url, ref, "a new dataset")
                elif state.get("versioning") and (
                    landed := self._landed_version(api, owner, slug, attempt.title)
                ):
                    return self._finish(attempt, landed, ref, "a new version")
                else:
                    attempt.done(versioning=True)
                    result = api.dataset_create_version(
                        str(folder),
                        version_notes=attempt.title,
                        quiet=True,
                        convert_to_csv=False,
                    )
                    what = "a new version"
            except HTTPError as exc:
                refusal = self._refusal(exc, ref)
                if refusal is None:
                    raise
                raise refusal from None
            finally:
                self._forget_uploads(folder)
        if (result.status or "").lower() != "ok":
            why = result.error or f"status {result.status!r}"
            raise PublishFailed(f"Kaggle refused {ref}: {why}", param="target_spec.dataset")
        return self._finish(attempt, result.url or None, ref, what)

    @staticmethod
    def _finish(attempt: Attempt, url: str | None, ref: str, what: str) -> tuple[str, str]:
        url = url or str(attempt.state.get("url") or f"{WEB_URL}/{ref}")
        attempt.done(published=True, url=url)
        rows = attempt.bundle.rows
        return url, f"Published {rows:,} rows to {url} as {what}."

    @staticmethod
    def _folder(attempt: Attempt, folder: Path) -> Path:
        """dataset-metadata.json and the data files, linked (or copied) from the bundle."""
        import json

        folder.mkdir()
        spec, bundle = attempt.spec, attempt.bundle
        metadata = {
            "id": spec["dataset"],
            "title": spec.get("title") or default_title(bundle.dataset_name),
            "licenses": [{"name": spec.get("license") or DEFAULT_LICENSE}],
            "description": _description(bundle.card),
        }
        (folder / METADATA_FILE).write_text(json.dumps(metadata, indent=2))
        for split, path in bundle.files.items():
            target = folder / f"{bundle.stem}-{split}{Path(path).suffix}"
            try:
                os.link(path, target)
            except OSError:
                shutil.copyfile(path, target)
        return folder

    @staticmethod
    def _exists(api: Any, ref: str) -> bool:
        """One GetDatasetStatus: only a 404 means absent (a 401 is a refused key)."""
        from requests.exceptions import HTTPError

        try:
            api.dataset_status(ref)
        except HTTPError as exc:
            if exc.response is not None and exc.response.status_code == 404:
                return False
            raise
        return True

    @staticmethod
    def _view(api: Any, owner: str, slug: str) -> Any:
        """The dataset as Kaggle shows it (GetDataset): its URL, its versions and their notes."""
        from kagglesdk.datasets.types.dataset_api_service import (  # type: ignore[import-untyped]
            ApiGetDatasetRequest,
        )

        request = ApiGetDatasetRequest()
        request.owner_slug, request.dataset_slug = owner, slug
        with api.build_kaggle_client() as client:
            return client.datasets.dataset_api_client.get_dataset(request)

    @classmethod
    def _landed_version(cls, api: Any, owner: str, slug: str, notes: str) -> str | None:
        """The dataset's URL if a version with these notes is there (an earlier attempt's)."""
        found = cls._view(api, owner, slug)
        if any(v.version_notes == notes for v in found.versions or []):
            return str(found.url or f"{WEB_URL}/{owner}/{slug}")
        return None

    @staticmethod
    def _forget_uploads(folder: Path) -> None:
        """Delete kaggle's resumable-upload state for these files (kept after a failure). It
        names a signed upload URL, and no later attempt uploads from this folder again."""
        from kaggle.api.kaggle_api_extended import (  # type: ignore[import-untyped]
            ResumableUploadContext,
        )

        context = ResumableUploadContext()
        for name in os.listdir(folder):
            state_file = context.get_upload_info_file_path(os.path.join(str(folder), name))
            Path(state_file).unlink(missing_ok=True)

    @staticmethod
    def _refusal(exc: Any, ref: str) -> PublishFailed | None:
        """A refusal fails the publication. For None (429, 5xx, no answer) the job retries."""
        status = exc.response.status_code if exc.response is not None else None
        if status == 401:
            return PublishFailed(
                "Kaggle answered 401: the Kaggle key was refused (target_spec.username and "
                "target_spec.key).",
                param="target_spec.key",
            )
        if status == 403:
            return PublishFailed(
                f"Kaggle answered 403: this key may not publish to {ref}.",
                param="target_spec.dataset",
            )
        if status is not None and 400 <= status < 500 and status != 429:
            return PublishFailed(f"Kaggle answered {status}: {exc}", param="target_spec.dataset")
        return None
