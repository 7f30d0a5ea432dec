"""`rolescape generate --adapter janus` end to end on the tiny random Janus (real forward passes, CPU):
text, MCQ, images in and images out through the CLI; predictions validate and score; greedy text and
seeded images are byte-identical on a rerun."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rolescape.cli import main

pytest.importorskip("transformers")


def janus_args(data: Path, out: Path) -> list[str]:
    return ["generate", "--adapter", "janus", "--model", "tiny", "--data", str(data), "--out", str(out),
            "--tasks", "roleplay,t2i_vqa,knowledge_mcq,visual_mcq", "--max-new-tokens", "5", "--k", "2",
            "--per-character", "roleplay=2,t2i_vqa=1,visual_mcq=2", "--adapter-option", "device=cpu",
            "--adapter-option", "max_prompt_tokens=64"]  # fmt: skip


def test_janus_generate_validates_scores_and_reruns_identically(demo_built, tmp_path, capsys):
    out = tmp_path / "janus"
    assert main(janus_args(demo_built, out)) == 0
    preds = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    by_task: dict[str, list[dict]] = {}
    for p in preds:
        by_task.setdefault(p["id"].split("/")[0], []).append(p)
    assert {t: len(v) for t, v in by_task.items()} == {
        "roleplay": 6,
        "t2i_vqa": 3,
        "knowledge_mcq": 18,
        "visual_mcq": 6,
    }
    assert all((out / p["image"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in by_task["roleplay"])
    assert all(len(p["images"]) == 2 for p in by_task["t2i_vqa"])
    gen = json.loads((out / "generation.json").read_text())
    assert gen["complete"] is True and gen["model"]["adapter"] == "janus"
    assert gen["capabilities"]["image_in"] and gen["capabilities"]["image_out"]
    assert main(["validate-predictions", str(out / "predictions.jsonl"), "--data", str(demo_built)]) == 0
    run = tmp_path / "scored"
    rc = main(["score", str(out / "predictions.jsonl"), "--data", str(demo_built), "--tasks", "knowledge_mcq",
               "--profile", "offline", "--out", str(run), "--no-progress"])  # fmt: skip
    assert rc == 0
    res = json.loads((run / "results.json").read_text())
    assert (
        res["generation"]["model"]["adapter"] == "janus" and res["tasks"]["knowledge_mcq"]["coverage"] == 1.0
    )
    out2 = tmp_path / "janus2"
    assert main(janus_args(demo_built, out2)) == 0
    assert (out2 / "predictions.jsonl").read_bytes() == (out / "predictions.jsonl").read_bytes()
    for p in by_task["t2i_vqa"]:
        assert [(out2 / i).read_bytes() for i in p["images"]] == [(out / i).read_bytes() for i in p["images"]]
    capsys.readouterr()
