"""Check the trainer's memory estimate against one measured SFT step of a random-init model shaped like
Janus-Pro-1B on CPU (full widths, vocab, SigLIP and VQ; `--lm-layers` of the 24 LM layers, since the
full model with AdamW does not fit this machine), then print the estimates for Janus-Pro-1B / -7B.

    python bench/bench_train_memory.py --lm-layers 4 --lora 8
Writes bench/results/train_memory.json. Numbers are recorded, never asserted.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import time
from pathlib import Path

import psutil
import torch


def rss() -> float:
    return psutil.Process().memory_info().rss / 1024**3


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lm-layers", type=int, default=4)
    ap.add_argument("--lora", type=int, default=8, help="LoRA rank (0: full fine-tuning)")
    ap.add_argument("--seq-text", type=int, default=64)
    ap.add_argument("--out", default="bench/results/train_memory.json")
    a = ap.parse_args()
    from transformers import JanusForConditionalGeneration

    from rolescape.models.janus import JanusAdapter
    from rolescape.trainer.config import LoraConfig
    from rolescape.trainer.loop import apply_lora
    from rolescape.trainer.memory import JANUS_PRO_SHAPES, estimate, janus_pro_config
    from rolescape.trainer.protocol import SFTExample
    from rolescape.trainer.toy import ByteTokenizer

    torch.manual_seed(0)
    cfg = janus_pro_config("Janus-Pro-1B", lm_layers=a.lm_layers)
    base = rss()
    t0 = time.perf_counter()
    m = JanusForConditionalGeneration(cfg)
    init_s = time.perf_counter() - t0
    tok = ByteTokenizer(128)  # ids < 128 are valid in the 102400 vocab
    ad = JanusAdapter(m, tok, "random-init Janus-Pro-1B shape")
    ad.max_prompt_tokens = a.seq_text
    if a.lora:
        apply_lora(ad, LoraConfig(enabled=True, r=a.lora))
    opt = torch.optim.AdamW(ad.trainable_parameters(), lr=1e-5)
    after_weights = rss()
    ex = SFTExample(["x" * (a.seq_text - 1)], image=list(range(576)))
    ex_img = ex
    t1 = time.perf_counter()
    parts = ad.sft_losses([ex_img], [False])
    parts["image"].backward()
    opt.step()
    step_s = time.perf_counter() - t1
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB -> GiB
    est = estimate(
        cfg, stage="sft", dtype="float32", lora_r=a.lora or None, batch=1, seq=a.seq_text + 1 + 576
    )
    measured = peak - base
    rec = {
        "check": {
            "model": f"Janus-Pro-1B shape, {a.lm_layers}/24 LM layers, random init, fp32, CPU",
            "lora_r": a.lora,
            "tokens": a.seq_text + 1 + 576,
            "init_s": round(init_s, 1),
            "step_s": round(step_s, 1),
            "rss_after_weights_gib": round(after_weights - base, 2),
            "peak_rss_gib": round(measured, 2),
            "estimate": est.as_dict(),
            "estimate_over_measured": round(est.total_gib / measured, 3),
        },
        "estimates": {},
    }
    del m, ad, opt, parts
    gc.collect()
    for name in JANUS_PRO_SHAPES:
        c = janus_pro_config(name)
        rec["estimates"][name] = {
            "sft_full_bf16": estimate(c, stage="sft").as_dict(),
            "sft_lora8_bf16": estimate(c, stage="sft", lora_r=8).as_dict(),
            "sft_full_bf16_zero3_x8": estimate(c, stage="sft", shards=8).as_dict(),
            "grpo_G8_cfg_lora8_bf16": estimate(c, stage="grpo", lora_r=8).as_dict(),
            "grpo_G8_cfg_lora8_bf16_ckpt": estimate(
                c, stage="grpo", lora_r=8, gradient_checkpointing=True
            ).as_dict(),
            "grpo_G8_cfg_full_bf16_zero3_x8_ckpt": estimate(
                c, stage="grpo", shards=8, gradient_checkpointing=True
            ).as_dict(),
        }
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(rec, indent=1, sort_keys=True) + "\n")
    print(json.dumps(rec["check"], indent=1))
    for n, d in rec["estimates"].items():
        print(n, {k: round(v["total_gib"], 1) for k, v in d.items()})


if __name__ == "__main__":
    main()
