"""Unified-SFT on the toy model: overfitting, greedy reproduction, prompt dropout, LoRA, resume."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from rolescape.trainer.config import SFTConfig
from rolescape.trainer.data import sft_examples
from rolescape.trainer.protocol import SampleSpec
from rolescape.trainer.sft import train_sft
from rolescape.trainer.toy import ToyAdapter
from tests.trainer.conftest import run_cli


def _cfg(built: Path, out: Path, **kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "stage": "sft",
        "model": {"adapter": "toy", "model": "tiny", "max_prompt_tokens": 48},
        "data": {
            "path": str(built),
            "character": "keeper-nine",
            "kinds": ["knowledge_qa", "scene_image"],
            "limit": 4,
        },
        "out": str(out),
        "steps": 40,
        "batch_size": 4,
        "prompt_dropout": 0.0,
        "optim": {"lr": 0.006},
        "save_every": 30,
        "tensorboard": False,
    }
    base.update(kw)
    return base


def test_sft_overfits_four_examples_and_greedy_reproduces(demo_built: Path, tmp_path: Path) -> None:
    cfg = SFTConfig.model_validate(_cfg(demo_built, tmp_path / "run"))
    res = train_sft(cfg)
    assert res.losses[0] > 2.0 and res.losses[-1] < 0.05
    final = ToyAdapter.load(res.final)
    final.max_prompt_tokens = 48
    final.module().eval()
    exs = sft_examples(cfg.data, cfg.seed)
    kinds = {e.kind for e in exs}
    assert kinds == {"knowledge_qa", "scene_image"}
    for ex in exs:
        if ex.text is not None:
            ro = final.sample(
                ex.prompt, 1, SampleSpec(("text",), max_text_tokens=len(ex.text) + 2, greedy=True)
            )
            assert final.decode(ro)[0]["text"] == ex.text
        else:
            ro = final.sample(ex.prompt, 1, SampleSpec(("image",), greedy=True))
            assert torch.equal(ro.image_ids[0], final.backbone.encode_image(ex.image))
    log = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == list(range(1, 41))
    assert {"loss_text", "loss_image"} <= set(log[0])
    rec = json.loads((Path(res.final) / "rolescape_train.json").read_text())
    assert rec["config"]["optim"]["lr"] == 0.006 and rec["config"]["data"]["character"] == "keeper-nine"


def test_lora_trains_only_adapter_and_image_head(demo_built: Path, tmp_path: Path) -> None:
    cfg = SFTConfig.model_validate(
        _cfg(demo_built, tmp_path / "lora", steps=3, lora={"enabled": True, "r": 4}, save_every=3)
    )
    a = ToyAdapter.load("tiny", seed=0)
    before = {k: v.clone() for k, v in a.module().state_dict().items()}
    train_sft(cfg, adapter=a)
    names = [n for n, p in a.module().named_parameters() if p.requires_grad]
    assert names and all(("lora_" in n) or ("image_head" in n) for n in names)
    # the base weights are untouched; the reference policy is the adapter disabled
    base = a.module().get_base_model()
    assert torch.equal(base.tok_emb.weight, before["tok_emb.weight"])
    saved = load_file(str(tmp_path / "lora" / "checkpoints" / "step-0000003" / "trainable.safetensors"))
    assert set(saved) == set(names)
    merged = ToyAdapter.load(str(tmp_path / "lora" / "final"))
    assert not torch.equal(merged.module().blocks[0].q_proj.weight, before["blocks.0.q_proj.weight"])


def test_prompt_dropout_is_deterministic_and_changes_the_loss(demo_built: Path, tmp_path: Path) -> None:
    runs = []
    for name, p in (("a", 0.5), ("b", 0.5), ("c", 0.0)):
        cfg = SFTConfig.model_validate(
            _cfg(demo_built, tmp_path / name, steps=4, prompt_dropout=p, save_every=4)
        )
        runs.append(train_sft(cfg).losses)
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


@pytest.mark.slow
def test_resume_after_kill_matches_uninterrupted(demo_built: Path, tmp_path: Path, write_config: Any) -> None:
    full = SFTConfig.model_validate(_cfg(demo_built, tmp_path / "full", steps=12, save_every=4))
    train_sft(full)
    cfg_path = write_config(_cfg(demo_built, tmp_path / "killed", steps=12, save_every=4))
    # a real SIGKILL at step 6 (after the step-4 checkpoint, before step 8's)
    kill = (
        "import os, signal; from rolescape.trainer.config import load_config; from rolescape.trainer.sft import train_sft; "
        f"train_sft(load_config({str(cfg_path)!r}), progress=lambda s, d, t: d == 6 and os.kill(os.getpid(), signal.SIGKILL))"
    )
    proc = subprocess.run([sys.executable, "-c", kill], capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL
    assert not (tmp_path / "killed" / "final").exists()
    assert [p.name for p in (tmp_path / "killed" / "checkpoints").iterdir()] == ["step-0000004"]
    r = run_cli("train", "sft", "--config", str(cfg_path), "--resume")
    assert r.returncode == 0, r.stderr
    assert "resumed from step 4" in r.stdout
    a = load_file(str(tmp_path / "full" / "final" / "model.safetensors"))
    b = load_file(str(tmp_path / "killed" / "final" / "model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-6), k
    steps = [json.loads(x)["step"] for x in (tmp_path / "killed" / "log.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 13))  # entries after the checkpoint were dropped and redone
    again = run_cli("train", "sft", "--config", str(cfg_path))
    assert again.returncode == 2 and "--resume" in again.stderr
