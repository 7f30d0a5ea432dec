"""`rolescape meta-eval`: the analysis on constructed per-item values, the CLI on the embedded demo,
and its refusals (one line, exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rolescape.baselines.metaeval import analyse, auroc, paired_interval, render_markdown


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    code = "import sys; from rolescape.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=600)


def test_auroc_and_paired_interval():
    assert auroc([3, 4], [1, 2]) == 1.0
    assert auroc([1, 2], [3, 4]) == 0.0
    assert auroc([1, 1], [1, 1]) == 0.5
    assert auroc([], [1]) is None
    chars = {f"i{k}": "a" if k < 5 else "b" for k in range(10)}
    a = {f"i{k}": 1.0 + 0.01 * k for k in range(10)}
    b = {f"i{k}": 0.5 for k in range(10)}
    iv = paired_interval(a, b, chars, n_resamples=200, seed=1)
    assert iv is not None and iv.ci_low > 0 and iv.delta == pytest.approx(0.545)
    assert paired_interval({"i0": 1.0}, {"i0": 0.0}, chars) is None


def test_analyse_marks_a_metric_that_copying_wins():
    ids = [f"t/{c}/{k}" for c in ("a", "b") for k in range(6)]
    chars = {i: i.split("/")[1] for i in ids}
    own = {i: 0.7 + 0.01 * n for n, i in enumerate(ids)}
    copy_wins = {
        "reference": own,
        "retrieval": {i: v + 0.2 for i, v in own.items()},
        "shuffled": {i: 0.2 for i in ids},
    }
    robust = {
        "reference": own,
        "retrieval": {i: v - 0.2 for i, v in own.items()},
        "shuffled": {i: 0.2 for i in ids},
    }
    values = {b: {"roleplay": {"effnet_i": copy_wins[b], "effnet_i_novel": robust[b]}} for b in copy_wins}
    rep = analyse(values, chars, n_resamples=200)
    bad, good = rep["roleplay"]["effnet_i"], rep["roleplay"]["effnet_i_novel"]
    assert bad["copy_robust"] is False and bad["eligible"] is False and bad["declared_headline"] is False
    assert good["copy_robust"] is True and good["order_ok"] is True and good["eligible"] is True
    assert good["auroc_own_vs_shuffled"] == 1.0
    # lower-is-better metrics are compared in their better direction
    values = {
        b: {"roleplay": {"copy_rate": {i: (1.0 if b == "retrieval" else 0.0) for i in ids}}}
        for b in copy_wins
    }
    cr = analyse(values, chars, n_resamples=100)["roleplay"]["copy_rate"]
    assert cr["higher_is_better"] is False and cr["copy_robust"] is True
    md = render_markdown(rep)
    assert "`effnet_i_novel`" in md and "**no**" in md


def test_meta_eval_refuses_a_folder_that_is_not_a_build(tmp_path):
    r = _run("meta-eval", "--data", str(tmp_path), "--out", str(tmp_path / "out"))
    assert r.returncode == 2
    err = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(err) == 1 and "not a built rolescape dataset" in err[0] and str(tmp_path) in err[0]
    assert "Traceback" not in r.stderr and not (tmp_path / "out").exists()


def test_meta_eval_refuses_an_unknown_profile(tmp_path):
    r = _run("meta-eval", "--data", str(tmp_path), "--out", str(tmp_path / "out"), "--profile", "fast")
    assert r.returncode == 2
    err = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(err) == 1 and "unknown profile 'fast'" in err[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_meta_eval_on_the_demo(tmp_path):
    pytest.importorskip("timm")
    built = tmp_path / "built"
    assert _run("build", "--source", "demo", "--out", str(built)).returncode == 0
    out = tmp_path / "meta"
    args = ("meta-eval", "--data", str(built), "--out", str(out), "--tasks", "t2i,knowledge_mcq")
    args += ("--bootstrap", "200", "--cache-dir", str(tmp_path / "cache"))
    r = _run(*args)
    assert r.returncode == 0, r.stderr
    doc = json.loads((out / "meta_eval.json").read_text(encoding="utf-8"))
    assert doc["protocol_version"] == "2" and doc["baselines"] == [
        "prior",
        "reference",
        "retrieval",
        "shuffled",
    ]
    t2i = doc["tasks"]["t2i"]
    # retrieval copies train images: the plain identity rewards it, the copy-robust form does not
    assert t2i["copy_rate"]["means"]["retrieval"] == 1.0
    assert t2i["effnet_i"]["copy_robust"] is False
    assert t2i["effnet_i_novel"]["copy_robust"] is True
    assert t2i["effnet_i_novel"]["means"]["retrieval"] < t2i["effnet_i"]["means"]["retrieval"]
    kq = doc["tasks"]["knowledge_mcq"]
    assert "floor_gap" in kq["mcq_acc_clean"] and kq["mcq_acc_clean"]["means"]["reference"] == 1.0
    assert (out / "meta_eval.md").read_text(encoding="utf-8").startswith("| task | metric |")
    assert (out / "meta_eval.png").read_bytes()[:4] == b"\x89PNG"
    # results carry protocol v2
    res = json.loads((out / "runs" / "retrieval" / "results.json").read_text(encoding="utf-8"))
    assert res["provenance"]["protocol_version"] == "2"
    # a second run reuses baselines and items.jsonl and gives the same bytes
    first = (out / "meta_eval.json").read_bytes()
    r = _run(*args)
    assert r.returncode == 0 and (out / "meta_eval.json").read_bytes() == first
