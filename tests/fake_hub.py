"""A fake Hugging Face Hub: a local HTTP server on 127.0.0.1 that the real huggingface_hub client talks to.

It speaks just enough of the Hub API to observe what a push sends and to hold the repositories' files:

* ``POST /api/repos/create`` (409 when the repository exists, 403 with ``refuse_create``)
* ``POST /api/validate-yaml``, ``.../preupload/REV`` (every file "regular"), ``.../commit/REV``,
  ``.../branch/NAME``, ``.../discussions`` and ``GET .../discussions/1`` (pull requests)
* ``GET /api/{type}s/OWNER/NAME[/revision/REV]`` (repo info; 404 ``RepoNotFound`` for unknown repositories)
* ``GET /api/{type}s/OWNER/NAME/tree/REV[/PATH]`` (always recursive, files only, one page)
* ``HEAD``/``GET /[datasets/|spaces/]OWNER/NAME/resolve/REV/PATH`` (file downloads)

Repositories hold the files of their ``main`` branch (``seed`` them, or let a commit to ``main`` write
them); commits to other revisions are recorded but not stored. Nothing leaves the machine: while the
server runs, any connection to a host other than the loopback is refused and reported at exit.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

TOKEN = "hf_" + "FakePushToken0123456789abcdef"
_PREFIX = {"dataset": "datasets/", "space": "spaces/", "model": ""}


def _git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class FakeHub:
    """Records every request and answers the endpoints huggingface_hub uses to create a repository,
    commit to it, list its files and download them."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.created: list[dict] = []  # every create-repo request body, accepted or not
        self.branches: list[str] = []
        self.validated: list[str] = []
        self.commits: list[dict] = []
        self.prs: list[dict] = []
        self.refuse_create = False
        self.repos: dict[str, dict[str, bytes]] = {}  # "dataset/owner/name" -> path -> bytes (main)
        self.outside: list[Any] = []  # connections attempted to anything but the loopback
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _body(self) -> bytes:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                return gzip.decompress(body) if self.headers.get("Content-Encoding") == "gzip" else body

            def _send(self, code: int, obj: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(obj).encode()
                self.send_response(code)
                if isinstance(obj, dict) and "error" in obj:  # where huggingface_hub reads the message from
                    self.send_header("X-Error-Message", obj["error"])
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _not_found(self) -> None:
                self._send(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})

            def _api_repo(self, path: str) -> tuple[str, str, str] | None:
                """'/api/datasets/me/rs/tree/main' -> ('dataset/me/rs', 'me/rs', '/tree/main')."""
                parts = path.split("/", 6)  # '', 'api', 'datasets', owner, name, rest...
                if len(parts) < 5 or parts[1] != "api" or parts[2] not in ("models", "datasets", "spaces"):
                    return None
                repo_id = f"{parts[3]}/{parts[4]}"
                rest = "/" + parts[5] + ("/" + parts[6] if len(parts) > 6 else "") if len(parts) > 5 else ""
                return f"{parts[2][:-1]}/{repo_id}", repo_id, rest

            def _resolve(self, path: str) -> tuple[str, str] | None:
                """'/datasets/me/rs/resolve/main/a/b.json' -> ('dataset/me/rs', 'a/b.json')."""
                if "/resolve/" not in path:
                    return None
                head, tail = path.split("/resolve/", 1)
                head = head.lstrip("/")
                kind = "model"
                for k, prefix in _PREFIX.items():
                    if prefix and head.startswith(prefix):
                        kind, head = k, head[len(prefix) :]
                _rev, _, file = tail.partition("/")
                return f"{kind}/{head}", unquote(file)

            def _file(self, with_body: bool) -> None:
                hit = self._resolve(urlsplit(self.path).path)
                files = hub.repos.get(hit[0]) if hit else None
                if files is None or hit[1] not in files:
                    code = "RepoNotFound" if files is None else "EntryNotFound"
                    self.send_response(404)
                    self.send_header("X-Error-Code", code)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = files[hit[1]]
                self.send_response(200)
                self.send_header("X-Repo-Commit", hub.head(hit[0]))
                self.send_header("ETag", f'"{_git_blob_sha1(data)}"')
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if with_body:
                    self.wfile.write(data)

            def do_HEAD(self) -> None:
                hub.requests.append(("HEAD", self.path, dict(self.headers)))
                self._file(with_body=False)

            def do_GET(self) -> None:
                hub.requests.append(("GET", self.path, dict(self.headers)))
                path = urlsplit(self.path).path
                if "/resolve/" in path and not path.startswith("/api/"):
                    return self._file(with_body=True)
                if path.endswith("/discussions/1") and hub.prs:
                    return self._send(200, hub.prs[0])
                api = self._api_repo(path)
                if api is None:
                    return self._send(404, {"error": "not faked"})
                key, repo_id, rest = api
                files = hub.repos.get(key)
                if files is None:
                    return self._not_found()
                if rest == "" or rest.startswith("/revision/"):
                    siblings = [{"rfilename": p} for p in sorted(files)]
                    return self._send(200, {"id": repo_id, "sha": hub.head(key), "siblings": siblings})
                if rest.startswith("/tree/"):
                    _rev, _, under = rest[len("/tree/") :].partition("/")
                    under = unquote(under).strip("/")
                    entries = [
                        {"type": "file", "path": p, "size": len(d), "oid": _git_blob_sha1(d)}
                        for p, d in sorted(files.items())
                        if not under or p.startswith(under + "/")
                    ]
                    return self._send(200, entries)
                self._send(404, {"error": "not faked"})

            def do_POST(self) -> None:
                body = self._body()
                hub.requests.append(("POST", self.path, dict(self.headers)))
                url = urlsplit(self.path)
                path, query = url.path, parse_qs(url.query)
                if path == "/api/repos/create":
                    if hub.refuse_create:
                        return self._send(403, {"error": f"You don't have the rights (token {hub.token})"})
                    d = json.loads(body)
                    hub.created.append(d)
                    repo_id = f"{d.get('organization')}/{d['name']}"
                    key = f"{d.get('type') or 'model'}/{repo_id}"
                    repo_url = f"{hub.url}/{_PREFIX[key.split('/')[0]]}{repo_id}"
                    if key in hub.repos:  # as the Hub: a conflict, with the existing repository's url
                        return self._send(409, {"error": "You already created this repo", "url": repo_url})
                    hub.repos[key] = {}
                    return self._send(200, {"url": repo_url})
                if path == "/api/validate-yaml":
                    hub.validated.append(json.loads(body)["content"])
                    return self._send(200, {"warnings": []})
                if path.endswith("/discussions"):
                    d = json.loads(body)
                    hub.prs.append(
                        {
                            "title": d["title"],
                            "num": 1,
                            "createdAt": "2025-01-01T00:00:00.000Z",
                            "status": "draft",
                            "repo": {"name": "me/rs", "type": "dataset"},
                            "isPullRequest": d["pullRequest"],
                            "events": [],
                            "changes": {"base": "refs/heads/main"},
                            "filesWithConflicts": [],
                        }
                    )
                    return self._send(200, {"num": 1})
                if "/branch/" in path:
                    hub.branches.append(path.rsplit("/branch/", 1)[1])
                    return self._send(200, {})
                if "/preupload/" in path:
                    files = json.loads(body)["files"]
                    return self._send(
                        200,
                        {
                            "files": [
                                {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                for f in files
                            ]
                        },
                    )
                if "/commit/" in path:
                    lines = [json.loads(x) for x in body.decode().splitlines() if x.strip()]
                    files = {
                        x["value"]["path"]: base64.b64decode(x["value"]["content"])
                        for x in lines
                        if x["key"] == "file"
                    }
                    header = next(x["value"] for x in lines if x["key"] == "header")
                    pr = query.get("create_pr") == ["1"]
                    revision = unquote(path.rsplit("/commit/", 1)[1])
                    api = self._api_repo(path)
                    key = api[0] if api else ""
                    hub.commits.append(
                        {"revision": revision, "header": header, "files": files, "create_pr": pr, "repo": key}
                    )
                    deleted = [x["value"]["path"] for x in lines if x["key"] == "deletedFile"]
                    hub.commits[-1]["deleted"] = deleted
                    if revision == "main" and not pr:
                        if key not in hub.repos:
                            return self._not_found()
                        for d in deleted:
                            hub.repos[key].pop(d, None)
                        hub.repos[key].update(files)
                    out = {"commitUrl": f"{hub.url}/datasets/me/rs/commit/c0ffee", "commitOid": "c0ffee"}
                    if pr:
                        out["pullRequestUrl"] = f"{hub.url}/datasets/me/rs/discussions/1"
                    return self._send(200, out)
                self._send(404, {"error": "not faked"})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def seed(self, repo_id: str, files: dict[str, bytes], repo_type: str = "dataset") -> None:
        """Make a repository that already exists on the Hub, with these files on `main`."""
        self.repos[f"{repo_type}/{repo_id}"] = dict(files)

    def files(self, repo_id: str, repo_type: str = "dataset") -> dict[str, bytes]:
        """The files on `main` of a repository (KeyError when it was never created)."""
        return self.repos[f"{repo_type}/{repo_id}"]

    def head(self, key: str) -> str:
        """The commit hash of `main`: it changes whenever the files do."""
        h = hashlib.sha1()
        for p, d in sorted(self.repos.get(key, {}).items()):
            h.update(p.encode() + b"\0" + _git_blob_sha1(d).encode())
        return h.hexdigest()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@contextmanager
def running_fake_hub(monkeypatch: Any, tmp_path: Path, token: str = TOKEN) -> Iterator[FakeHub]:
    """Start a FakeHub, point huggingface_hub at it (endpoint, a fresh cache, `token` as HF_TOKEN) and
    refuse every connection that would leave the loopback. Use inside a pytest fixture."""
    import huggingface_hub.constants as C

    fake = FakeHub(token)
    monkeypatch.setattr(C, "ENDPOINT", fake.url)
    # hf_hub_url() builds download URLs from this template, computed from the endpoint at import time
    monkeypatch.setattr(
        C, "HUGGINGFACE_CO_URL_TEMPLATE", fake.url + "/{repo_id}/resolve/{revision}/{filename}"
    )
    monkeypatch.setattr(C, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(C, "HF_HUB_CACHE", str(tmp_path / "hf-home" / "hub"))
    monkeypatch.setenv("HF_TOKEN", token)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))

    real_connect = socket.socket.connect

    def loopback_only(sock: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if sock.family in (socket.AF_INET, socket.AF_INET6) and host not in ("127.0.0.1", "::1", "localhost"):
            fake.outside.append(address)
            raise OSError(f"fake hub: refused a connection to {address!r}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", loopback_only)
    try:
        yield fake
    finally:
        fake.close()
    assert not fake.outside, f"connections outside the fake hub: {fake.outside}"
