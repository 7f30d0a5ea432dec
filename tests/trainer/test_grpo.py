"""Character-GRPO on the toy model with verifiable rewards: it learns, a shuffled control does not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rolescape.trainer.config import GRPOConfig
from rolescape.trainer.grpo import train_grpo


def _cfg(built: Path, out: Path, **kw: Any) -> GRPOConfig:
    base: dict[str, Any] = {
        "stage": "grpo",
        "model": {"adapter": "toy", "model": "tiny", "max_prompt_tokens": 32},
        "data": {"path": str(built), "character": "keeper-nine", "kinds": ["t2i"], "limit": 4},
        "out": str(out),
        "steps": 10,
        "group_size": 8,
        "optim": {"lr": 0.01},
        "reward": {"components": {"code_share:5": 1.0, "name_in_text": 1.0}},
        "save_every": 100,
        "tensorboard": False,
    }
    for k, v in kw.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            base[k] = {**base[k], **v}
        else:
            base[k] = v
    return GRPOConfig.model_validate(base)


@pytest.mark.slow
def test_grpo_learns_and_shuffled_control_stays_flat(demo_built: Path, tmp_path: Path) -> None:
    learn = train_grpo(_cfg(demo_built, tmp_path / "learn"))
    control = train_grpo(_cfg(demo_built, tmp_path / "control", reward={"shuffle": True}))
    assert learn.rewards[0] < 0.1 and control.rewards[0] < 0.1  # about chance (1/64) at the start
    assert learn.rewards[-1] > 0.5
    assert max(control.rewards) < 0.15
    log = [json.loads(x) for x in (tmp_path / "learn" / "log.jsonl").read_text().splitlines()]
    first = log[0]
    assert first["image/ratio"] == pytest.approx(1.0, abs=1e-5) and first["image/clip_frac"] == 0.0
    for key in ("reward/code_share:5", "image/entropy", "image/kl", "loss", "rollouts_per_s"):
        assert key in first
    assert "reward/name_in_text" in first and first["reward/name_in_text"] is None  # image prompts: n/a


@pytest.mark.parametrize("loss_type", ["bnpo", "dr_grpo", "dapo"])
def test_text_rollouts_with_lora_and_kl(demo_built: Path, tmp_path: Path, loss_type: str) -> None:
    cfg = _cfg(
        demo_built,
        tmp_path / loss_type,
        steps=2,
        group_size=4,
        max_text_tokens=8,
        beta=0.04,
        loss_type=loss_type,
        lora={"enabled": True, "r": 4},
        data={"kinds": ["roleplay"], "limit": 2},
        reward={"components": {"name_in_text": 1.0}},
    )
    res = train_grpo(cfg)
    log = [json.loads(x) for x in (tmp_path / loss_type / "log.jsonl").read_text().splitlines()]
    assert len(res.rewards) == 2
    # the reference is the adapter disabled: identical to the policy before the first update
    assert log[0]["text/kl"] == pytest.approx(0.0, abs=1e-6)
    assert log[0]["text/ratio"] == pytest.approx(1.0, abs=1e-5)
    assert "text/entropy" in log[0] and "image/kl" not in log[0]
