"""Scoring engine v2: the run as a typed spec, honest partial runs, per-family resume keys, a
tamper-evident items log, finite numbers only, --shard + merge-runs, and two-process scoring.

Small counting families (the engine is what is under test) record every item they score; MCQ runs
through the registry as the real family where a subprocess needs a registered family.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest

from rolescape.cli import main
from rolescape.errors import InputError, OutputError
from rolescape.metrics.base import ItemBatch, MetricFamily, ScoreContext, Scores
from rolescape.metrics.engine import load_results, make_spec, merge_runs, score
from rolescape.schemas.results import Results
from rolescape.schemas.spec import FAMILY_CONFIGS, FamilyConfig, JudgeSettings, ScoreSpec, register_config
from tests.fixtures.tiny import mcq_ids, write_predictions

TIMING = ("started_at", "finished_at", "wall_time_s")


class LenConfig(FamilyConfig):
    """Config of the test family: `scale` changes scores, `chatter` (transport-like) does not."""

    scale: float = 1.0
    chatter: int = 0
    not_in_key: ClassVar[frozenset[str]] = frozenset({"chatter"})


class Lengths(MetricFamily):
    """text_len * scale; counts the items it scores (its 'encoder calls')."""

    name = "lengths"
    tasks = ("knowledge_mcq", "dialogue")
    uses_device = False

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.scale = 1.0

    def metric_names(self, task: str) -> list[str]:
        return ["len_scaled"]

    def prepare(self, ctx: ScoreContext, tasks: Any) -> None:
        self.scale = float(ctx.configs["lengths"].scale)

    def score(self, batch: ItemBatch, ctx: ScoreContext) -> list[Scores]:
        self.calls += [r["id"] for r in batch.items]
        return [{"len_scaled": self.scale * len(p.text or p.choice or "")} for p in batch.predictions]


class IsB(MetricFamily):
    """1 when the choice is B; derives `b_plus_len` from both families' scores."""

    name = "is_b"
    tasks = ("knowledge_mcq", "dialogue")
    uses_device = False

    def __init__(self, value: float = 1.0) -> None:
        self.calls: list[str] = []
        self.value = value

    def metric_names(self, task: str) -> list[str]:
        return ["is_b"]

    def score(self, batch: ItemBatch, ctx: ScoreContext) -> list[Scores]:
        self.calls += [r["id"] for r in batch.items]
        return [{"is_b": self.value if p.choice == "B" else 0.0} for p in batch.predictions]

    def derive(self, scores: Scores) -> Scores:
        a, b = scores.get("len_scaled"), scores.get("is_b")
        return {} if a is None or b is None else {"b_plus_len": a + b}


@pytest.fixture(autouse=True)
def _lengths_config() -> Any:
    register_config("lengths", LenConfig)
    yield
    FAMILY_CONFIGS.pop("lengths", None)


def spec_of(preds: Path, ds: Path, **kw: Any) -> ScoreSpec:
    kw.setdefault("families", {"lengths": {}, "is_b": {}})
    kw.setdefault("batch_size", 2)
    return make_spec(predictions=str(preds), data=str(ds), **kw)


def run(spec: ScoreSpec, out: Path, *fams: MetricFamily, **kw: Any) -> Results:
    return score(spec, out_dir=out, family_objects=list(fams) or [Lengths(), IsB()], **kw)


def comparable(path: Path) -> dict:
    d = json.loads((path / "results.json").read_text())
    for k in TIMING:
        d["provenance"].pop(k)
    return d


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in (path / "items.jsonl").read_text().splitlines()]


# ---- the run as data -------------------------------------------------------------------------------


def test_results_hold_the_whole_spec_and_a_rerun_from_it_reproduces_them(
    preds: Path, ds: Path, tmp_path: Path
) -> None:
    spec = spec_of(preds, ds, families={"lengths": {"scale": 2.0}, "is_b": {}}, seed=3, bootstrap=50)
    res = run(spec, tmp_path / "a")
    stored = load_results(tmp_path / "a").spec
    assert stored is not None and stored == res.spec
    assert stored.families is not None and isinstance(stored.families["lengths"], LenConfig)
    assert stored.families["lengths"].scale == 2.0  # typed config stored verbatim, defaults filled
    assert stored.tasks == ["knowledge_mcq", "dialogue"] and stored.seed == 3 and stored.bootstrap == 50
    raw = json.loads((tmp_path / "a" / "results.json").read_text())["spec"]
    assert raw["families"]["lengths"] == {"scale": 2.0, "chatter": 0}
    again = run(ScoreSpec.model_validate(raw), tmp_path / "b")
    assert comparable(tmp_path / "a") == comparable(tmp_path / "b")
    assert again.tasks["knowledge_mcq"].metrics["len_scaled"].mean == 2.0


def test_cli_spec_rerun_reproduces_and_refuses_extra_flags(ds: Path, tmp_path: Path) -> None:
    p = write_predictions(
        tmp_path / "m" / "predictions.jsonl", [{"id": i, "choice": k} for i, k in mcq_ids()]
    )
    a, b = tmp_path / "a", tmp_path / "b"
    args = ["score", str(p), "--data", str(ds), "--families", "mcq", "--no-progress", "--bootstrap", "20"]
    assert main([*args, "--out", str(a)]) == 0
    assert main(["score", "--spec", str(a / "results.json"), "--out", str(b), "--no-progress"]) == 0
    assert comparable(a) == comparable(b)
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "rolescape",
            "score",
            "--spec",
            str(a),
            "--seed",
            "4",
            "--out",
            str(tmp_path / "c"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "drop --seed" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "c").exists()


def test_spec_schema_lists_every_family_config(tmp_path: Path) -> None:
    assert main(["schema", "--out", str(tmp_path)]) == 0
    schema = json.loads((tmp_path / "score_spec.schema.json").read_text())
    fams = schema["properties"]["families"]["properties"]
    assert set(FAMILY_CONFIGS) <= set(fams)
    assert fams["judge"]["properties"]["timeout"]["default"] == 60.0  # judge defaults defined once


def test_bad_spec_values_are_one_clear_line(preds: Path, ds: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"shard.*expected I/N"):
        spec_of(preds, ds, shard="2")
    with pytest.raises(InputError, match=r"need 0 <= I < N"):
        spec_of(preds, ds, shard="3/3")
    with pytest.raises(InputError, match=r"families: judge.timeout: Input should be greater than 0"):
        spec_of(preds, ds, families={"judge": {"timeout": -1}})


# ---- partial runs ----------------------------------------------------------------------------------


def test_cli_limit_is_marked_partial_and_coverage_counts_the_task(
    preds: Path, ds: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    rc = main(["score", str(preds), "--data", str(ds), "--families", "mcq", "--limit", "2", "--out", str(out),
               "--no-progress"])  # fmt: skip
    assert rc == 0
    text = capsys.readouterr().out
    assert "PARTIAL" in text and "--limit 2" in text and "2/9 (22%)" in text
    res = load_results(out)
    assert res.partial and res.limit == 2 and res.tasks["knowledge_mcq"].coverage == pytest.approx(2 / 9)
    # an old schema-v1 results file (no spec, no partial fields) still loads, as a full run
    v1 = json.loads((out / "results.json").read_text())
    for k in ("spec", "limit", "shard", "partial"):
        v1.pop(k)
    for tr in v1["tasks"].values():
        tr.pop("n_in_scope")
    v1["schema_version"] = "1"
    (tmp_path / "v1.json").write_text(json.dumps(v1))
    old = load_results(tmp_path / "v1.json")
    assert old.spec is None and old.partial is False and old.limit is None


# ---- per-family resume keys ------------------------------------------------------------------------


def test_changing_one_family_config_rescores_only_that_family(preds: Path, ds: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    run(spec_of(preds, ds), out)
    a, b = Lengths(), IsB()
    res = run(spec_of(preds, ds, families={"lengths": {"scale": 3.0}, "is_b": {}}), out, a, b)
    assert len(a.calls) == 12 and b.calls == []  # only the family whose config changed
    first = lines(out)[0]
    assert first["metrics"]["b_plus_len"] == first["metrics"]["len_scaled"] + first["metrics"]["is_b"]
    assert res.tasks["knowledge_mcq"].metrics["len_scaled"].mean is not None
    # a field that does not change scores (like the judge's timeout) rescores nothing
    a, b = Lengths(), IsB()
    run(spec_of(preds, ds, families={"lengths": {"scale": 3.0, "chatter": 9}, "is_b": {}}), out, a, b)
    assert a.calls == [] and b.calls == []
    assert len(lines(out)) == 12


def test_adding_a_family_scores_only_that_family(preds: Path, ds: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    run(spec_of(preds, ds, families={"lengths": {}}), out, Lengths())
    a, b = Lengths(), IsB()
    res = run(spec_of(preds, ds), out, a, b)
    assert a.calls == [] and len(b.calls) == 12
    assert set(res.tasks["knowledge_mcq"].metrics) == {"len_scaled", "is_b", "b_plus_len"}
    fresh = run(spec_of(preds, ds), tmp_path / "fresh")
    assert res.tasks == fresh.tasks


def test_judge_transport_settings_are_not_in_the_key() -> None:
    base = JudgeSettings(url="http://x/v1", model="m")
    for change in ({"timeout": 5.0}, {"concurrency": 32}, {"max_retries": 0}, {"key_env": "OTHER"}):
        assert base.model_copy(update=change).key_slice() == base.key_slice()
    assert base.model_copy(update={"model": "m2"}).key_slice() != base.key_slice()


# ---- tamper-evident items log, finite numbers ------------------------------------------------------


def test_a_hand_edited_line_is_rescored_with_a_warning(preds: Path, ds: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    run(spec_of(preds, ds), out)
    good = lines(out)
    edited = [dict(x) for x in good]
    edited[2] = {**edited[2], "metrics": {**edited[2]["metrics"], "is_b": 1.0, "len_scaled": 99.0}}
    (out / "items.jsonl").write_text("".join(json.dumps(x) + "\n" for x in edited))
    warnings: list[str] = []
    a, b = Lengths(), IsB()
    run(spec_of(preds, ds), out, a, b, on_warning=warnings.append)
    assert a.calls == b.calls == [good[2]["id"]]
    assert len(warnings) == 1 and "fail their check" in warnings[0] and good[2]["id"] in warnings[0]
    assert lines(out) == good  # the edit is gone, the true scores are back


def test_engine_never_writes_nan_or_infinity(preds: Path, ds: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = run(spec_of(preds, ds, families={"is_b": {}}), out, IsB(value=float("inf")))
    assert all(x["metrics"]["is_b"] in (None, 0.0) for x in lines(out))
    text = (out / "results.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert res.tasks["knowledge_mcq"].metrics["is_b"].mean == 0.0


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_results_file_is_refused_with_the_field_path(
    bad: str, preds: Path, ds: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    run(spec_of(preds, ds), out)
    text = (out / "results.json").read_text()
    d = json.loads(text)
    d["tasks"]["knowledge_mcq"]["metrics"]["is_b"]["mean"] = "@@"
    (out / "results.json").write_text(json.dumps(d, indent=2).replace('"@@"', bad))
    with pytest.raises(InputError, match=r"tasks\.knowledge_mcq\.metrics\.is_b\.mean: .*finite"):
        load_results(out)
    r = subprocess.run(
        [sys.executable, "-m", "rolescape", "score", "--spec", str(out), "--out", str(tmp_path / "again")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "tasks.knowledge_mcq.metrics.is_b.mean" in r.stderr and len(r.stderr.strip().splitlines()) == 1


# ---- shards and merge-runs -------------------------------------------------------------------------


def _shards(preds: Path, ds: Path, tmp_path: Path, n: int = 2, **kw: Any) -> list[Path]:
    dirs = []
    for i in range(n):
        d = tmp_path / f"shard{i}"
        run(spec_of(preds, ds, shard=f"{i}/{n}", **kw), d)
        dirs.append(d)
    return dirs


def test_shards_merged_equal_a_single_run(preds: Path, ds: Path, tmp_path: Path) -> None:
    single = run(spec_of(preds, ds), tmp_path / "single")
    dirs = _shards(preds, ds, tmp_path, 3)
    s0 = load_results(dirs[0])
    assert s0.partial and s0.shard == "0/3" and s0.tasks["knowledge_mcq"].n_items == 9
    assert sum(load_results(d).tasks["knowledge_mcq"].n_scored for d in dirs) == 9
    merged = merge_runs(dirs, tmp_path / "merged", family_objects=[Lengths(), IsB()])
    assert not merged.partial and merged.shard is None
    assert merged.tasks == single.tasks
    assert comparable(tmp_path / "merged") == comparable(tmp_path / "single")
    assert lines(tmp_path / "merged") == lines(tmp_path / "single")


def test_merge_runs_refusals_through_the_cli(
    preds: Path, ds: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = [i for i, _ in mcq_ids()]
    p = write_predictions(tmp_path / "m" / "predictions.jsonl", [{"id": i, "choice": "A"} for i in ids])
    base = ["score", str(p), "--data", str(ds), "--families", "mcq", "--no-progress", "--bootstrap", "10"]
    for i in range(3):
        assert main([*base, "--shard", f"{i}/3", "--out", str(tmp_path / f"s{i}")]) == 0
    assert main([*base, "--shard", "1/3", "--seed", "7", "--out", str(tmp_path / "other")]) == 0
    assert main([*base, "--out", str(tmp_path / "full")]) == 0
    s = [str(tmp_path / f"s{i}") for i in range(3)]
    capsys.readouterr()

    def refused(args: list[str], pattern: str) -> None:
        out = tmp_path / "merged"
        assert main(["merge-runs", *args, "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert pattern in err, err
        assert "Traceback" not in err and not out.exists()

    refused([s[0], s[1]], "shard(s) 2/3 of 3 missing")
    refused([s[0], s[1], s[1], s[2]], "shard 1/3 is given twice")
    refused([s[0], str(tmp_path / "other"), s[2]], "another spec")
    refused([s[0], str(tmp_path / "full")], "not a --shard run")
    # an item that two shards both claim
    src = (tmp_path / "s0" / "items.jsonl").read_text().splitlines()[0]
    with open(tmp_path / "s1" / "items.jsonl", "a", encoding="utf-8") as f:
        f.write(src + "\n")
    refused(s, "is in two shards")
    # an item no shard scored
    s1 = tmp_path / "s1" / "items.jsonl"
    s1.write_text("".join(x + "\n" for x in s1.read_text().splitlines()[1:-1]))
    refused(s, "scored by no shard")
    # a non-empty output folder
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("x")
    assert main(["merge-runs", *s, "--out", str(tmp_path / "busy")]) == 2
    assert "not empty" in capsys.readouterr().err


# ---- two processes ---------------------------------------------------------------------------------


def _cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update(extra)
    return env


@pytest.mark.slow
def test_two_processes_equal_one_process_byte_for_byte(ds: Path, tmp_path: Path) -> None:
    """torchrun --nproc-per-node 2 (two CPU processes) vs one process: same results.json bytes apart
    from timing fields, same items.jsonl bytes."""
    pytest.importorskip("torch.distributed.run")
    rows = [{"id": i, "choice": "ABCD"[n % 4]} for n, (i, _) in enumerate(mcq_ids())]
    p = write_predictions(tmp_path / "m" / "predictions.jsonl", rows)
    args = ["score", str(p), "--data", str(ds), "--families", "mcq", "--no-progress", "--bootstrap", "50"]
    one, two = tmp_path / "one", tmp_path / "two"
    r = subprocess.run([sys.executable, "-m", "rolescape", *args, "--out", str(one)], env=_cli_env(),
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                "-m", "rolescape"]  # fmt: skip
    r = subprocess.run([*launcher, *args, "--out", str(two)], env=_cli_env(), capture_output=True, text=True,
                       timeout=300)  # fmt: skip
    assert r.returncode == 0, (r.stdout[-2000:], r.stderr[-2000:])
    assert "rank 1/2 done" in r.stdout or "rank 0/2 done" in r.stdout  # one rank finished first
    assert sorted(x.name for x in two.iterdir() if not x.name.startswith(".")) == [
        "items.jsonl",
        "results.json",
    ]

    def strip_timing(path: Path) -> str:
        d = json.loads(path.read_text())
        for k in TIMING:
            d["provenance"].pop(k)
        return json.dumps(d, indent=2, sort_keys=True)

    assert strip_timing(one / "results.json") == strip_timing(two / "results.json")
    assert (one / "items.jsonl").read_bytes() == (two / "items.jsonl").read_bytes()


def test_ranks_write_their_own_logs_and_the_last_one_merges(preds: Path, ds: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    out = tmp_path / "run"
    spec = spec_of(preds, ds)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    r1 = run(spec, out)
    assert r1.shard == "1/2" and r1.partial and not (out / "results.json").exists()
    assert (out / "items.rank-1-of-2.jsonl").exists()
    monkeypatch.setenv("RANK", "0")
    a, b = Lengths(), IsB()
    r0 = run(spec, out, a, b)
    assert len(a.calls) == 6  # rank 0 scored only its own half
    assert r0.shard is None and not r0.partial and (out / "results.json").exists()
    assert not list(out.glob("items.rank-*"))
    monkeypatch.delenv("WORLD_SIZE")
    monkeypatch.delenv("RANK")
    single = run(spec, tmp_path / "single")
    assert comparable(out) == comparable(tmp_path / "single") and single.tasks == r0.tasks
    with pytest.raises(InputError, match="split the items twice"):
        monkeypatch.setenv("WORLD_SIZE", "2")
        run(spec_of(preds, ds, shard="0/2"), tmp_path / "x")
    with pytest.raises(OutputError):
        monkeypatch.delenv("WORLD_SIZE")
        from rolescape.metrics.engine import _run_lock

        with _run_lock(out):
            run(spec, out)
