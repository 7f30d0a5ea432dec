"""`rolescape push` through the real huggingface_hub client, against the fake Hub of tests/fake_hub.py (a
local HTTP server on 127.0.0.1 that speaks just enough of the Hub API to observe what is sent). Nothing
leaves the machine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from rolescape.builders.build import build
from rolescape.cli import main
from tests.fake_hub import TOKEN, FakeHub, running_fake_hub


@pytest.fixture
def hub(monkeypatch, tmp_path):
    with running_fake_hub(monkeypatch, tmp_path) as fake:
        yield fake


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


def test_push_over_a_previous_build_replaces_its_content_named_data_files(hub: FakeHub, built: Path):
    """Data files are named by content, so a re-push must delete the previous build's files under data/
    (else the repository keeps every old parquet); the card and everything else are replaced as before."""
    old = {
        "data/characters/full-00000-of-00001.parquet": b"format-1 file",
        "data/t2i/test-0123456789abcdef.parquet": b"an older build",
        "notes.txt": b"not ours: kept",
    }
    hub.seed("me/rs", old)
    assert main(["push", str(built), "--repo-id", "me/rs"]) == 0
    remote = hub.files("me/rs")
    local = _local_files(built)
    assert {k: v for k, v in remote.items() if k.startswith("data/")} == {
        k: v for k, v in local.items() if k.startswith("data/")
    }
    assert remote["notes.txt"] == b"not ours: kept" and remote["manifest.json"] == local["manifest.json"]
    assert sorted(hub.commits[-1]["deleted"]) == sorted(k for k in old if k.startswith("data/"))


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
