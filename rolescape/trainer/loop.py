"""Shared run machinery of both stages: adapter loading, LoRA, accelerate, checkpoints, logs.

One code path runs single-process on CPU and as DDP / FSDP / DeepSpeed ZeRO-3 under
`accelerate launch`: every computation that touches parameters runs inside the forward of one
`ClosureModule` (the only module accelerate wraps), so gradient sync and parameter gathering see it.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rolescape.errors import InputError, OutputError
from rolescape.models.base import item_seed
from rolescape.registry import Registry
from rolescape.trainer.config import GRPOConfig, LoraConfig, ModelConfig, SFTConfig, config_dict
from rolescape.trainer.protocol import TrainableAdapter

TRAINABLE: Registry[type[TrainableAdapter]] = Registry("trainable adapter", TrainableAdapter)
TRAINABLE.register("janus", "rolescape.models.janus:JanusAdapter")
TRAINABLE.register("toy", "rolescape.trainer.toy:ToyAdapter")

STATE_FILE = "trainer_state.json"
Progress = Callable[[str, int, int], None]


class ClosureModule(nn.Module):
    """Wraps the trained module; `forward(fn)` runs `fn()` so DDP / FSDP / ZeRO-3 hooks cover it."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, fn: Callable[[], Any]) -> Any:
        return fn()


def load_adapter(cfg: ModelConfig, seed: int) -> Any:
    """The trainable adapter a config names (unknown adapter: one line with a 'did you mean')."""
    cls = TRAINABLE.get(cfg.adapter)
    adapter = cls.for_training(cfg, seed)
    adapter.max_prompt_tokens = cfg.max_prompt_tokens
    return adapter


def apply_lora(adapter: Any, cfg: LoraConfig) -> None:
    """Wrap the adapter's module with peft LoRA (targets: config regex or the adapter's default)."""
    if not cfg.enabled:
        return
    from peft import LoraConfig as PeftLora
    from peft import get_peft_model

    pc = PeftLora(
        r=cfg.r,
        lora_alpha=cfg.alpha,
        lora_dropout=cfg.dropout,
        target_modules=cfg.target_modules or adapter.lora_targets(),
        modules_to_save=adapter.lora_keep_trainable() or None,
    )
    adapter.set_module(get_peft_model(adapter.module(), pc))
    adapter.peft_applied = True


def seeded(seed: int, *key: object) -> int:
    """A seed from the run seed and a key (step, item): the same on every process and after resume."""
    return item_seed(seed, "/".join(str(k) for k in key))


def make_accelerator(grad_accum: int) -> Any:
    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs

    cpu = not torch.cuda.is_available() or os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true")
    return Accelerator(
        cpu=cpu,
        gradient_accumulation_steps=grad_accum,
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
    )


class RunLog:
    """Append-only JSONL log (main process), plus TensorBoard / W&B when installed and enabled."""

    def __init__(self, out: Path, enabled: bool, tensorboard: bool, wandb: bool, config: dict[str, Any]):
        self.path = out / "log.jsonl"
        self.enabled = enabled
        self.tb: Any = None
        self.wb: Any = None
        if not enabled:
            return
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(out / "tensorboard"))
            except Exception:  # tensorboard not installed
                self.tb = None
        if wandb:
            try:
                import wandb as wb

                self.wb = wb.init(project="rolescape", config=config, dir=str(out))
            except Exception:
                self.wb = None

    def truncate_after(self, step: int) -> None:
        """Drop entries written after the checkpoint a run resumes from (they will be redone)."""
        if not self.enabled or not self.path.is_file():
            return
        keep = [
            ln
            for ln in self.path.read_text().splitlines()
            if ln.strip() and json.loads(ln).get("step", 0) <= step
        ]
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("".join(ln + "\n" for ln in keep))
        tmp.replace(self.path)

    def write(self, step: int, rec: dict[str, Any]) -> None:
        if not self.enabled:
            return
        rec = {"step": step, **rec}
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(rec, sort_keys=True) + "\n")
        for k, v in rec.items():
            if isinstance(v, (int, float)) and k != "step" and math.isfinite(float(v)):
                if self.tb is not None:
                    self.tb.add_scalar(k, v, step)
        if self.wb is not None:
            self.wb.log(rec, step=step)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()
        if self.wb is not None:
            self.wb.finish()


def _trainable_state(adapter: Any) -> dict[str, torch.Tensor]:
    return {
        n: p.detach().cpu().contiguous() for n, p in adapter.module().named_parameters() if p.requires_grad
    }


def checkpoints(out: Path) -> list[Path]:
    root = out / "checkpoints"
    if not root.is_dir():
        return []
    return sorted(
        p for p in root.iterdir() if p.is_dir() and p.name.startswith("step-") and (p / STATE_FILE).is_file()
    )


def save_checkpoint(
    out: Path, step: int, adapter: Any, optimizer: Any, cfg: SFTConfig | GRPOConfig, extra: dict[str, Any]
) -> Path:
    """Trainable weights + optimizer + config + fingerprint, written to a temp folder and renamed."""
    from safetensors.torch import save_file

    root = out / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:07d}"
    tmp = root / f".tmp-step-{step:07d}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    save_file(_trainable_state(adapter), str(tmp / "trainable.safetensors"))
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    state = {
        "step": step,
        "stage": cfg.stage,
        "config": config_dict(cfg),
        "fingerprint": adapter.fingerprint(),
        **extra,
    }
    (tmp / STATE_FILE).write_text(json.dumps(state, sort_keys=True, indent=1))
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    return final


def load_checkpoint(ckpt: Path, adapter: Any, optimizer: Any) -> dict[str, Any]:
    """Restore a checkpoint into the live adapter / optimizer; refuse one of another model."""
    from safetensors.torch import load_file

    state = json.loads((ckpt / STATE_FILE).read_text())
    if state.get("fingerprint") != adapter.fingerprint():
        raise InputError(
            f"checkpoint is of another model ({state.get('fingerprint', {}).get('adapter')!r}, "
            f"architecture differs from {adapter.fingerprint().get('adapter')!r} in the config)",
            path=ckpt,
        )
    weights = load_file(str(ckpt / "trainable.safetensors"))
    params = dict(adapter.module().named_parameters())
    missing = [n for n in weights if n not in params]
    if missing:
        raise InputError(f"checkpoint has parameters the model lacks, e.g. {missing[0]!r}", path=ckpt)
    with torch.no_grad():
        for n, w in weights.items():
            params[n].copy_(w.to(params[n].device, params[n].dtype))
    optimizer.load_state_dict(torch.load(ckpt / "optimizer.pt", weights_only=True, map_location="cpu"))
    return state  # type: ignore[no-any-return]


def check_out(out: Path, resume: bool, cfg: SFTConfig | GRPOConfig) -> Path | None:
    """The checkpoint to resume from (or None). A used folder without --resume is refused."""
    ck = checkpoints(out)
    if ck and not resume:
        raise OutputError(f"{out} already holds checkpoints; pass --resume to continue or choose another out")
    if not ck:
        return None
    state = json.loads((ck[-1] / STATE_FILE).read_text())
    if state.get("stage") != cfg.stage:
        raise InputError(
            f"checkpoint is of stage {state.get('stage')!r}, the config is {cfg.stage!r}", path=ck[-1]
        )
    return ck[-1]


@dataclass
class RunStart:
    """What both training stages set up before their first step (shared by SFT and GRPO)."""

    acc: Any
    runner: Any
    opt: Any
    log: RunLog
    start: int
    resumed: int | None
    main: bool
    world: int
    rank: int

    def end_step(
        self,
        done: int,
        rec: dict[str, Any],
        adapter: Any,
        cfg: SFTConfig | GRPOConfig,
        stage: str,
        progress: Callable[[str, int, int], None] | None,
    ) -> None:
        """Log, checkpoint (main process), wait for every process, report progress."""
        if done % cfg.log_every == 0 or done == cfg.steps:
            self.log.write(done, rec)
        if self.main and (done % cfg.save_every == 0 or done == cfg.steps):
            save_checkpoint(
                cfg.out, done, adapter, self.opt, cfg, {"world_size": self.world, "versions": versions()}
            )
            prune_checkpoints(cfg.out)
        self.acc.wait_for_everyone()
        if progress:
            progress(stage, done, cfg.steps)

    def finish(self, adapter: Any, cfg: SFTConfig | GRPOConfig, summary: dict[str, Any]) -> Path:
        """Export `out/final` (main process), wait for every process, close the log."""
        if self.main:
            export_final(cfg.out, adapter, cfg, {**summary, "world_size": self.world, "versions": versions()})
        self.acc.wait_for_everyone()
        self.log.close()
        return cfg.out / "final"


def start_run(adapter: Any, cfg: SFTConfig | GRPOConfig, resume: bool) -> RunStart:
    """Accelerator, optimizer, checkpoint resume and the run log, in the order both stages need."""
    acc = make_accelerator(cfg.grad_accum)
    adapter.set_module(adapter.module().to(acc.device))
    opt = optimizer_for(adapter, cfg)
    ckpt = check_out(cfg.out, resume, cfg)
    start, resumed = 0, None
    if ckpt is not None:
        start = int(load_checkpoint(ckpt, adapter, opt)["step"])
        resumed = start
    runner, opt = acc.prepare(ClosureModule(adapter.module()), opt)
    main = acc.is_main_process
    if main:
        cfg.out.mkdir(parents=True, exist_ok=True)
    log = RunLog(cfg.out, main, cfg.tensorboard, cfg.wandb, config_dict(cfg))
    if resumed is not None:
        log.truncate_after(resumed)
    return RunStart(acc, runner, opt, log, start, resumed, main, acc.num_processes, acc.process_index)


def prune_checkpoints(out: Path, keep: int = 2) -> None:
    for p in checkpoints(out)[:-keep]:
        shutil.rmtree(p, ignore_errors=True)


def export_final(out: Path, adapter: Any, cfg: SFTConfig | GRPOConfig, summary: dict[str, Any]) -> Path:
    """`out/final`: merged generate-ready weights + the run's config and summary (temp + rename)."""
    final = out / "final"
    tmp = out / ".tmp-final"
    if tmp.exists():
        shutil.rmtree(tmp)
    adapter.save(tmp)
    (tmp / "rolescape_train.json").write_text(
        json.dumps(
            {"config": config_dict(cfg), "fingerprint": adapter.fingerprint(), **summary},
            sort_keys=True,
            indent=1,
        )
    )
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    return final


def versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for pkg in ("rolescape", "torch", "transformers", "accelerate", "peft"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            continue
    return out


def optimizer_for(adapter: Any, cfg: SFTConfig | GRPOConfig) -> torch.optim.Optimizer:
    params = adapter.trainable_parameters()
    if not params:
        raise InputError("the model has no trainable parameters (check lora.target_modules)")
    if cfg.optim.name == "sgd":
        return torch.optim.SGD(params, lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
    return torch.optim.AdamW(
        params, lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay, betas=cfg.optim.betas
    )


def positions(
    step: int, micro: int, rank: int, world: int, grad_accum: int, per: int, n: int, seed: int
) -> list[int]:
    """Indices into a dataset of n for (step, micro-step, rank): one fixed permutation per epoch, so a
    run with P processes and accumulation A sees the same global batch as 1 process with P*A."""
    gb = world * grad_accum * per
    start = step * gb + (micro * world + rank) * per
    out = []
    for g in range(start, start + per):
        epoch, pos = divmod(g, n)
        perm = list(range(n))
        random.Random(seed * 1_000_003 + epoch).shuffle(perm)
        out.append(perm[pos])
    return out


def now() -> float:
    return time.perf_counter()
