"""A fake Kaggle API that speaks kagglesdk's wire protocol (kaggle 2.x), stdlib only.

* **RPCs.** `POST {base}/v1/{service}/{Method}` (api.kaggle.com's paths; `/api/v1/...`, the
  other envs' paths, work too). The JSON body uses camelCase names. The answer is 200 + JSON,
  or an error status. A JSON error body is `{"code": N, "message": ...}`, and a 401 is plain
  text as api.kaggle.com sends it.
* **Auth.** `Authorization: Basic base64(username:key)`, checked against `users`. A wrong key
  (or a Bearer token nobody issued) gets 401 on every RPC.
* **Uploads.** `blobs.BlobApiService/StartBlobUpload` answers a token and a `createUrl` here.
  The client PUTs the raw bytes there (with no auth) and then names the token in `files[]` of
  `CreateDataset` / `CreateDatasetVersion`.
* **Refusals.** A slug or title already in use is reported as 200
  `{"status": "Error", "error": ...}`, the way Kaggle reports it.

`FakeKaggle(users={"alice": "key"}).start()`: `.base_url`, `.calls` (every request: method,
RPC, body, the user it authenticated, the auth scheme), `.datasets` (ref → `Dataset` with
its versions and their files' bytes), `.stop()`."""

from __future__ import annotations

import base64
import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

DATASETS = "datasets.DatasetApiService"
BLOBS = "blobs.BlobApiService"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Refused(Exception):
    def __init__(self, status: int, message: str, *, as_json: bool = True):
        super().__init__(message)
        self.status, self.message, self.as_json = status, message, as_json


@dataclass
class Call:
    method: str
    rpc: str  # "service/Method", or the path of a PUT
    body: Any
    user: str | None  # who authenticated; None: no credentials, or refused ones
    scheme: str | None  # "Basic", "Bearer" or None


@dataclass
class Version:
    number: int
    notes: str | None
    files: dict[str, bytes]  # name → the bytes uploaded
    created: str = field(default_factory=_now)


@dataclass
class Dataset:
    owner: str
    slug: str
    title: str
    license_name: str
    is_private: bool
    description: str | None
    id: int
    versions: list[Version] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.owner}/{self.slug}"


class FakeKaggle:
    def __init__(self, users: dict[str, str], host: str = "127.0.0.1", port: int = 0):
        self.users = dict(users)
        self.lock = threading.Lock()
        self.calls: list[Call] = []
        self.datasets: dict[str, Dataset] = {}
        self.blobs: dict[str, dict[str, Any]] = {}  # token → name, declared length, data
        self.httpd = ThreadingHTTPServer((host, port), self._handler())
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeKaggle:
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def rpcs(self) -> list[str]:
        with self.lock:
            return [c.rpc.rsplit("/", 1)[-1] for c in self.calls if c.method == "POST"]

    # --- HTTP ------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, body: Any, ctype: str = "application/json") -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> bytes:
                if n := int(self.headers.get("Content-Length") or 0):
                    return self.rfile.read(n)
                if (self.headers.get("Transfer-Encoding") or "").lower() != "chunked":
                    return b""
                out = b""
                while size := int(self.rfile.readline().split(b";")[0].strip(), 16):
                    out += self.rfile.read(size)
                    self.rfile.readline()
                self.rfile.readline()
                return out

            def _path(self) -> str:
                return urlsplit(self.path).path

            def do_POST(self) -> None:
                raw = self._body()
                path = self._path()
                prefix = next((p for p in ("/v1/", "/api/v1/") if path.startswith(p)), None)
                rpc = path.removeprefix(prefix or "")
                if prefix is None or rpc.count("/") != 1:
                    return self._send(404, {"code": 404, "message": f"No route {path}"})
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    return self._send(400, {"code": 400, "message": "Invalid JSON"})
                user, refused, scheme = fake._auth(self.headers.get("Authorization"))
                with fake.lock:
                    fake.calls.append(Call("POST", rpc, body, user, scheme))
                try:
                    if refused:
                        raise _Refused(401, "Unauthorized", as_json=False)
                    with fake.lock:
                        answer = fake._rpc(rpc, body, user)
                except _Refused as why:
                    if why.as_json:
                        return self._send(why.status, {"code": why.status, "message": why.message})
                    return self._send(why.status, why.message.encode(), "text/plain")
                return self._send(200, answer)

            def do_PUT(self) -> None:
                data = self._body()
                path = self._path()
                with fake.lock:
                    fake.calls.append(Call("PUT", path, {"bytes": len(data)}, None, None))
                    blob = fake.blobs.get(path.removeprefix("/upload/"))
                    if not path.startswith("/upload/") or blob is None:
                        return self._send(404, {"error": "unknown upload"})
                    if (self.headers.get("Content-Range") or "").startswith("bytes */"):
                        # a resume probe: done, or nothing received yet
                        if blob["data"] is not None:
                            return self._send(200, {"name": blob["name"]})
                        return self._send(308, b"", "text/plain")
                    blob["data"] = data
                return self._send(200, {"name": blob["name"], "size": str(len(data))})

        return Handler

    # --- the service -------------------------------------------------------------------------

    def _auth(self, header: str | None) -> tuple[str | None, bool, str | None]:
        """(the user the credentials name, if right; whether they were refused; the scheme)."""
        if not header:
            return None, False, None
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return None, True, scheme
        try:
            user, _, key = base64.b64decode(value).decode().partition(":")
        except ValueError:
            return None, True, scheme
        if self.users.get(user) != key:
            return None, True, scheme
        return user, False, scheme

    def _dataset(self, body: dict[str, Any], user: str | None) -> Dataset:
        ref = f"{body.get('ownerSlug', '')}/{body.get('datasetSlug', '')}"
        ds = self.datasets.get(ref)
        if ds is None or (ds.is_private and ds.owner != user):
            raise _Refused(404, f"Dataset {ref} not found")
        return ds

    def _files(self, files: list[dict[str, Any]] | None) -> dict[str, bytes]:
        out = {}
        for f in files or []:
            blob = self.blobs.get(f.get("token", ""))
            if blob is None or blob["data"] is None:
                raise _Refused(400, f"Invalid or incomplete upload token {f.get('token')!r}")
            out[blob["name"]] = blob["data"]
        return out

    def _view(self, ds: Dataset) -> dict[str, Any]:
        return {
            "id": ds.id,
            "ref": ds.ref,
            "title": ds.title,
            "url": f"{self.base_url}/datasets/{ds.ref}",
            "isPrivate": ds.is_private,
            "licenseName": ds.license_name,
            "description": ds.description,
            "ownerName": ds.owner,
            "ownerRef": ds.owner,
            "currentVersionNumber": len(ds.versions),
            "versions": [
                {"versionNumber": v.number, "versionNotes": v.notes, "creationDate": v.created}
                for v in ds.versions
            ],
        }

    def _rpc(self, rpc: str, b: dict[str, Any], user: str | None) -> dict[str, Any]:
        if rpc == "security.OAuthService/IntrospectToken":
            return {"active": False}
        if rpc == f"{DATASETS}/GetDatasetStatus":
            self._dataset(b, user)
            return {"status": "READY"}
        if rpc == f"{DATASETS}/GetDataset":
            return self._view(self._dataset(b, user))
        if user is None:
            raise _Refused(401, "Unauthorized", as_json=False)
        if rpc == f"{BLOBS}/StartBlobUpload":
            token = f"blob-{uuid.uuid4().hex}"
            self.blobs[token] = {"name": b.get("name", ""), "data": None}
            return {"token": token, "createUrl": f"{self.base_url}/upload/{token}"}
        if rpc == f"{DATASETS}/CreateDataset":
            owner, slug = b.get("ownerSlug") or user, b.get("slug", "")
            if owner != user:
                raise _Refused(403, f"{user} may not create datasets for {owner}")
            if f"{owner}/{slug}" in self.datasets:
                return {
                    "status": "Error",
                    "error": f'The requested slug "{slug}" is already in use by a dataset. '
                    "Please choose another slug.",
                }
            if any(d.owner == owner and d.title == b.get("title") for d in self.datasets.values()):
                return {
                    "status": "Error",
                    "error": f'The requested title "{b.get("title")}" is already in use by a '
                    "dataset. Please choose another title.",
                }
            if not b.get("title") or not b.get("licenseName"):
                raise _Refused(400, "title and licenseName are required")
            ds = Dataset(
                owner=owner,
                slug=slug,
                title=b["title"],
                license_name=b["licenseName"],
                is_private=bool(b.get("isPrivate", False)),
                description=b.get("description"),
                id=1000 + len(self.datasets),
            )
            ds.versions.append(Version(1, "Initial release", self._files(b.get("files"))))
            self.datasets[ds.ref] = ds
            return {"ref": ds.ref, "url": f"{self.base_url}/datasets/{ds.ref}", "status": "Ok"}
        if rpc == f"{DATASETS}/CreateDatasetVersion":
            ds = self._dataset(b, user)
            if ds.owner != user:
                raise _Refused(403, f"{user} may not write {ds.ref}")
            body = b.get("body") or {}
            files = self._files(body.get("files"))
            ds.versions.append(Version(len(ds.versions) + 1, body.get("versionNotes"), files))
            if body.get("description"):
                ds.description = body["description"]
            return {"ref": ds.ref, "url": f"{self.base_url}/datasets/{ds.ref}", "status": "Ok"}
        raise _Refused(404, f"Unknown RPC {rpc}")
