"""Bad trainer configs through the CLI: one clear line naming the problem, exit 2, nothing written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.trainer.conftest import run_cli


def _sft(built: Path, out: Path, **kw: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "stage": "sft",
        "model": {"adapter": "toy", "model": "tiny", "max_prompt_tokens": 32},
        "data": {"path": str(built), "character": "keeper-nine", "kinds": ["knowledge_qa"], "limit": 2},
        "out": str(out),
        "steps": 2,
        "batch_size": 2,
        "tensorboard": False,
    }
    cfg.update(kw)
    return cfg


def _grpo(built: Path, out: Path, reward: dict[str, Any]) -> dict[str, Any]:
    return {
        "stage": "grpo",
        "model": {"adapter": "toy", "model": "tiny", "max_prompt_tokens": 32},
        "data": {"path": str(built), "character": "keeper-nine", "kinds": ["t2i"], "limit": 1},
        "out": str(out),
        "steps": 1,
        "group_size": 2,
        "reward": reward,
        "tensorboard": False,
    }


def _one_error_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    assert lines[0].startswith("error:")
    return lines[0]


@pytest.mark.parametrize(
    "case, expect",
    [
        ("unknown_adapter", "unknown trainable adapter 'januss'; did you mean 'janus'"),
        ("missing_character", "data.character: no character 'keeper-ten'"),
        ("bad_preset", "reward.preset: unknown preset 'papers'"),
        ("bad_weight", "reward.components.clip_t"),
        ("unknown_metric", "no available metric family provides 'clip_tt'"),
        ("bad_yaml", "not valid YAML"),
        ("unknown_key", "stepz"),
        ("wrong_stage", "the file says 'sft'"),
    ],
)
def test_bad_config_one_line_exit_2(
    demo_built: Path, tmp_path: Path, case: str, expect: str, write_config: Any
) -> None:
    out = tmp_path / "out"
    stage = "sft"
    if case == "unknown_adapter":
        cfg = _sft(demo_built, out, model={"adapter": "januss", "model": "tiny"})
    elif case == "missing_character":
        cfg = _sft(demo_built, out, data={"path": str(demo_built), "character": "keeper-ten"})
    elif case == "bad_preset":
        cfg, stage = _grpo(demo_built, out, {"preset": "papers"}), "grpo"
    elif case == "bad_weight":
        cfg, stage = _grpo(demo_built, out, {"components": {"clip_t": "high"}}), "grpo"
    elif case == "unknown_metric":
        cfg, stage = _grpo(demo_built, out, {"components": {"clip_tt": 1.0}}), "grpo"
    elif case == "unknown_key":
        cfg = _sft(demo_built, out, stepz=3)
    else:
        cfg = _sft(demo_built, out)
    path = write_config(cfg)
    if case == "bad_yaml":
        path.write_text("stage: sft\nmodel: [unclosed\n")
    if case == "wrong_stage":
        stage = "grpo"
    r = run_cli("train", stage, "--config", str(path))
    assert r.returncode == 2, r.stderr
    line = _one_error_line(r.stderr)
    assert expect in line
    if case in ("bad_yaml", "unknown_key", "bad_weight", "wrong_stage"):
        assert str(path) in line  # the file is named
    assert not out.exists()  # nothing written


def test_checkpoint_of_another_model_is_refused(demo_built: Path, tmp_path: Path, write_config: Any) -> None:
    out = tmp_path / "run"
    ok = run_cli("train", "sft", "--config", str(write_config(_sft(demo_built, out))))
    assert ok.returncode == 0, ok.stderr
    # resume the toy run's checkpoints with a Janus model: refused by the architecture fingerprint
    other = write_config(_sft(demo_built, out, model={"adapter": "janus", "model": "tiny"}), "other.yaml")
    r = run_cli("train", "sft", "--config", str(other), "--resume")
    assert r.returncode == 2
    line = _one_error_line(r.stderr)
    assert "checkpoint is of another model ('toy'" in line and "step-0000002" in line
    # a toy checkpoint given to the Janus adapter as its model
    wrong = write_config(
        _sft(demo_built, tmp_path / "run2", model={"adapter": "janus", "model": str(out / "final")}), "w.yaml"
    )
    r2 = run_cli("train", "sft", "--config", str(wrong))
    assert r2.returncode == 2
    assert "not a Janus checkpoint (no config.json)" in _one_error_line(r2.stderr)
