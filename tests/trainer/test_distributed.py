"""Two processes under `accelerate launch` (gloo, DDP on CPU) give the same parameters after N steps as one
process with the matching gradient accumulation.

accelerate 1.15's `launch --cpu --num_processes 2` starts ONE process (its simple launcher; several CPU
processes need mpirun), so the two-process CPU run is `ACCELERATE_USE_CPU=1 accelerate launch
--multi_gpu --num_processes 2` (torchrun; accelerate then picks MULTI_CPU with gloo)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from tests.trainer.conftest import run_cli

pytest.importorskip("accelerate")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cfg(built: Path, out: Path, grad_accum: int) -> dict[str, Any]:
    return {
        "stage": "sft",
        "model": {"adapter": "toy", "model": "tiny", "max_prompt_tokens": 32},
        "data": {
            "path": str(built),
            "character": "keeper-nine",
            "kinds": ["knowledge_qa", "scene_image"],
            "limit": 8,
        },
        "out": str(out),
        "steps": 3,
        "batch_size": 2,
        "grad_accum": grad_accum,
        "prompt_dropout": 0.3,
        # SGD: Adam would turn float noise in a zero gradient (the key bias) into +-lr steps
        "optim": {"name": "sgd", "lr": 0.5},
        "tensorboard": False,
    }


@pytest.mark.slow
def test_two_process_ddp_equals_one_process_with_accumulation(
    demo_built: Path, tmp_path: Path, write_config: Any
) -> None:
    one = run_cli(
        "train", "sft", "--config", str(write_config(_cfg(demo_built, tmp_path / "one", 2), "one.yaml"))
    )
    assert one.returncode == 0, one.stderr
    two_cfg = write_config(_cfg(demo_built, tmp_path / "two", 1), "two.yaml")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "ACCELERATE_USE_CPU": "1"}
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "accelerate.commands.launch",
            "--multi_gpu",
            "--num_processes",
            "2",
            "--num_machines",
            "1",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
            "--main_process_port",
            str(_free_port()),
            "-m",
            "rolescape.trainer",
            "sft",
            "--config",
            str(two_cfg),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    a = load_file(str(tmp_path / "one" / "final" / "model.safetensors"))
    b = load_file(str(tmp_path / "two" / "final" / "model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-5), k
    from rolescape.trainer.toy import ToyAdapter

    start = ToyAdapter.load("tiny", seed=0).module().state_dict()
    moved = sum(not torch.allclose(start[k], a[k]) for k in a)
    assert moved > 0  # the runs trained
    import json

    state = json.loads((tmp_path / "two" / "final" / "rolescape_train.json").read_text())
    assert state["world_size"] == 2
