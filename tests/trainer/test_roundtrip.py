"""train -> generate -> score on a demo character, and GRPO with a real metrics-engine reward."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("transformers")

from tests.trainer.conftest import run_cli  # noqa: E402


@pytest.mark.slow
@pytest.mark.models
def test_train_generate_score_round_trip(demo_built: Path, tmp_path: Path, write_config: Any) -> None:
    cfg = {
        "stage": "sft",
        "model": {"adapter": "janus", "model": "tiny", "max_prompt_tokens": 64},
        "data": {
            "path": str(demo_built),
            "character": "keeper-nine",
            "kinds": ["dialogue", "scene_image"],
            "limit": 6,
        },
        "out": str(tmp_path / "sft"),
        "steps": 3,
        "batch_size": 2,
        "optim": {"lr": 0.001},
        "tensorboard": False,
    }
    r = run_cli("train", "sft", "--config", str(write_config(cfg)))
    assert r.returncode == 0, r.stderr
    ck = tmp_path / "sft" / "final"
    assert json.loads((ck / "rolescape_train.json").read_text())["config"]["steps"] == 3
    gen = tmp_path / "gen"
    g = run_cli(
        "generate",
        "--adapter",
        "janus",
        "--model",
        str(ck),
        "--data",
        str(demo_built),
        "--out",
        str(gen),
        "--tasks",
        "dialogue,t2i",
        "--per-character",
        "dialogue=1",
        "--per-character",
        "t2i=1",
        "--max-new-tokens",
        "8",
        "--adapter-option",
        "max_prompt_tokens=64",
    )
    assert g.returncode == 0, g.stderr
    preds = [json.loads(x) for x in (gen / "predictions.jsonl").read_text().splitlines()]
    assert {p["id"].split("/")[0] for p in preds} == {"dialogue", "t2i"}
    assert all((gen / p["image"]).is_file() for p in preds if "image" in p)
    prov = json.loads((gen / "generation.json").read_text())
    assert str(ck) in json.dumps(prov)
    s = run_cli(
        "score",
        str(gen / "predictions.jsonl"),
        "--data",
        str(demo_built),
        "--profile",
        "offline",
        "--out",
        str(tmp_path / "score"),
        "--device",
        "cpu",
    )
    assert s.returncode == 0, s.stderr
    res = json.loads((tmp_path / "score" / "results.json").read_text())
    text = json.dumps(res)
    assert "style_acc" in text and "effnet_i" in text


@pytest.mark.slow
@pytest.mark.models
def test_grpo_with_an_engine_reward_end_to_end(demo_built: Path, tmp_path: Path, write_config: Any) -> None:
    """The cmrp preset, offline profile (effnet_i for images, persona_sim + style_acc for text)."""
    cfg = {
        "stage": "grpo",
        "model": {"adapter": "janus", "model": "tiny", "max_prompt_tokens": 48},
        "data": {
            "path": str(demo_built),
            "character": "keeper-nine",
            "kinds": ["t2i", "roleplay"],
            "limit": 2,
        },
        "out": str(tmp_path / "grpo"),
        "steps": 2,
        "group_size": 2,
        "max_text_tokens": 6,
        "guidance": 2.0,
        "optim": {"lr": 0.001},
        "reward": {"preset": "cmrp", "profile": "offline", "device": "cpu"},
        "eval_every": 2,
        "eval_items": 1,
        "tensorboard": False,
    }
    r = run_cli("train", "grpo", "--config", str(write_config(cfg)))
    assert r.returncode == 0, r.stderr
    log = [json.loads(x) for x in (tmp_path / "grpo" / "log.jsonl").read_text().splitlines()]
    assert len(log) == 2
    comps = {k for rec in log for k, v in rec.items() if k.startswith("reward/") and v is not None}
    assert comps & {"reward/effnet_i", "reward/persona_sim", "reward/style_acc"}
    assert "eval/style_acc" in log[-1] and log[-1]["eval/items"] == 1
