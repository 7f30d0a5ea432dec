"""The scoring engine: items.jsonl append/resume, skipped families, coverage, provenance, CLI.

A tiny fake family exercises the engine (the engine is what is under test); MCQ runs through the
registry as the real family.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from rolescape import PROTOCOL_VERSION, __version__
from rolescape.cli import main
from rolescape.errors import InputError, ModelUnavailable, OutputError, UnknownNameError, ValidationFailed
from rolescape.io import sha256_file
from rolescape.metrics.base import ItemBatch, MetricFamily, ScoreContext, Scores
from rolescape.metrics.engine import (
    FamilyError,
    _run_lock,
    family_key,
    load_results,
    prediction_digest,
    resolve_device,
    score,
)
from rolescape.schemas.results import ModelInfo
from tests.fixtures.tiny import mcq_ids, png_bytes, write_predictions

TIMING = ("started_at", "finished_at", "wall_time_s")


class Counting(MetricFamily):
    """Scores MCQ and dialogue items from the prediction alone; records what it scored."""

    name = "counting"
    tasks = ("knowledge_mcq", "dialogue")
    uses_device = False

    def __init__(self, fail_after: int | None = None, version: str = "counting-1"):
        self.calls: list[str] = []
        self.prepared: list[str] = []
        self.fail_after = fail_after
        self._version = version

    def metric_names(self, task: str) -> list[str]:
        return ["text_len", "is_b"]

    def prepare(self, ctx: ScoreContext, tasks) -> None:
        self.prepared = list(tasks)
        ctx.models["counter"] = ModelInfo(
            name="counter",
            id="test/counter",
            revision="r1",
            dtype="float32",
            preprocessing="none",
            source="package:test",
        )

    def score(self, batch: ItemBatch, ctx: ScoreContext) -> list[Scores]:
        out: list[Scores] = []
        for i, (row, pred) in enumerate(zip(batch.items, batch.predictions, strict=True)):
            if self.fail_after is not None and len(self.calls) >= self.fail_after:
                raise RuntimeError("boom: simulated crash inside a family")
            self.calls.append(row["id"])
            out.append(
                {
                    "text_len": float(len(pred.text or pred.choice or "")),
                    "is_b": 1.0 if pred.choice == "B" else 0.0,
                }
            )
            batch.info[i]["seen_by"] = "counting"
        return out

    def derive(self, scores: Scores) -> Scores:
        if "text_len" not in scores or "is_b" not in scores:
            return {}
        return {"len_plus_b": scores["text_len"] + scores["is_b"]}

    def version(self) -> str:
        return self._version


class Unavailable(MetricFamily):
    name = "unavailable"
    tasks = ("knowledge_mcq",)
    uses_device = False

    def metric_names(self, task: str) -> list[str]:
        return ["never"]

    def prepare(self, ctx: ScoreContext, tasks) -> None:
        raise ModelUnavailable("model 'never' is not installed (pip install never)")

    def score(self, batch: ItemBatch, ctx: ScoreContext) -> list[Scores]:  # pragma: no cover
        raise AssertionError("a skipped family must not score")


class PartlyAvailable(Counting):
    name = "partly"

    def metric_names(self, task: str) -> list[str]:
        return ["text_len", "face_sim"]

    def prepare(self, ctx: ScoreContext, tasks) -> None:
        ctx.skip_metric("face_sim", "no face model in the offline profile")

    def score(self, batch: ItemBatch, ctx: ScoreContext) -> list[Scores]:
        return [{"text_len": 1.0, "face_sim": None} for _ in batch.items]


class WrongCount(Counting):
    name = "wrong_count"

    def score(self, batch: ItemBatch, ctx: ScoreContext) -> list[Scores]:
        return [{"text_len": 1.0}]


def run(preds: Path, ds: Path, out: Path, fam: MetricFamily | None = None, **kw: Any):
    kw.setdefault("progress", False)
    kw.setdefault("batch_size", 2)
    return score(preds, ds, out_dir=out, families=[fam or Counting()], **kw)


def comparable(path: Path) -> dict:
    d = json.loads((path / "results.json").read_text())
    for k in TIMING:
        d["provenance"].pop(k)
    return d


def item_lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in (path / "items.jsonl").read_text().splitlines()]


# ---- basic run -------------------------------------------------------------------------------------


def test_scores_every_item_and_writes_results(preds: Path, ds: Path, tmp_path: Path) -> None:
    fam = Counting()
    res = run(preds, ds, tmp_path / "run", fam)
    assert res.config.tasks == ["knowledge_mcq", "dialogue"]  # protocol order, tasks with predictions
    assert fam.prepared == ["knowledge_mcq", "dialogue"]
    assert sorted(fam.calls) == sorted(
        [i for i, _ in mcq_ids()] + [f"dialogue/{c}/0" for c in ("bo", "chandler", "gao-qiqiang")]
    )
    lines = item_lines(tmp_path / "run")
    assert len(lines) == 12 and len({x["id"] for x in lines}) == 12
    first = lines[0]
    assert (
        first["metrics"]["len_plus_b"] == first["metrics"]["text_len"] + first["metrics"]["is_b"]
    )  # derive ran
    assert first["info"] == {"seen_by": "counting"}
    on_disk = load_results(tmp_path / "run")
    assert on_disk == res
    kq = res.tasks["knowledge_mcq"]
    assert (kq.n_items, kq.n_predicted, kq.n_scored, kq.coverage) == (9, 9, 9, 1.0)
    assert set(kq.metrics) == {"text_len", "is_b", "len_plus_b"}
    assert res.models["counter"].id == "test/counter"


def test_provenance_fields(preds: Path, ds: Path, tmp_path: Path) -> None:
    res = run(preds, ds, tmp_path / "run")
    pv = res.provenance
    assert pv.rolescape_version == __version__ and pv.protocol_version == PROTOCOL_VERSION
    assert pv.python.count(".") == 2
    assert pv.git_hash is None or len(pv.git_hash) == 40
    assert pv.wall_time_s >= 0 and pv.started_at <= pv.finished_at
    assert res.dataset.manifest_sha256 == sha256_file(ds / "manifest.json")
    assert res.dataset.source == "test:tiny" and res.dataset.build_id == "tiny-build"
    assert res.config.batch_size == 2 and res.config.device == "cpu" and res.config.bootstrap == 1000
    assert res.config.predictions_sha256 == sha256_file(preds)
    assert "torch" not in sys.modules or pv.torch
    text = (tmp_path / "run" / "results.json").read_text()
    assert text.endswith("\n") and json.loads(text)["schema_version"] == "2"


def test_results_do_not_depend_on_batch_size(preds: Path, ds: Path, tmp_path: Path) -> None:
    run(preds, ds, tmp_path / "a", batch_size=1)
    run(preds, ds, tmp_path / "b", batch_size=5)
    a, b = comparable(tmp_path / "a"), comparable(tmp_path / "b")
    for d in (a, b):
        d["config"].pop("batch_size"), d["spec"].pop("batch_size")
    assert a == b


def test_missing_items_are_counted_not_dropped(tmp_path: Path, ds: Path) -> None:
    p = write_predictions(
        tmp_path / "m" / "predictions.jsonl", [{"id": i, "choice": k} for i, k in mcq_ids()[:4]]
    )
    res = score(
        p,
        ds,
        out_dir=tmp_path / "run",
        families=[Counting()],
        tasks=["knowledge_mcq", "dialogue"],
        progress=False,
    )
    kq, dia = res.tasks["knowledge_mcq"], res.tasks["dialogue"]
    assert (kq.n_items, kq.n_predicted, kq.n_scored) == (9, 4, 4) and kq.coverage == pytest.approx(4 / 9)
    assert (dia.n_items, dia.n_predicted, dia.coverage) == (3, 0, 0.0)
    assert dia.metrics["text_len"].mean is None and dia.metrics["text_len"].n == 0


def test_limit_takes_the_first_items_of_each_task(preds: Path, ds: Path, tmp_path: Path) -> None:
    res = run(preds, ds, tmp_path / "run", limit=2)
    kq, dia = res.tasks["knowledge_mcq"], res.tasks["dialogue"]
    # coverage counts the items of the whole task, not of the slice: 2 of 9 is not 100 %
    assert (kq.n_items, kq.n_in_scope, kq.n_predicted, kq.n_scored) == (9, 2, 2, 2)
    assert kq.coverage == pytest.approx(2 / 9)
    assert (dia.n_items, dia.n_in_scope, dia.n_scored) == (3, 2, 2)
    assert res.partial and res.limit == 2 and res.shard is None and res.spec is not None
    assert res.spec.limit == 2
    on_disk = json.loads((tmp_path / "run" / "results.json").read_text())
    assert on_disk["partial"] is True and on_disk["limit"] == 2
    full = run(preds, ds, tmp_path / "full")
    assert not full.partial and full.limit is None and full.tasks["knowledge_mcq"].n_in_scope is None


# ---- resume ----------------------------------------------------------------------------------------


def test_interrupted_then_resumed_equals_uninterrupted(preds: Path, ds: Path, tmp_path: Path) -> None:
    run(preds, ds, tmp_path / "full")
    crashing = Counting(fail_after=5)
    with pytest.raises(RuntimeError, match="boom"):
        run(preds, ds, tmp_path / "resumed", crashing)
    assert not (tmp_path / "resumed" / "results.json").exists()
    partial = item_lines(tmp_path / "resumed")
    assert len(partial) == 4  # two whole chunks of 2 were appended
    again = Counting()
    run(preds, ds, tmp_path / "resumed", again)
    assert len(again.calls) == 12 - 4  # nothing scored twice
    assert not set(again.calls) & {x["id"] for x in partial}
    ids = [x["id"] for x in item_lines(tmp_path / "resumed")]
    assert len(ids) == len(set(ids)) == 12
    assert comparable(tmp_path / "full") == comparable(tmp_path / "resumed")
    assert sorted(map(json.dumps, item_lines(tmp_path / "full"))) == sorted(
        map(json.dumps, item_lines(tmp_path / "resumed"))
    )


def test_truncated_last_line_is_dropped_and_rewritten(preds: Path, ds: Path, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        run(preds, ds, tmp_path / "run", Counting(fail_after=4))
    items = tmp_path / "run" / "items.jsonl"
    whole = items.read_text()
    items.write_text(
        whole + '{"character":"bo","id":"knowledge_mcq/bo/mcq_0', encoding="utf-8"
    )  # a torn append
    fam = Counting()
    run(preds, ds, tmp_path / "run", fam)
    text = items.read_text()
    assert text.startswith(whole) and text.endswith("\n")
    ids = [json.loads(x)["id"] for x in text.splitlines()]
    assert len(ids) == len(set(ids)) == 12 and len(fam.calls) == 8


def test_complete_rerun_scores_nothing(preds: Path, ds: Path, tmp_path: Path) -> None:
    run(preds, ds, tmp_path / "run")
    before = comparable(tmp_path / "run")
    fam = Counting()
    run(preds, ds, tmp_path / "run", fam)
    assert fam.calls == [] and comparable(tmp_path / "run") == before


def test_changed_prediction_or_family_version_is_rescored(preds: Path, ds: Path, tmp_path: Path) -> None:
    run(preds, ds, tmp_path / "run")
    lines = preds.read_text().splitlines()
    lines[-1] = json.dumps({"id": "dialogue/gao-qiqiang/0", "text": "a different and longer answer"})
    preds.write_text("\n".join(lines) + "\n")
    fam = Counting()
    run(preds, ds, tmp_path / "run", fam)
    assert fam.calls == ["dialogue/gao-qiqiang/0"]
    items = item_lines(tmp_path / "run")
    assert len(items) == 12 and len({x["id"] for x in items}) == 12
    assert next(x for x in items if x["id"] == "dialogue/gao-qiqiang/0")["metrics"]["text_len"] == 29.0
    fam2 = Counting(version="counting-2")
    run(preds, ds, tmp_path / "run", fam2)
    assert len(fam2.calls) == 12  # a new family version rescores all


def test_image_bytes_are_part_of_the_key(tmp_path: Path) -> None:
    from rolescape.schemas.predictions import Prediction

    p = Prediction(id="t2i/bo/0", image="a.png")
    base: dict[str, Any] = dict(
        family="x", version="1", config={}, models={}, dataset="m", profile="paper", alpha="white"
    )
    k1 = family_key(prediction_digest(p, ["sha-1"]), **base)
    assert k1 != family_key(prediction_digest(p, ["sha-2"]), **base)
    for field, other in (
        ("version", "2"),
        ("config", {"a": 1}),
        ("models", {"clip": "r2"}),
        ("dataset", "n"),
    ):
        assert k1 != family_key(prediction_digest(p, ["sha-1"]), **{**base, field: other})
    same = Prediction(id="t2i/bo/0", image="a.png")
    assert k1 == family_key(prediction_digest(same, ["sha-1"]), **base)


def test_profile_and_alpha_change_the_key(preds: Path, ds: Path, tmp_path: Path) -> None:
    run(preds, ds, tmp_path / "run")
    fam = Counting()
    run(preds, ds, tmp_path / "run", fam, alpha="paper")
    assert len(fam.calls) == 12
    fam = Counting()
    run(preds, ds, tmp_path / "run", fam, alpha="paper", profile="offline")
    assert len(fam.calls) == 12


def test_corrupt_line_in_the_middle_is_an_error(preds: Path, ds: Path, tmp_path: Path) -> None:
    run(preds, ds, tmp_path / "run")
    items = tmp_path / "run" / "items.jsonl"
    lines = items.read_text().splitlines()
    lines[3] = "{garbage"
    items.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"items.jsonl:4: corrupt line"):
        run(preds, ds, tmp_path / "run")


def test_one_writer_per_run_folder(preds: Path, ds: Path, tmp_path: Path) -> None:
    with _run_lock(tmp_path / "run"), pytest.raises(OutputError, match="another `rolescape score`"):
        run(preds, ds, tmp_path / "run")


# ---- families: skipped, errors ---------------------------------------------------------------------


def test_unimportable_family_module_is_skipped(
    preds: Path, ds: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rolescape.metrics.registry import FAMILIES

    # registered for this test only: other tests walk every registered family
    monkeypatch.setitem(FAMILIES._targets, "_test_missing_module", "rolescape.metrics._no_such_module:Family")
    fam = Counting()
    res = score(preds, ds, out_dir=tmp_path / "run", families=["_test_missing_module", fam], progress=False)
    assert [(s.task, s.metric) for s in res.skipped] == [("*", "_test_missing_module.*")]
    assert "No module named 'rolescape.metrics._no_such_module'" in res.skipped[0].reason
    assert len(fam.calls) == 12


def test_model_unavailable_is_skipped_with_reason_and_others_run(
    preds: Path, ds: Path, tmp_path: Path
) -> None:
    fam = Counting()
    res = score(preds, ds, out_dir=tmp_path / "run", families=[Unavailable(), fam], progress=False)
    assert [(s.task, s.metric, s.reason) for s in res.skipped] == [
        ("knowledge_mcq", "never", "model 'never' is not installed (pip install never)")
    ]
    assert "never" not in res.tasks["knowledge_mcq"].metrics
    assert len(fam.calls) == 12


def test_metric_skipped_by_a_family_is_reported_not_zero(preds: Path, ds: Path, tmp_path: Path) -> None:
    res = score(preds, ds, out_dir=tmp_path / "run", families=[PartlyAvailable()], progress=False)
    assert {(s.task, s.metric) for s in res.skipped} == {
        ("knowledge_mcq", "face_sim"),
        ("dialogue", "face_sim"),
    }
    assert "face_sim" not in res.tasks["knowledge_mcq"].metrics
    assert res.tasks["knowledge_mcq"].metrics["text_len"].mean == 1.0


def test_unknown_family_name_is_a_user_error(preds: Path, ds: Path, tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'mcq'"):
        score(preds, ds, out_dir=tmp_path / "run", families=["mcqq"], progress=False)


def test_family_returning_wrong_count_is_an_error(preds: Path, ds: Path, tmp_path: Path) -> None:
    with pytest.raises(FamilyError, match="returned 1 scores for 2 items"):
        run(preds, ds, tmp_path / "run", WrongCount())


# ---- bad input -------------------------------------------------------------------------------------


def test_invalid_predictions_stop_before_any_model_loads(ds: Path, tmp_path: Path) -> None:
    p = write_predictions(
        tmp_path / "m" / "predictions.jsonl",
        [{"id": "knowledge_mcq/bo/mcq_001", "choice": "B"}, {"id": "nope"}, "{bad"],
    )
    fam = Counting()
    with pytest.raises(ValidationFailed) as e:
        score(p, ds, out_dir=tmp_path / "run", families=[fam], progress=False)
    assert len(e.value.problems) == 2 and fam.prepared == []
    assert not (tmp_path / "run").exists()


def test_allow_partial_scores_valid_lines_and_reports_the_rest(ds: Path, tmp_path: Path) -> None:
    p = write_predictions(
        tmp_path / "m" / "predictions.jsonl",
        [
            {"id": "knowledge_mcq/bo/mcq_001", "choice": "B"},
            {"id": "nope"},
            {"id": "knowledge_mcq/bo/mcq_002", "choice": "Z"},
        ],
    )
    seen: list[list[str]] = []
    fam = Counting()
    res = score(
        p,
        ds,
        out_dir=tmp_path / "run",
        families=[fam],
        allow_partial=True,
        progress=False,
        on_problems=seen.append,
    )
    assert fam.calls == ["knowledge_mcq/bo/mcq_001"]
    assert len(res.problems) == 2 and seen == [res.problems]
    assert res.tasks["knowledge_mcq"].n_predicted == 1 and res.config.allow_partial


def test_unknown_or_absent_task(preds: Path, ds: Path, tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'knowledge_mcq'"):
        score(
            preds, ds, tasks=["knowledge_mc"], out_dir=tmp_path / "r", families=[Counting()], progress=False
        )
    with pytest.raises(InputError, match="task 'roleplay' is not in the built dataset"):
        score(preds, ds, tasks=["roleplay"], out_dir=tmp_path / "r", families=[Counting()], progress=False)


def test_bad_options(preds: Path, ds: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown alpha policy 'black'"):
        run(preds, ds, tmp_path / "r", alpha="black")
    with pytest.raises(InputError, match="unknown profile"):
        run(preds, ds, tmp_path / "r", profile="fast")
    with pytest.raises(InputError, match="batch size"):
        run(preds, ds, tmp_path / "r", batch_size=0)


# ---- device ----------------------------------------------------------------------------------------


def _cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def test_resolve_device() -> None:
    assert resolve_device("cpu") == "cpu" and resolve_device(" CPU ") == "cpu"
    assert resolve_device("auto") == ("cuda" if _cuda() else "cpu")
    for bad in ("gpu", "cuda:x", "cuda:-1", "tpu", "cuda0"):
        with pytest.raises(InputError, match="unknown device"):
            resolve_device(bad)


@pytest.mark.skipif(_cuda(), reason="checks the no-CUDA message")
def test_cuda_requested_without_cuda_is_a_clear_error() -> None:
    for spec in ("cuda", "cuda:0", "cuda:3"):
        with pytest.raises(InputError, match=f"device '{spec}' requested but CUDA is not available"):
            resolve_device(spec)


@pytest.mark.skipif(_cuda(), reason="checks the no-CUDA message")
def test_cli_device_cuda_without_cuda_is_one_line_and_exit_2(
    preds: Path, ds: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "run"
    rc = main(
        ["score", str(preds), "--data", str(ds), "--device", "cuda", "--out", str(out), "--no-progress"]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    lines = [x for x in err.splitlines() if x.strip()]
    assert lines == [
        "error: device 'cuda' requested but CUDA is not available on this machine (use --device cpu)"
    ]
    assert not out.exists()


@pytest.mark.skipif(not _cuda(), reason="needs a CUDA device")
def test_cuda_index_out_of_range() -> None:  # pragma: no cover - GPU machines only
    with pytest.raises(InputError, match="CUDA device"):
        resolve_device("cuda:99")
    assert resolve_device("cuda:0") == "cuda:0"


def test_device_free_run_does_not_resolve_torch(preds: Path, ds: Path, tmp_path: Path) -> None:
    res = run(preds, ds, tmp_path / "run", device="auto")
    assert res.config.device == "cpu"
    with pytest.raises(InputError, match="unknown device"):
        run(preds, ds, tmp_path / "run2", device="gpu")


# ---- imports, CLI ----------------------------------------------------------------------------------


def _py(code: str) -> str:
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_imports_do_not_pull_torch() -> None:
    out = _py(
        "import sys, rolescape, rolescape.metrics.engine, rolescape.metrics.predictions, "
        "rolescape.metrics.aggregate, rolescape.metrics.mcq, rolescape.metrics.images_io, "
        "rolescape.metrics.rewards, rolescape.commands.score; print('torch' in sys.modules)"
    )
    assert out == "False"


def test_cli_help_does_not_import_torch() -> None:
    out = _py(
        "import sys, contextlib, io\nfrom rolescape.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as f:\n    rc = main(['--help'])\n"
        "print(rc, 'score' in f.getvalue(), 'torch' in sys.modules)"
    )
    assert out == "0 True False"


def test_cli_mcq_score_does_not_import_torch(ds: Path, tmp_path: Path) -> None:
    p = write_predictions(
        tmp_path / "m" / "predictions.jsonl", [{"id": i, "choice": k} for i, k in mcq_ids()]
    )
    out = _py(
        "import sys, contextlib, io\nfrom rolescape.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    rc = main(['score', {str(p)!r}, '--data', {str(ds)!r}, '--out', {str(tmp_path / 'run')!r}, "
        "'--families', 'mcq', '--no-progress'])\n"
        "print(rc, 'torch' in sys.modules)"
    )
    assert out == "0 False"


def test_cli_score_end_to_end(ds: Path, tmp_path: Path, capsys) -> None:
    rows = [{"id": i, "choice": k} for i, k in mcq_ids()]
    rows[0] = {"id": rows[0]["id"], "text": "I'm not sure, maybe A or B"}
    p = write_predictions(tmp_path / "mymodel" / "predictions.jsonl", rows)
    rc = main(
        [
            "score",
            str(p),
            "--data",
            str(ds),
            "--out",
            str(tmp_path / "run"),
            "--families",
            "mcq",
            "--tasks",
            "knowledge_mcq",
            "--no-progress",
            "--name",
            "my-model",
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0
    for s in ("my-model", "knowledge_mcq", "mcq_acc", "mcq_kappa", "mcq_unparsed", "9/9 (100%)", "longest"):
        assert s in out, s
    res = load_results(tmp_path / "run")
    assert res.model_name == "my-model"
    assert res.tasks["knowledge_mcq"].metrics["mcq_unparsed"].n == 9


def test_cli_score_bad_input_exits_2(ds: Path, tmp_path: Path, capsys) -> None:
    p = write_predictions(
        tmp_path / "m" / "predictions.jsonl",
        [{"id": "t2i/bo/0", "image": "missing.png"}, {"id": "knowledge_mcq/bo/mcq_001", "image": "x.png"}],
    )
    rc = main(["score", str(p), "--data", str(ds), "--out", str(tmp_path / "run"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert "predictions.jsonl:1: id 't2i/bo/0': image 'missing.png' not found" in err
    assert "predictions.jsonl:2: id 'knowledge_mcq/bo/mcq_001': field 'image' is not taken" in err
    assert not (tmp_path / "run").exists()
    assert main(["score", str(p), "--data", str(ds), "--model", "clip"]) == 2
    assert "expected NAME=PATH" in capsys.readouterr().err


def test_cli_allow_partial(ds: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "a.png").write_bytes(png_bytes())
    p = write_predictions(
        tmp_path / "m" / "predictions.jsonl",
        [{"id": "knowledge_mcq/bo/mcq_001", "choice": "B"}, {"id": "nope"}],
    )
    rc = main(
        [
            "score",
            str(p),
            "--data",
            str(ds),
            "--out",
            str(tmp_path / "run"),
            "--families",
            "mcq",
            "--allow-partial",
            "--no-progress",
        ]
    )
    cap = capsys.readouterr()
    assert rc == 0
    assert "1 invalid prediction line(s) left out" in cap.err and "id 'nope': unknown id" in cap.err
    assert "partial coverage" in cap.out and "1/9 (11%)" in cap.out


def test_items_jsonl_lines_are_canonical(preds: Path, ds: Path, tmp_path: Path) -> None:
    run(preds, ds, tmp_path / "run")
    raw = (tmp_path / "run" / "items.jsonl").read_text().splitlines()
    assert all(
        x == json.dumps(json.loads(x), sort_keys=True, separators=(",", ":"), ensure_ascii=False) for x in raw
    )
    assert Counter(json.loads(x)["task"] for x in raw) == {"knowledge_mcq": 9, "dialogue": 3}


# ---- the packaged demo, built by `rolescape build`, with predictions from `rolescape baseline` -----


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        from rolescape.builders.build import build
    except ImportError as e:  # pragma: no cover - while the builder is being written
        pytest.skip(f"builder unavailable: {e}")
    out = tmp_path_factory.mktemp("demo") / "built"
    build("demo", out)
    return out


class GTMatch(MetricFamily):
    """1.0 when a prediction's decoded image equals the item's decoded GT image (through images_io)."""

    name = "_test_gt_match"
    tasks = ("t2i", "roleplay")
    uses_device = False

    def metric_names(self, task: str) -> list[str]:
        return ["gt_match"]

    def score(self, batch: ItemBatch, ctx: ScoreContext) -> list[Scores]:
        from rolescape.metrics.images_io import load_image, prediction_images

        out: list[Scores] = []
        for row, imgs in zip(batch.items, prediction_images(batch, ctx), strict=True):
            gt = load_image(row["reference_image"]["bytes"], alpha=ctx.alpha)
            out.append({"gt_match": float(imgs[0].size == gt.size and imgs[0].tobytes() == gt.tobytes())})
        return out


def test_demo_reference_baseline_validates_and_scores(demo: Path, tmp_path: Path) -> None:
    from rolescape.baselines import run_baseline
    from rolescape.metrics.predictions import check_predictions

    pred = tmp_path / "reference" / "predictions.jsonl"
    run_baseline("reference", demo, pred)
    rep = check_predictions(pred, demo)
    assert rep.problems == []
    res = score(
        pred,
        demo,
        out_dir=tmp_path / "run",
        families=["mcq", GTMatch()],
        progress=False,
        batch_size=3,
        num_workers=0,
    )
    for task in ("knowledge_mcq", "visual_mcq"):
        assert res.tasks[task].metrics["mcq_acc"].mean == 1.0 and res.tasks[task].coverage == 1.0
    for task in ("t2i", "roleplay"):
        assert res.tasks[task].metrics["gt_match"].mean == 1.0
        assert res.tasks[task].metrics["gt_match"].n == res.tasks[task].n_items


def test_demo_prior_longest_baseline_scores_its_floor(demo: Path, tmp_path: Path) -> None:
    from rolescape.baselines import run_baseline

    pred = tmp_path / "prior-longest" / "predictions.jsonl"
    run_baseline("prior-longest", demo, pred)
    res = score(pred, demo, out_dir=tmp_path / "run", families=["mcq"], progress=False)
    for task in ("knowledge_mcq", "visual_mcq"):
        m = res.tasks[task].metrics["mcq_acc"]
        assert m.mean == pytest.approx(m.floors["longest_option"])


def test_demo_prior_baseline_scores_its_floor(demo: Path, tmp_path: Path) -> None:
    from rolescape.baselines import run_baseline

    pred = tmp_path / "prior" / "predictions.jsonl"
    run_baseline("prior", demo, pred)
    res = score(pred, demo, out_dir=tmp_path / "run", families=["mcq"], progress=False)
    leak = json.loads((demo / "leakage.json").read_text())["floors"]
    lines = [json.loads(x) for x in pred.read_text().splitlines()]
    for task in ("knowledge_mcq", "visual_mcq"):
        m = res.tasks[task].metrics["mcq_acc"]
        letters = {x["choice"] for x in lines if x["id"].startswith(task + "/")}
        assert len(letters) == 1
        letter = letters.pop()
        # our floors (macro over characters) agree with the builder's per-character ones
        per_char = leak[task]["per_character"]
        for name in ("always_A", "always_B", "always_C", "always_D", "longest_option"):
            expect = sum(c[name] for c in per_char.values()) / len(per_char)
            assert m.floors[name] == pytest.approx(expect)
        assert m.mean == pytest.approx(m.floors[f"always_{letter}"])  # the prior baseline scores its floor
