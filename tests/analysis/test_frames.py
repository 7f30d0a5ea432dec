"""`rolescape.analysis`: the frames behind the leaderboard, on runs scored by the real engine and on
written fixtures (a skipped metric, a partial run), and `--format parquet` through the CLI."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from rolescape.analysis import (
    ITEMS_SCHEMA,
    LONG_SCHEMA,
    RESULTS_SCHEMA,
    SKIPPED_SCHEMA,
    items_frame,
    results_frame,
    skipped_frame,
)
from rolescape.cli import main
from tests.fixtures.runs import write_run


def _dtypes(frame) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {k: str(v) for k, v in frame.schema.items()}


def _expect(schema: dict[str, str]) -> dict[str, str]:
    import polars as pl

    return {k: str(getattr(pl, v)) for k, v in schema.items()}


@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The packaged demo, built, answered by two prior baselines and scored by the engine (MCQ family)."""
    from rolescape.baselines import run_baseline
    from rolescape.builders.build import build
    from rolescape.metrics.engine import score

    root = tmp_path_factory.mktemp("demo-runs")
    built = root / "built"
    build("demo", built)
    runs = []
    for name in ("prior", "prior-longest"):
        pred = root / name / "predictions.jsonl"
        run_baseline(name, built, pred)
        score(pred, built, out_dir=root / "runs" / name, families=["mcq"], progress=False, name=name)
        runs.append(root / "runs" / name)
    return runs


def test_importing_rolescape_imports_no_polars():
    code = (
        "import sys, rolescape, rolescape.cli, rolescape.analysis, rolescape.leaderboard, "
        "rolescape.leaderboard.render, rolescape.leaderboard.tables\n"
        "print('polars' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_frames_on_demo_runs(demo_runs: list[Path]):
    items = items_frame(demo_runs)
    assert _dtypes(items) == _expect(ITEMS_SCHEMA)
    # row count read independently: every (item, metric) key of the last line of each item
    expected = 0
    for run in demo_runs:
        last = {}
        for line in (run / "items.jsonl").read_text().splitlines():
            obj = json.loads(line)
            last[(obj["task"], obj["id"])] = obj
        expected += sum(len(o["metrics"]) for o in last.values())
        n_values = sum(v is not None for o in last.values() for v in o["metrics"].values())
        sub = items.filter(items["model"] == run.name)
        assert sub["value"].is_not_null().sum() == n_values
        assert set(sub["task"].unique()) == {t for t, _ in last}
    assert items.height == expected > 0
    res = results_frame(demo_runs)
    assert _dtypes(res) == _expect(RESULTS_SCHEMA)
    expected = 0
    for run in demo_runs:
        obj = json.loads((run / "results.json").read_text())
        for tr in obj["tasks"].values():
            expected += sum(1 + len(s["per_character"]) for s in tr["metrics"].values())
    assert res.height == expected
    macro = res.filter(res["character"].is_null() & (res["task"] == "knowledge_mcq"))
    obj = json.loads((demo_runs[0] / "results.json").read_text())
    row = macro.filter((macro["model"] == "prior") & (macro["metric"] == "mcq_acc")).row(0, named=True)
    want = obj["tasks"]["knowledge_mcq"]
    assert row["mean"] == want["metrics"]["mcq_acc"]["mean"] and row["coverage"] == want["coverage"]
    assert row["manifest_sha256"] == obj["dataset"]["manifest_sha256"] and row["partial"] is False


def test_skipped_metric_and_partial_run(tmp_path: Path):
    from rolescape.schemas.results import SkippedMetric

    full = write_run(
        tmp_path, "full", 0.1, skipped=[SkippedMetric(task="roleplay", metric="face_sim", reason="x")]
    )
    part = write_run(tmp_path, "part", 0.0, tasks=("knowledge_mcq",))
    obj = json.loads((part / "results.json").read_text())
    obj.update(limit=2, partial=True)
    (part / "results.json").write_text(json.dumps(obj))
    items = items_frame([full, part])
    assert "face_sim" not in set(items["metric"])  # a skipped metric has no rows, not zeros
    by_run = {r: g for (r,), g in items.group_by("run")}
    assert set(by_run) == {"full", "part (partial)"}
    assert by_run["part (partial)"]["partial"].all() and not by_run["full"]["partial"].any()
    assert set(by_run["part (partial)"]["task"]) == {"knowledge_mcq"}
    res = results_frame([full, part])
    assert res.filter(res["partial"])["run"].unique().to_list() == ["part (partial)"]
    skipped = skipped_frame([full, part])
    assert _dtypes(skipped) == _expect(SKIPPED_SCHEMA)
    assert skipped.rows() == [("full", "roleplay", "face_sim", "x")]


def test_model_a_vs_b_on_common_items_per_character(runs: list[Path]):
    """The README recipe, checked against a computation from items.jsonl by hand."""
    import polars as pl

    items = items_frame(runs).drop_nulls("value")
    a = items.filter(pl.col("model") == "strong")
    b = items.filter(pl.col("model") == "weak")
    both = a.join(b, on=["task", "metric", "item_id"], suffix="_b")  # the items both answered
    per_char = (
        both.group_by("task", "metric", "character")
        .agg(diff=(pl.col("value") - pl.col("value_b")).mean(), n=pl.len())
        .sort("task", "metric", "character")
    )
    got = {(t, m, c): v for t, m, c, v, _ in per_char.iter_rows()}
    assert per_char["n"].sum() == both.height

    def load(name: str) -> dict[tuple[str, str, str], tuple[str, float]]:
        out = {}
        for line in (runs[0].parent / name / "items.jsonl").read_text().splitlines():
            o = json.loads(line)
            for m, v in o["metrics"].items():
                if v is not None:
                    out[(o["task"], m, o["id"])] = (o["character"], v)
        return out

    sa, sb = load("strong"), load("weak")
    groups: dict[tuple[str, str, str], list[float]] = {}
    for k in sa.keys() & sb.keys():
        groups.setdefault((k[0], k[1], sa[k][0]), []).append(sa[k][1] - sb[k][1])
    assert got.keys() == groups.keys()
    for k, vals in groups.items():
        assert got[k] == pytest.approx(sum(vals) / len(vals))


def test_parquet_through_the_cli(runs: list[Path], tmp_path: Path):
    out = tmp_path / "o"
    assert (
        main(["leaderboard", *map(str, runs), "--format", "csv,parquet", "--no-plots", "--out", str(out)])
        == 0
    )
    table = pq.read_table(out / "leaderboard.parquet")
    assert table.column_names == list(LONG_SCHEMA)
    assert str(table.schema.field("n").type) == "int64" and str(table.schema.field("best").type) == "bool"
    rows = list(csv.DictReader(io.StringIO((out / "leaderboard.csv").read_text())))
    got = table.to_pylist()
    assert len(got) == len(rows) > 0
    for r, p in zip(rows, got, strict=True):
        assert (r["section"], r["model"], r["metric"]) == (p["section"], p["model"], p["metric"])
        assert (r["mean"] == "") == (p["mean"] is None)
        if p["mean"] is not None:
            assert float(r["mean"]) == round(p["mean"], 6)
    first = (out / "leaderboard.parquet").read_bytes()
    assert (
        main(["leaderboard", *map(str, runs), "-f", "parquet", "--no-plots", "--out", str(tmp_path / "p")])
        == 0
    )
    assert (tmp_path / "p" / "leaderboard.parquet").read_bytes() == first
