"""`rolescape push` through the real huggingface_hub client, against a local HTTP server on 127.0.0.1
that speaks just enough of the Hub API (create repo, branch, YAML validation, preupload, commit) to
observe what is sent. Nothing leaves the machine."""

from __future__ import annotations

import base64
import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import yaml

from rolescape.builders.build import build
from rolescape.cli import main

TOKEN = "hf_" + "FakePushToken0123456789abcdef"


class FakeHub:
    """Records every request; answers the endpoints huggingface_hub uses for create_repo + upload_folder."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.created: list[dict] = []
        self.branches: list[str] = []
        self.validated: list[str] = []
        self.commits: list[dict] = []
        self.prs: list[dict] = []
        self.refuse_create = False
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _body(self) -> bytes:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                return gzip.decompress(body) if self.headers.get("Content-Encoding") == "gzip" else body

            def _send(self, code: int, obj: dict) -> None:
                data = json.dumps(obj).encode()
                self.send_response(code)
                if "error" in obj:  # where huggingface_hub reads the server's message from
                    self.send_header("X-Error-Message", obj["error"])
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                hub.requests.append(("GET", self.path, dict(self.headers)))
                if self.path.split("?")[0].endswith("/discussions/1") and hub.prs:
                    return self._send(200, hub.prs[0])
                if self.path.startswith("/api/datasets/") and "/revision/" in self.path:  # snapshot_download
                    data = b'{"error": "Repository not found"}'
                    self.send_response(404)
                    self.send_header("X-Error-Code", "RepoNotFound")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                self._send(404, {"error": "not faked"})

            def do_POST(self) -> None:
                body = self._body()
                hub.requests.append(("POST", self.path, dict(self.headers)))
                url = urlsplit(self.path)
                path, query = url.path, parse_qs(url.query)
                if path == "/api/repos/create":
                    if hub.refuse_create:
                        return self._send(403, {"error": f"You don't have the rights (token {TOKEN})"})
                    d = json.loads(body)
                    hub.created.append(d)
                    return self._send(200, {"url": f"{hub.url}/datasets/{d.get('organization')}/{d['name']}"})
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
                    hub.commits.append(
                        {"revision": revision, "header": header, "files": files, "create_pr": pr}
                    )
                    out = {"commitUrl": f"{hub.url}/datasets/me/rs/commit/c0ffee", "commitOid": "c0ffee"}
                    if pr:
                        out["pullRequestUrl"] = f"{hub.url}/datasets/me/rs/discussions/1"
                    return self._send(200, out)
                self._send(404, {"error": "not faked"})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def hub(monkeypatch, tmp_path):
    import huggingface_hub.constants as C

    fake = FakeHub()
    monkeypatch.setattr(C, "ENDPOINT", fake.url)
    monkeypatch.setattr(C, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    yield fake
    fake.close()


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("push") / "demo"
    build("demo", out)
    return out


def _local_files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_push_creates_the_repo_and_commits_exactly_the_build(hub: FakeHub, built: Path, capsys):
    assert main(["push", str(built), "--repo-id", "me/rs", "--private"]) == 0
    out = capsys.readouterr()
    assert "pushed 23 files" in out.out and "/commit/c0ffee" in out.out
    assert TOKEN not in out.out + out.err
    # create_repo: a private dataset repo
    (created,) = hub.created
    assert (created["organization"], created["name"], created["type"]) == ("me", "rs", "dataset")
    assert created.get("visibility") == "private" or created.get("private") is True
    # one commit on main with every file of the build, byte for byte, manifest included
    (commit,) = hub.commits
    assert commit["revision"] == "main" and not commit["create_pr"]
    manifest = json.loads((built / "manifest.json").read_text())
    assert commit["header"]["summary"] == f"rolescape build {manifest['build_id'][:12]}"
    assert commit["files"] == _local_files(built)
    # the token travelled as the bearer credential of every authenticated call
    posts = [h for m, _p, h in hub.requests if m == "POST"]
    assert posts and all(h.get("authorization", h.get("Authorization")) == f"Bearer {TOKEN}" for h in posts)
    # the card's YAML, as the Hub validates it, names one config per built config with its parquet files
    (card,) = hub.validated
    meta = yaml.safe_load(card.split("---\n")[1])
    assert {c["config_name"] for c in meta["configs"]} == set(manifest["configs"])


def test_push_to_a_branch_and_as_a_pull_request(hub: FakeHub, built: Path, capsys):
    assert main(["push", str(built), "--repo-id", "me/rs", "--revision", "v1"]) == 0
    assert hub.branches == ["v1"] and hub.commits[-1]["revision"] == "v1"
    assert main(["push", str(built), "--repo-id", "me/rs", "--create-pr"]) == 0
    # a pull request is opened, and the files are committed to its ref, not to main
    assert len(hub.prs) == 1 and hub.prs[0]["isPullRequest"]
    assert hub.commits[-1]["revision"] == "refs/pr/1" and hub.commits[-1]["files"] == _local_files(built)
    assert hub.branches == ["v1"]  # a PR creates no branch
    assert TOKEN not in capsys.readouterr().out


def test_push_failure_is_one_line_without_the_token(hub: FakeHub, built: Path, capsys):
    hub.refuse_create = True  # e.g. a token without write access to that namespace
    assert main(["push", str(built), "--repo-id", "me/rs"]) == 2
    err = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert len(err) == 1 and "upload to me/rs failed" in err[0]
    # the server's message (which echoed the token) is shown, with the token redacted
    assert "403" in err[0] and "You don't have the rights (token ***)" in err[0], err[0]
    assert TOKEN not in err[0]


def test_push_refuses_a_changed_build_before_any_network(hub: FakeHub, built: Path, tmp_path, capsys):
    import shutil

    folder = tmp_path / "changed"
    shutil.copytree(built, folder)
    (folder / "leakage.json").write_text("{}")
    assert main(["push", str(folder), "--repo-id", "me/rs"]) == 2
    assert "leakage.json: changed" in capsys.readouterr().err
    assert hub.requests == []


def test_hub_source_that_does_not_exist(hub: FakeHub, monkeypatch, tmp_path, capsys):
    """A reachable Hub that says the dataset repo does not exist: one line, not the offline advice."""
    import huggingface_hub.constants as C

    monkeypatch.setattr(C, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    out = tmp_path / "out"
    assert main(["build", "--source", "hf://datasets/nobody/missing", "--out", str(out)]) == 2
    err = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert len(err) == 1 and "hf://datasets/nobody/missing" in err[0] and "does not exist" in err[0], err
    assert "no connection" not in err[0] and not out.exists()
    assert any("/api/datasets/nobody/missing/revision/" in p for _m, p, _h in hub.requests)
