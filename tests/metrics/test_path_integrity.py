"""Issue 11 on the scoring side, through the CLI: paths that are not paths (NUL, 300-character names,
symlink loops) and a predictions path that is a folder are one line each; `score` verifies the built
files it reads against manifest.json (an edited or truncated parquet is refused with its name, before
anything is scored); a results.json `items_file` may only point inside its own run folder
(`leaderboard`, `push-results`); and an old-layout (format 1) build still validates and scores."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from rolescape.cli import main
from rolescape.dataset import BuiltDataset, parquet_relpath, verify_cache_path
from rolescape.io import sha256_file
from tests.fixtures.runs import write_run
from tests.fixtures.tiny import make_tiny_dataset, png_bytes, write_predictions

T2I0 = "t2i/bo/0"


def _run(capsys, *args: str) -> tuple[int, list[str], str]:
    rc = main(list(args))
    cap = capsys.readouterr()
    return rc, [x for x in cap.err.splitlines() if x.strip()], cap.out


def _single_error(rc: int, err: list[str]) -> str:
    assert rc == 2, err
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert not any("Traceback" in x for x in err)
    return err[0]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_dataset(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(autouse=True)
def _own_verify_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


def _mcq_predictions(built: Path, path: Path) -> Path:
    """Every knowledge MCQ item answered "A" (no model needed to score it)."""
    ids = [r["id"] for r in BuiltDataset(built).task_items("knowledge_mcq")]
    return write_predictions(path, [{"id": i, "choice": "A"} for i in ids])


# ---------------------------------------------------------------------------- paths that are not paths


@pytest.mark.parametrize("command", ["validate-predictions", "score"])
def test_nul_long_name_and_loop_in_image_paths_are_problems_not_tracebacks(
    command: str, tiny: Path, tmp_path: Path, capsys
) -> None:
    pdir = tmp_path / "preds"
    pdir.mkdir()
    (pdir / "ok.png").write_bytes(png_bytes())
    os.symlink("loop.png", pdir / "loop.png")
    rows = [
        {"id": "t2i/bo/0", "image": "a\x00b.png"},
        {"id": "t2i/bo/1", "image": "x" * 300 + ".png"},
        {"id": "t2i/chandler/0", "image": "loop.png"},
        {"id": "t2i/chandler/1", "image": "ok.png"},
    ]
    p = write_predictions(pdir / "predictions.jsonl", rows)
    args = [command, str(p), "--data", str(tiny)]
    if command == "score":
        args += ["--out", str(tmp_path / "run"), "--profile", "offline"]
    rc = main(args)
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err, err
    lines = [x for x in err.splitlines() if x.strip()]
    assert any(":1: id 't2i/bo/0': image 'a\\x00b.png': contains a NUL character" in x for x in lines), lines
    assert any(":2: id 't2i/bo/1': image 'xxx" in x and "longer than 255 bytes" in x for x in lines), lines
    assert any(":3: id 't2i/chandler/0': image 'loop.png': is a symlink loop" in x for x in lines), lines
    assert not any("t2i/chandler/1" in x for x in lines)
    assert not (tmp_path / "run" / "results.json").exists()


def test_predictions_path_that_is_a_folder_is_named_as_a_folder(tiny: Path, tmp_path: Path, capsys) -> None:
    for args in (
        ["validate-predictions", str(tmp_path), "--data", str(tiny)],
        ["score", str(tmp_path), "--data", str(tiny), "--out", str(tmp_path / "r")],
    ):
        rc, err, _ = _run(capsys, *args)
        line = _single_error(rc, err)
        assert str(tmp_path) in line and "is a folder, not a file" in line, line
        assert "not found" not in line


def test_image_that_is_a_folder_is_named_as_a_folder(tiny: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "sub.png").mkdir()
    p = write_predictions(tmp_path / "predictions.jsonl", [{"id": T2I0, "image": "sub.png"}])
    rc = main(["validate-predictions", str(p), "--data", str(tiny)])
    err = capsys.readouterr().err
    assert rc == 2 and "image 'sub.png': is a folder, not a file" in err, err


def test_data_path_with_a_very_long_name_is_one_line(tmp_path: Path, capsys) -> None:
    p = write_predictions(tmp_path / "p.jsonl", [{"id": T2I0, "image": "x.png"}])
    rc, err, _ = _run(capsys, "validate-predictions", str(p), "--data", str(tmp_path / ("d" * 300)))
    assert "longer than 255 bytes" in _single_error(rc, err)


# ------------------------------------------------------------------------------- integrity of the data


def test_score_verifies_the_build_and_caches_the_hashes(demo_built: Path, tmp_path: Path, capsys) -> None:
    p = _mcq_predictions(demo_built, tmp_path / "p" / "predictions.jsonl")
    rc, err, _ = _run(capsys, "score", str(p), "--data", str(demo_built), "--out", str(tmp_path / "run"))
    assert rc == 0, err
    res = json.loads((tmp_path / "run" / "results.json").read_text())
    assert res["dataset"]["manifest_sha256"] == sha256_file(demo_built / "manifest.json")
    ds = BuiltDataset(demo_built)
    ds.task_items("knowledge_mcq")
    rel = ds.data_relpath("knowledge_mcq", "test")
    manifest = json.loads((demo_built / "manifest.json").read_text())
    assert ds.verified == {rel: manifest["files"][rel]["sha256"]}
    cache = json.loads(verify_cache_path().read_text())
    assert manifest["files"][rel]["sha256"] in cache.values()


def test_parquet_edited_in_place_is_refused_with_its_name(demo_built: Path, tmp_path: Path, capsys) -> None:
    built = tmp_path / "built"
    shutil.copytree(demo_built, built)
    p = _mcq_predictions(built, tmp_path / "p" / "predictions.jsonl")
    rel = BuiltDataset(built).data_relpath("knowledge_mcq", "test")
    assert rel is not None
    # hash it once (as a first score would), then edit one byte in place: same size, same mtime
    BuiltDataset(built).task_items("knowledge_mcq")
    f = built / rel
    st = f.stat()
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0xFF
    f.write_bytes(bytes(data))
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    rc, err, _ = _run(capsys, "score", str(p), "--data", str(built), "--out", str(tmp_path / "run"))
    line = _single_error(rc, err)
    assert rel in line and "changed since it was built" in line and "sha256" in line
    assert not (tmp_path / "run").exists()


def test_truncated_parquet_is_one_line_not_arrow_invalid(demo_built: Path, tmp_path: Path, capsys) -> None:
    built = tmp_path / "built"
    shutil.copytree(demo_built, built)
    p = _mcq_predictions(built, tmp_path / "p" / "predictions.jsonl")
    rel = BuiltDataset(built).data_relpath("knowledge_mcq", "test")
    assert rel is not None
    f = built / rel
    f.write_bytes(f.read_bytes()[:100])
    rc, err, _ = _run(capsys, "score", str(p), "--data", str(built), "--out", str(tmp_path / "run"))
    line = _single_error(rc, err)
    assert rel in line and "changed since it was built" in line and "bytes" in line
    # the manifest updated to match (so the hash check passes): still one line, now from the reader
    m = json.loads((built / "manifest.json").read_text())
    m["files"][rel] = {"bytes": f.stat().st_size, "sha256": sha256_file(f)}
    (built / "manifest.json").write_text(json.dumps(m))
    rc, err, _ = _run(capsys, "score", str(p), "--data", str(built), "--out", str(tmp_path / "run"))
    line = _single_error(rc, err)
    assert rel in line and "not a readable parquet file" in line and "ArrowInvalid" not in line


def test_manifest_data_file_pointing_outside_the_build_is_refused(
    demo_built: Path, tmp_path: Path, capsys
) -> None:
    built = tmp_path / "built"
    shutil.copytree(demo_built, built)
    p = _mcq_predictions(built, tmp_path / "p" / "predictions.jsonl")
    m = json.loads((built / "manifest.json").read_text())
    m["data_files"]["knowledge_mcq"]["test"] = "../elsewhere.parquet"
    (built / "manifest.json").write_text(json.dumps(m))
    rc, err, _ = _run(capsys, "validate-predictions", str(p), "--data", str(built))
    line = _single_error(rc, err)
    assert "manifest.json" in line and "'../elsewhere.parquet': escapes" in line


def _to_legacy_layout(built: Path) -> None:
    """Rewrite a build into the format-1 layout (fixed data file names, no `data_files`)."""
    m = json.loads((built / "manifest.json").read_text())
    for config, splits in m.pop("data_files").items():
        for split, rel in splits.items():
            old = parquet_relpath(config, split)
            os.rename(built / rel, built / old)
            m["files"][old] = m["files"].pop(rel)
    m["format_version"] = 1
    (built / "manifest.json").write_text(json.dumps(m, indent=2, sort_keys=True))


def test_old_layout_build_still_validates_and_scores(demo_built: Path, tmp_path: Path, capsys) -> None:
    built = tmp_path / "old"
    shutil.copytree(demo_built, built)
    _to_legacy_layout(built)
    rc, err, out = _run(capsys, "validate", str(built))
    assert rc == 0, err
    assert "older rolescape" in out and "rolescape build --overwrite" in out
    p = _mcq_predictions(built, tmp_path / "p" / "predictions.jsonl")
    rc, err, _ = _run(capsys, "score", str(p), "--data", str(built), "--out", str(tmp_path / "run"))
    assert rc == 0, err
    assert BuiltDataset(built).legacy_layout


# ------------------------------------------------------------------------------ items_file confinement


@pytest.mark.parametrize("items_file", ["/etc/passwd", "../other/items.jsonl", "a\x00b", "loop.jsonl"])
@pytest.mark.parametrize("command", ["leaderboard", "push-results"])
def test_items_file_must_stay_inside_its_run_folder(items_file: str, command: str, tmp_path: Path, capsys):
    run = write_run(tmp_path, "m", 0.1)
    (tmp_path / "other").mkdir()
    shutil.copy(run / "items.jsonl", tmp_path / "other" / "items.jsonl")
    os.symlink("loop.jsonl", run / "loop.jsonl")
    obj = json.loads((run / "results.json").read_text())
    obj["items_file"] = items_file
    (run / "results.json").write_text(json.dumps(obj))
    args = {
        "leaderboard": ["leaderboard", str(run), "--out", str(tmp_path / "board")],
        "push-results": ["push-results", str(run), "--repo-id", "me/r", "--dry-run"],
    }[command]
    rc, err, out = _run(capsys, *args)
    line = _single_error(rc, err)
    assert "results.json" in line and "items_file" in line
    assert any(w in line for w in ("must be relative", "escapes", "NUL", "symlink loop")), line
    assert "root:" not in out + line  # nothing of /etc/passwd
    assert not (tmp_path / "board").exists()


def test_items_file_inside_the_run_folder_is_accepted(tmp_path: Path, capsys) -> None:
    run = write_run(tmp_path, "m", 0.1)
    (run / "logs").mkdir()
    shutil.move(run / "items.jsonl", run / "logs" / "items.jsonl")
    obj = json.loads((run / "results.json").read_text())
    obj["items_file"] = "logs/../logs/items.jsonl"
    (run / "results.json").write_text(json.dumps(obj))
    rc, err, _ = _run(capsys, "leaderboard", str(run), "--out", str(tmp_path / "board"), "--no-plots")
    assert rc == 0, err
