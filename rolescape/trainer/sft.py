"""Stage 1, Unified-SFT: per-modality CE (each averaged within its modality, then weighted),
prompt dropout so CFG keeps working, LoRA or full fine-tuning, accumulation, checkpoints, resume."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import torch

from rolescape.trainer import loop
from rolescape.trainer.config import SFTConfig
from rolescape.trainer.data import sft_examples


@dataclass
class SFTResult:
    out: str
    steps: int
    resumed_from: int | None
    final: str
    losses: list[float] = field(default_factory=list)


def sft_loss(
    adapter: Any, batch: list[Any], drop: list[bool], cfg: SFTConfig
) -> tuple[torch.Tensor, dict[str, float]]:
    """lambda_t * CE_text + lambda_i * CE_image (modalities absent from the batch contribute 0)."""
    parts = adapter.sft_losses(batch, drop)
    dev = adapter.device
    loss = torch.zeros((), device=dev)
    stats: dict[str, float] = {}
    if "text" in parts:
        loss = loss + cfg.text_weight * parts["text"]
        stats["loss_text"] = float(parts["text"].detach())
    if "image" in parts:
        loss = loss + cfg.image_weight * parts["image"]
        stats["loss_image"] = float(parts["image"].detach())
    return loss, stats


def train_sft(
    cfg: SFTConfig, resume: bool = False, progress: loop.Progress | None = None, adapter: Any = None
) -> SFTResult:
    """Run (or resume) SFT; checkpoints every `save_every` steps, `out/final` at the end."""
    examples = sft_examples(cfg.data, cfg.seed)
    adapter = adapter or loop.load_adapter(cfg.model, cfg.seed)
    loop.apply_lora(adapter, cfg.lora)
    run = loop.start_run(adapter, cfg, resume)
    acc, runner, opt = run.acc, run.runner, run.opt
    start, resumed, main, world, rank = run.start, run.resumed, run.main, run.world, run.rank
    losses: list[float] = []
    adapter.module().train()
    for step in range(start, cfg.steps):
        t0 = loop.now()
        stats: dict[str, float] = {}
        total = 0.0
        for micro in range(cfg.grad_accum):
            idx = loop.positions(
                step, micro, rank, world, cfg.grad_accum, cfg.batch_size, len(examples), cfg.seed
            )
            batch = [examples[i] for i in idx]
            drop = [
                random.Random(loop.seeded(cfg.seed, "drop", step, i)).random() < cfg.prompt_dropout
                for i in idx
            ]
            with acc.accumulate(runner):
                loss, st = runner(lambda b=batch, d=drop: sft_loss(adapter, b, d, cfg))
                acc.backward(loss)
                if acc.sync_gradients and cfg.optim.max_grad_norm:
                    acc.clip_grad_norm_(adapter.trainable_parameters(), cfg.optim.max_grad_norm)
                opt.step()
                opt.zero_grad()
            total += float(loss.detach()) / cfg.grad_accum
            for k, v in st.items():
                stats[k] = stats.get(k, 0.0) + v / cfg.grad_accum
        g = acc.reduce(
            torch.tensor(
                [total, *[stats.get(k, float("nan")) for k in ("loss_text", "loss_image")]], device=acc.device
            ),
            "mean",
        )
        losses.append(float(g[0]))
        done = step + 1
        rec = {
            "loss": float(g[0]),
            "loss_text": float(g[1]),
            "loss_image": float(g[2]),
            "step_s": loop.now() - t0,
        }
        run.end_step(done, {k: v for k, v in rec.items() if v == v}, adapter, cfg, "sft", progress)
    if main:
        adapter.module().eval()
    summary = {"steps": cfg.steps, "final_loss": losses[-1] if losses else None, "examples": len(examples)}
    final = run.finish(adapter, cfg, summary)
    return SFTResult(str(cfg.out), cfg.steps, resumed, str(final), losses)
