"""Issue 11, build side, through the CLI: the builder never reads outside its source (symlinks out or
looping refuse the build), `--out` inside the source or over a file is refused, a JSON file nested too
deeply is one line, a killed build's hidden `.partial` folder is removed by the next build, the build
does not depend on the source folder's name, and character folder names are NFC-normalised before
ids are derived (two spellings of one name are an error). Every refusal: exit 2, one stderr line that
names the file, no traceback, nothing left behind."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from rolescape.builders.build import build
from rolescape.cli import main
from tests.commands.test_cli import build_fails, run

CHAR = "data/personalized_data/train/Skyline-Tess Ray"


def _tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# ------------------------------------------------------------------------ reads stay inside the source


def test_symlinked_file_out_of_the_source_refuses_the_build(mini_release: Any, tmp_path, capsys):
    secret = tmp_path / "secret-profile.txt"
    secret.write_text("PRIVATE TEXT that must never reach a build\n")
    prof = mini_release.root / CHAR / "Tess Ray_full_profile.txt"
    prof.unlink()
    prof.symlink_to(secret)
    line = build_fails(
        capsys, mini_release.root, tmp_path / "out", "Tess Ray_full_profile.txt", "points outside the source"
    )
    assert "PRIVATE" not in line


def test_symlinked_folder_out_of_the_source_refuses_the_build(mini_release: Any, tmp_path, capsys):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "9.png").write_bytes(b"not ours")
    (mini_release.root / CHAR / "extra").symlink_to(outside, target_is_directory=True)
    build_fails(capsys, mini_release.root, tmp_path / "out", "Skyline-Tess Ray/extra", "points outside")


def test_symlink_into_the_flow_grpo_folder_is_checked_too(mini_release: Any, tmp_path, capsys):
    (mini_release.grpo / "stray.jsonl").symlink_to("/etc/hostname")
    build_fails(capsys, mini_release.root, tmp_path / "out", "stray.jsonl", "points outside")


def test_symlink_loop_in_the_source_refuses_the_build(mini_release: Any, tmp_path, capsys):
    loop = mini_release.root / CHAR / "loop.json"
    os.symlink(loop.name, loop)  # points at itself
    build_fails(capsys, mini_release.root, tmp_path / "out", "loop.json", "symlink loop")


def test_symlinks_that_stay_inside_the_source_are_followed(mini_release: Any, tmp_path, capsys):
    prof = mini_release.root / CHAR / "Tess Ray_full_profile.txt"
    keep = mini_release.root / "profiles" / "tess.txt"
    keep.parent.mkdir()
    shutil.move(prof, keep)
    prof.symlink_to(os.path.relpath(keep, prof.parent))
    rc, err = run(capsys, "build", "--source", str(mini_release.root), "--out", str(tmp_path / "out"))
    assert rc == 0, err


def test_dataset_info_path_outside_the_source_is_a_finding_not_a_read(mini_release: Any, tmp_path):
    (tmp_path / "outside.jsonl").write_text("{}\n{}\n")
    info = mini_release.root / "data" / "dataset_info.py"
    info.write_text(
        "DATASET_INFO = {'g': {\n"
        "  'a': {'jsonl_path': '../outside.jsonl', 'num_total_samples': 5},\n"
        f"  'b': {{'jsonl_path': '{tmp_path / 'outside.jsonl'}', 'num_total_samples': 5}},\n"
        "}}\n"
    )
    parsed = mini_release.parse()
    msgs = [f.message for f in parsed.findings if f.code == "RS013"]
    assert any("g.a: registered path '../outside.jsonl': escapes" in m for m in msgs), msgs
    assert any("g.b: registered path" in m and "must be relative" in m for m in msgs), msgs
    assert not [f for f in parsed.findings if f.code == "RS014"]  # never counted, so never read


# ------------------------------------------------------------------------------------------- --out


def test_out_inside_the_source_is_refused(mini_release: Any, tmp_path, capsys):
    build_fails(capsys, mini_release.root, mini_release.root / "built", "--out", "is inside --source")
    build_fails(capsys, mini_release.root, mini_release.data / "train" / "x", "is inside --source")


def test_out_that_contains_the_source_is_refused(mini_release: Any, tmp_path, capsys):
    rc, err = run(capsys, "build", "--source", str(mini_release.root), "--out", str(tmp_path))
    assert rc == 2 and len(err) == 1 and "contains --source" in err[0], err
    assert mini_release.root.is_dir()


@pytest.mark.parametrize("command", ["build", "score", "leaderboard"])
def test_out_that_is_an_existing_file_is_one_line(command: str, tmp_path, capsys):
    target = tmp_path / "taken"
    target.write_text("keep me")
    args = {
        "build": ["build", "--source", "demo", "--out", str(target)],
        "score": ["score", str(tmp_path / "p.jsonl"), "--data", str(tmp_path), "--out", str(target)],
        "leaderboard": ["leaderboard", str(tmp_path), "--out", str(target)],
    }[command]
    rc, err = run(capsys, *args)
    assert rc == 2 and len(err) == 1, err
    assert "--out" in err[0] and str(target) in err[0] and "exists and is not a folder" in err[0]
    assert target.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


# --------------------------------------------------------------------------------- deep JSON, .partial


def test_json_nested_100000_levels_is_one_line(mini_release: Any, tmp_path, capsys):
    mini_release.file("annotation.json").write_text("[" * 100_000 + "]" * 100_000)
    build_fails(capsys, mini_release.root, tmp_path / "out", "annotation.json", "nested too deeply")


def test_jsonl_line_nested_too_deeply_is_one_line(mini_release: Any, tmp_path, capsys):
    p = next(mini_release.grpo.glob("*.jsonl"))
    p.write_text('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    build_fails(capsys, mini_release.root, tmp_path / "out", p.name, "nested too deeply")


@pytest.mark.slow
def test_a_killed_builds_partial_folder_is_removed_by_the_next_build(demo_release: Path, tmp_path):
    """SIGKILL a real `rolescape build` while it writes; the next build removes its hidden folder."""
    out = tmp_path / "out"
    code = "import sys; from rolescape.cli import main; sys.exit(main(sys.argv[1:]))"
    args = [sys.executable, "-c", code, "build", "--source", str(demo_release), "--out", str(out)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(".out.*.partial/data")) and time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail("the build finished before it could be killed")
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    left = list(tmp_path.glob(".out.*.partial"))
    assert left and not out.exists(), "the kill did not leave the hidden folder this test is about"
    assert main(["build", "--source", str(demo_release), "--out", str(out)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo", "out"]  # demo: the source copy


def test_a_running_builds_partial_folder_is_left_alone(tmp_path):
    """A `.partial` whose owner process is alive (a concurrent build) is not removed."""
    live = tmp_path / f".out.{os.getpid()}.abcd1234.partial"
    live.mkdir()
    dead = tmp_path / ".out.999999999.abcd1234.partial"  # beyond pid_max: no such process
    dead.mkdir()
    other = tmp_path / ".other.999999999.abcd1234.partial"
    other.mkdir()
    build("demo", tmp_path / "out")
    assert live.is_dir() and other.is_dir() and not dead.exists()


# ------------------------------------------------------------------------- determinism and Unicode


def test_same_files_under_another_folder_name_build_byte_identical(demo_release: Path, tmp_path):
    other = tmp_path / "a-completely-different-name"
    shutil.copytree(demo_release, other)
    a, b = tmp_path / "a", tmp_path / "b"
    build(demo_release, a)
    build(other, b)
    assert _tree(a) == _tree(b)
    for name in ("README.md", "audit_report.md", "manifest.json"):
        assert "a-completely-different-name" not in (b / name).read_text()


def _rename_character(release: Path, old: str, new: str) -> None:
    for split in ("train", "test"):
        os.rename(
            release / "data/personalized_data" / split / old, release / "data/personalized_data" / split / new
        )


def test_nfd_folder_name_gets_the_id_of_its_nfc_spelling(mini_release: Any, tmp_path):
    nfc = unicodedata.normalize("NFC", "Skyline-Tess Ray Zoë")
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfc != nfd
    root = mini_release.root
    _rename_character(root, "Skyline-Tess Ray", nfc)
    ids_nfc = [c.id for c in mini_release.parse().characters]
    _rename_character(root, nfc, nfd)
    ids_nfd = [c.id for c in mini_release.parse().characters]
    assert ids_nfc == ids_nfd and len(ids_nfc) == 1


def test_nfc_and_nfd_spellings_together_are_an_error(demo_release: Path, tmp_path, capsys):
    base = demo_release / "data/personalized_data"
    nfc = unicodedata.normalize("NFC", "Café-Maple Crumb")
    nfd = unicodedata.normalize("NFD", nfc)
    for split in ("train", "test"):
        shutil.copytree(base / split / "Maple Crumb", base / split / nfc)
        shutil.copytree(base / split / "Maple Crumb", base / split / nfd)
    if len({p.name for p in (base / "train").iterdir()}) < 5:
        pytest.skip("this filesystem folds NFC and NFD names together")
    build_fails(capsys, demo_release, tmp_path / "out", "two Unicode forms")


def _hub_cache_snapshot(tmp_path: Path, bare: bool) -> Path:
    """The demo release laid out as huggingface_hub's cache: snapshot files are symlinks into blobs/."""
    from rolescape.builders import sources

    repo = tmp_path / "hub" / "datasets--Tangc03--RoleScape20"
    snap = repo / "snapshots" / "abc123"
    src = sources.resolve_demo().root / "data"
    base = src / "personalized_data" if bare else src
    for f in sorted(base.rglob("*")):
        if not f.is_file():
            continue
        data = f.read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = snap / ("" if bare else "data") / f.relative_to(base)
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.path.relpath(blob, link.parent), link)
    return snap


@pytest.mark.parametrize("bare", [False, True])
def test_hub_snapshot_symlinks_into_its_blob_store_are_inside(bare: bool, monkeypatch, tmp_path, capsys):
    """Every file of a Hub snapshot is a symlink into the repo's blobs/ (and a bare layout is wrapped
    by a symlinked view): all inside the repository's cache folder, so the build reads them; a link
    in the snapshot that leaves the cache folder still refuses the build."""
    snap = _hub_cache_snapshot(tmp_path, bare)
    monkeypatch.setattr("huggingface_hub.snapshot_download", lambda **kw: str(snap))
    rc, err = run(
        capsys, "build", "--source", "hf://datasets/Tangc03/RoleScape20", "--out", str(tmp_path / "a")
    )
    assert rc == 0, err
    char = snap / ("" if bare else "data/personalized_data") / "train" / "Maple Crumb"
    (tmp_path / "secret.txt").write_text("outside the cache")
    os.symlink(tmp_path / "secret.txt", char / "Maple Crumb_full_profile.txt.orig")
    out = tmp_path / "b"
    rc, err = run(capsys, "build", "--source", "hf://datasets/Tangc03/RoleScape20", "--out", str(out))
    assert rc == 2 and len(err) == 1 and "Maple Crumb_full_profile.txt.orig" in err[0], err
    assert "points outside the source" in err[0] and not out.exists()
