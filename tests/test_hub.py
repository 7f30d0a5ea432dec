"""rolescape/hub.py: both push commands print one report from the library, the repo-id check, and the
token masked in every error even when it did not come from the environment."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from rolescape.builders.build import build
from rolescape.cli import main
from rolescape.errors import InputError
from rolescape.hub import check_repo_id, push_failed
from tests.fake_hub import TOKEN, FakeHub, running_fake_hub
from tests.fixtures.runs import write_run

HEAD = re.compile(r"^dry run: would upload (\d+) files \(([\d,]+) bytes\) to datasets/(\S+)$")
FILE = re.compile(r"^  (\S+)  (\d+) bytes  sha256 ([0-9a-f]{16})  \((.+)\)$")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("hub") / "demo"
    build("demo", out)
    return out


def _report(capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    assert main(list(argv)) == 0
    out, err = capsys.readouterr()
    assert TOKEN not in out + err
    return out.splitlines()


def _shape(lines: list[str]) -> tuple[list[str], dict[str, tuple[int, str]]]:
    head = HEAD.match(lines[0])
    assert head, lines[0]
    files = {m.group(1): (int(m.group(2)), m.group(3)) for m in map(FILE.match, lines) if m}
    assert len(files) == int(head.group(1))
    assert sum(n for n, _ in files.values()) == int(head.group(2).replace(",", ""))
    labels = [ln.split(":")[0] for ln in lines[1:] if not FILE.match(ln)]
    return labels, files


def test_both_commands_print_the_same_dry_run_report(
    built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    run = write_run(tmp_path, "My Model", 0.1)
    build_labels, build_files = _shape(
        _report(capsys, "push", str(built), "--repo-id", "me/data", "--dry-run")
    )
    run_labels, run_files = _shape(
        _report(capsys, "push-results", str(run), "--repo-id", "me/results", "--dry-run")
    )
    # the same lines in the same order; push-results adds its config line
    assert build_labels == ["repository", "revision", "commit message", "token"]
    assert run_labels == ["repository", "revision", "config", "commit message", "token"]
    # every size and hash is the file's own: the build folder's files, byte for byte
    for rel, (n, sha) in build_files.items():
        data = (built / rel).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()[:16]) == (n, sha), rel
    assert sorted(run_files) == sorted(
        [
            "README.md",
            "data/My_Model/latest.parquet",
            "results/My_Model/results.json",
            "results/My_Model/items.jsonl",
        ]
    )
    data = (run / "results.json").read_bytes()
    assert run_files["results/My_Model/results.json"] == (len(data), hashlib.sha256(data).hexdigest()[:16])


def test_push_takes_the_token_from_token_env(
    built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with running_fake_hub(monkeypatch, tmp_path) as hub:
        monkeypatch.delenv("HF_TOKEN")
        monkeypatch.setenv("MY_HUB_TOKEN", TOKEN)
        lines = _report(capsys, "push", str(built), "--repo-id", "me/rs", "--token-env", "MY_HUB_TOKEN")
        assert isinstance(hub, FakeHub) and len(hub.commits) == 1
    assert lines[0].startswith("uploaded 23 files (") and "token: $MY_HUB_TOKEN" in lines
    assert lines[-1].startswith("pushed 23 files, commit: ") and "/commit/" in lines[-1]


def test_a_push_error_masks_the_token_it_was_given(monkeypatch: pytest.MonkeyPatch) -> None:
    """The token of `hf auth login` is in no environment variable: it is masked because it is passed."""
    monkeypatch.delenv("HF_TOKEN", raising=False)
    stored = "hf_StoredLoginToken987654321"
    err = push_failed("upload", "me/rs", RuntimeError(f"401 bad token {stored}\ntraceback line"), stored)
    assert str(err) == "upload to me/rs failed: RuntimeError: 401 bad token ***"


@pytest.mark.parametrize("bad", ["", "nope", "a/b/c", " me/rs", "me/", "-me/rs", "me/r s"])
def test_repo_id_must_be_owner_slash_name(bad: str) -> None:
    with pytest.raises(InputError, match="--repo-id must look like 'owner/name'"):
        check_repo_id(bad)
    assert check_repo_id("me/RoleScape20-audited.v2") == "me/RoleScape20-audited.v2"
