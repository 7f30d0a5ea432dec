"""`rolescape push-results`: the dry-run plan, the card, the per-item parquet, the upload through the
real huggingface_hub client against the local fake Hub of tests/fake_hub.py, and that the token never
appears in any output."""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml

from rolescape.cli import main
from rolescape.errors import InputError
from rolescape.leaderboard.hub import PushError, build_card, config_name_for, plan_push, push_results
from rolescape.leaderboard.load import load_results
from tests.fake_hub import FakeHub, running_fake_hub
from tests.fixtures.runs import write_run

SECRET = "hf_TOPSECRETtoken1234567890"


@pytest.fixture()
def run(tmp_path: Path) -> Path:
    return write_run(tmp_path, "My Model/v1", 0.1)


@pytest.fixture()
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*a: Any, **k: Any) -> None:
        raise AssertionError("network used")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def _front_matter(card: str) -> dict[str, Any]:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n")[1])


def test_config_names():
    assert config_name_for("My Model/v1") == "My_Model_v1"
    assert config_name_for("qwen2.5-vl") == "qwen2.5-vl"
    assert config_name_for("///") == "model"


def test_dry_run_lists_exactly_the_upload(
    run: Path, monkeypatch: pytest.MonkeyPatch, no_network: None, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setenv("HF_TOKEN", SECRET)
    rc = main(["push-results", str(run), "--repo-id", "me/rolescape-results", "--dry-run"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert SECRET not in out + err
    plan = plan_push(run, "me/rolescape-results")
    assert [f.path_in_repo for f in plan.files] == [
        "README.md",
        "data/My_Model_v1/latest.parquet",
        "results/My_Model_v1/results.json",
        "results/My_Model_v1/items.jsonl",
    ]
    for f in plan.files:
        assert f"{f.path_in_repo}  {len(f.data)} bytes  sha256 {f.sha256[:16]}" in out
    assert "token: $HF_TOKEN" in out and "would upload 4 files" in out
    # the plan is deterministic
    again = plan_push(run, "me/rolescape-results")
    assert [f.data for f in again.files] == [f.data for f in plan.files]


def test_token_env_var(run: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    monkeypatch.setenv("MY_HUB_TOKEN", SECRET)
    rc = main(["push-results", str(run), "--repo-id", "me/r", "--dry-run", "--token-env", "MY_HUB_TOKEN"])
    out, err = capsys.readouterr()
    assert rc == 0 and "token: $MY_HUB_TOKEN" in out and SECRET not in out + err
    rc = main(["push-results", str(run), "--repo-id", "me/r", "--dry-run", "--token-env", "UNSET_VAR_X"])
    out, err = capsys.readouterr()
    assert rc == 2 and "UNSET_VAR_X is not set" in err


def test_card_and_parquet(run: Path):
    plan = plan_push(run, "me/rolescape-results")
    files = {f.path_in_repo: f.data for f in plan.files}
    card = files["README.md"].decode()
    meta = _front_matter(card)
    assert meta["configs"] == [
        {
            "config_name": "My_Model_v1",
            "data_files": [{"split": "latest", "path": "data/My_Model_v1/latest.parquet"}],
        }
    ]
    res = load_results(run)
    assert res.dataset.manifest_sha256 in card and 'load_dataset("me/rolescape-results"' in card
    assert "| roleplay | clip_i |" in card and "Profile `offline`" in card
    table = pq.read_table(io.BytesIO(files["data/My_Model_v1/latest.parquet"]))
    assert table.column_names == [
        "model",
        "id",
        "task",
        "character",
        "key",
        "clip_i",
        "clip_i_novel",
        "mcq_acc",
        "persona_sim",
        "ref_sim",
        "info",
    ]
    rows = table.to_pylist()
    lines = (run / "items.jsonl").read_text().splitlines()
    assert len(rows) == len(lines)
    assert [(r["task"], r["id"]) for r in rows] == sorted((r["task"], r["id"]) for r in rows)
    first = json.loads(lines[0])
    got = next(r for r in rows if r["id"] == first["id"])
    assert got["model"] == "My Model/v1" and got["ref_sim"] == first["metrics"]["ref_sim"]
    assert got["mcq_acc"] is None  # does not apply to roleplay
    assert files["results/My_Model_v1/results.json"] == (run / "results.json").read_bytes()


def test_card_lists_every_config(run: Path, tmp_path: Path):
    other = load_results(write_run(tmp_path / "o", "other", 0.0))
    card = build_card("me/r", {"My_Model_v1": load_results(run), "other": other, "broken": None})
    meta = _front_matter(card)
    assert [c["config_name"] for c in meta["configs"]] == ["My_Model_v1", "broken", "other"]
    assert "## broken\n\n(results.json not readable)" in card


REPO = "me/rolescape-results"


@pytest.fixture()
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeHub]:
    """The real huggingface_hub client against a local fake Hub, with SECRET as HF_TOKEN."""
    with running_fake_hub(monkeypatch, tmp_path, token=SECRET) as fake:
        yield fake


def _push(run: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = main(["push-results", str(run), "--repo-id", REPO, *args])
    out, err = capsys.readouterr()
    assert SECRET not in out + err
    return rc, out, err


def _configs(card: bytes) -> list[dict[str, Any]]:
    return _front_matter(card.decode())["configs"]


def test_push_creates_a_dataset_repo_and_commits_exactly_the_plan(
    run: Path, hub: FakeHub, capsys: pytest.CaptureFixture[str]
):
    rc, out, err = _push(run, capsys, "--private")
    assert rc == 0, err
    # create_repo: a private dataset repository
    (created,) = hub.created
    assert (created["organization"], created["name"], created["type"]) == (
        "me",
        "rolescape-results",
        "dataset",
    )
    assert created.get("visibility") == "private" or created.get("private") is True
    # one commit on main holding exactly the planned files, byte for byte
    plan = plan_push(run, REPO, private=True)
    planned = {f.path_in_repo: f.data for f in plan.files}
    assert sorted(planned) == [
        "README.md",
        "data/My_Model_v1/latest.parquet",
        "results/My_Model_v1/items.jsonl",
        "results/My_Model_v1/results.json",
    ]
    (commit,) = hub.commits
    assert (commit["repo"], commit["revision"], commit["create_pr"]) == (f"dataset/{REPO}", "main", False)
    assert commit["header"]["summary"] == plan.commit_message
    assert commit["files"] == planned
    assert hub.files(REPO) == planned
    assert planned["results/My_Model_v1/results.json"] == (run / "results.json").read_bytes()
    assert planned["results/My_Model_v1/items.jsonl"] == (run / "items.jsonl").read_bytes()
    # the card, as the Hub validated it: one config, split `latest`
    assert hub.validated == [planned["README.md"].decode()]
    assert _configs(planned["README.md"]) == [
        {
            "config_name": "My_Model_v1",
            "data_files": [{"split": "latest", "path": "data/My_Model_v1/latest.parquet"}],
        }
    ]
    # the token travelled only as the bearer credential
    posts = [h for m, _p, h in hub.requests if m == "POST"]
    assert posts and all(h.get("authorization", h.get("Authorization")) == f"Bearer {SECRET}" for h in posts)
    assert "uploaded 4 files" in out and "token: $HF_TOKEN" in out and "commit: " in out


def test_a_second_model_keeps_the_configs_already_in_the_repo(
    run: Path, hub: FakeHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    other = write_run(tmp_path / "o", "other", 0.0)
    assert _push(other, capsys)[0] == 0
    first = dict(hub.files(REPO))
    rc, _out, err = _push(run, capsys)
    assert rc == 0, err
    assert len(hub.created) == 2  # the second create met the existing repository, and went on
    # the second commit is the plan made with the repository's config `other`, read back from the Hub
    planned = {
        f.path_in_repo: f.data for f in plan_push(run, REPO, others={"other": load_results(other)}).files
    }
    assert hub.commits[-1]["files"] == planned
    assert any("/resolve/main/results/other/results.json" in p for m, p, _h in hub.requests if m == "GET")
    card = hub.files(REPO)["README.md"]
    assert card == planned["README.md"]
    assert _configs(card) == [
        {"config_name": c, "data_files": [{"split": "latest", "path": f"data/{c}/latest.parquet"}]}
        for c in ("My_Model_v1", "other")
    ]
    assert "## other\n\n- Model name: `other`" in card.decode()
    # the other model's files are untouched, and the repository holds both models
    assert {k: v for k, v in hub.files(REPO).items() if "/other/" in k} == {
        k: v for k, v in first.items() if "/other/" in k
    }
    assert set(hub.files(REPO)) == set(first) | set(planned)


def test_an_existing_card_and_unreadable_config_are_kept(
    run: Path, hub: FakeHub, capsys: pytest.CaptureFixture[str]
):
    old_card = build_card(REPO, {"legacy": None}).encode()
    hub.seed(REPO, {"README.md": old_card, "data/legacy/latest.parquet": b"PAR1 not really"})
    rc, _out, err = _push(run, capsys)
    assert rc == 0, err
    card = hub.files(REPO)["README.md"]
    assert card != old_card
    assert [c["config_name"] for c in _configs(card)] == ["My_Model_v1", "legacy"]
    assert "## legacy\n\n(results.json not readable)" in card.decode()
    assert hub.files(REPO)["data/legacy/latest.parquet"] == b"PAR1 not really"


def test_a_refused_push_is_one_red_line_without_the_token(
    run: Path, hub: FakeHub, capsys: pytest.CaptureFixture[str]
):
    hub.refuse_create = True  # 403, and the server's message echoes the token
    rc, out, err = _push(run, capsys)
    assert rc == 2
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: push to me/rolescape-results failed:"), lines
    assert "403 Forbidden" in lines[0] and "You don't have the rights (token ***)" in lines[0], lines[0]
    assert out == "" and hub.commits == [] and f"dataset/{REPO}" not in hub.repos


def test_push_refusals(run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import huggingface_hub

    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    with pytest.raises(PushError, match="no Hugging Face token"):
        push_results(run, "me/r")
    with pytest.raises(InputError, match="owner/name"):
        plan_push(run, "not a repo")
    (run / "items.jsonl").unlink()
    with pytest.raises(InputError, match="per-item log is part of a push"):
        plan_push(run, "me/r")
