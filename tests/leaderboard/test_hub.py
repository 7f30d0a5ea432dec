"""`rolescape push-results`: the dry-run plan, the card, the per-item parquet, the upload calls (against a
stand-in for HfApi, no network), and that the token never appears in any output."""

from __future__ import annotations

import io
import json
import socket
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml

from rolescape.cli import main
from rolescape.errors import InputError
from rolescape.leaderboard.hub import PushError, build_card, config_name_for, plan_push, push_results
from rolescape.leaderboard.load import load_results

from .helpers import write_run

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


class FakeApi:
    """Records what push_results asks of HfApi."""

    instances: list[FakeApi] = []

    def __init__(
        self, token: str | None = None, fail: Exception | None = None, existing: dict[str, Path] | None = None
    ):
        self.token = token
        self.fail = fail
        self.existing = existing or {}
        self.calls: list[tuple[str, Any]] = []
        FakeApi.instances.append(self)

    def create_repo(self, repo_id: str, **kw: Any) -> None:
        if self.fail:
            raise self.fail
        self.calls.append(("create_repo", (repo_id, kw)))

    def list_repo_files(self, repo_id: str, **kw: Any) -> list[str]:
        files = []
        for cfg in self.existing:
            files += [f"data/{cfg}/latest.parquet", f"results/{cfg}/results.json"]
        return ["README.md", *files]

    def hf_hub_download(self, repo_id: str, filename: str, **kw: Any) -> str:
        return str(self.existing[filename.split("/")[1]])

    def create_commit(self, repo_id: str, operations: Any, **kw: Any) -> Any:
        self.calls.append(("create_commit", (repo_id, list(operations), kw)))
        return SimpleNamespace(commit_url=f"https://hub.example/datasets/{repo_id}/commit/0123")


def test_upload_path_with_a_stand_in_api(run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HF_TOKEN", SECRET)
    other = write_run(tmp_path / "o", "other", 0.0) / "results.json"
    api = FakeApi(existing={"other": other})
    rep = push_results(run, "me/r", private=True, api=api)
    (name, (repo, kw)), (name2, (repo2, ops, kw2)) = api.calls
    assert (name, repo, kw) == (
        "create_repo",
        "me/r",
        {"repo_type": "dataset", "private": True, "exist_ok": True},
    )
    assert name2 == "create_commit" and kw2["repo_type"] == "dataset"
    assert [o.path_in_repo for o in ops] == [f.path_in_repo for f in rep.plan.files]
    card = next(o for o in ops if o.path_in_repo == "README.md").path_or_fileobj
    card = card.getvalue() if hasattr(card, "getvalue") else card
    assert [c["config_name"] for c in _front_matter(card.decode())["configs"]] == ["My_Model_v1", "other"]
    assert rep.commit_url and rep.token_source == "$HF_TOKEN"


def test_upload_errors_never_show_the_token(
    run: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    import huggingface_hub

    monkeypatch.setenv("HF_TOKEN", SECRET)
    boom = RuntimeError(f"401 Unauthorized for token {SECRET}\nmore detail")
    monkeypatch.setattr(huggingface_hub, "HfApi", lambda token=None: FakeApi(token=token, fail=boom))
    rc = main(["push-results", str(run), "--repo-id", "me/r"])
    out, err = capsys.readouterr()
    assert rc == 2
    assert SECRET not in out + err
    assert "push to me/r failed: RuntimeError: 401 Unauthorized for token ***" in err
    assert FakeApi.instances[-1].token == SECRET  # the token did reach the client


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
