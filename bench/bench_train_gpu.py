"""One SFT step and one GRPO step of a random-init model shaped like Janus-Pro-1B on a GPU: tokens/s,
rollouts/s, peak memory. Meant for a lent GPU (under 5 minutes on one):

    python bench/bench_train_gpu.py                      # Janus-Pro-1B shape, bf16, LoRA r=8, CUDA
    python bench/bench_train_gpu.py --shape tiny         # the tiny test Janus: checks the script on CPU

Both steps go through the trainer's own code: `JanusAdapter.sft_losses` (text CE + image-token CE), and
for GRPO `sample` (G image rollouts with CFG, KV cache) then `grpo.micro_batch_loss` (teacher-forced
log-probs with the same guidance, clipped surrogate), with a verifiable reward (share of one image
code). Each step is run `--repeat` times after one warm-up; the median is recorded. Writes
bench/results/train_gpu.json on CUDA, bench/results/train_gpu_cpu_smoke.json otherwise (a check
that the script runs, not a GPU number). Numbers are recorded, never asserted.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from pathlib import Path
from typing import Any

import torch


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def peak_gib(device: str) -> float:
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 1024**3
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB -> GiB (process peak RSS)


def reset_peak(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", choices=["janus-pro-1b", "tiny"], default="janus-pro-1b")
    ap.add_argument("--lm-layers", type=int, default=None, help="LM layers (default: all 24)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dtype", default="auto", help="bfloat16 on CUDA, float32 on CPU by default")
    ap.add_argument("--lora", type=int, default=8, help="LoRA rank (0: full fine-tuning)")
    ap.add_argument("--batch", type=int, default=4, help="SFT examples per step")
    ap.add_argument("--prompt-tokens", type=int, default=64)
    ap.add_argument("--text-tokens", type=int, default=32)
    ap.add_argument("--group", type=int, default=8, help="GRPO rollouts per prompt (G)")
    ap.add_argument("--guidance", type=float, default=5.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    from transformers import JanusForConditionalGeneration

    from rolescape.models.janus import JanusAdapter, tiny_janus_config
    from rolescape.trainer.config import GRPOConfig, LoraConfig
    from rolescape.trainer.grpo import _Group, micro_batch_loss
    from rolescape.trainer.grpo_loss import group_advantages
    from rolescape.trainer.loop import apply_lora
    from rolescape.trainer.memory import janus_pro_config
    from rolescape.trainer.protocol import SampleSpec, SFTExample
    from rolescape.trainer.toy import ByteTokenizer

    device = ("cuda" if torch.cuda.is_available() else "cpu") if a.device == "auto" else a.device
    dname = a.dtype if a.dtype != "auto" else ("bfloat16" if device.startswith("cuda") else "float32")
    dtype = getattr(torch, dname)
    torch.manual_seed(0)
    if a.shape == "tiny":
        cfg = tiny_janus_config(16)
        label = "tiny test Janus (0.36 M parameters)"
    else:
        cfg = janus_pro_config("Janus-Pro-1B", lm_layers=a.lm_layers)
        label = f"Janus-Pro-1B shape ({a.lm_layers or 24}/24 LM layers), random init"
    t0 = time.perf_counter()
    with torch.device(device):
        m = JanusForConditionalGeneration(cfg)
    m = m.to(dtype)
    init_s = time.perf_counter() - t0
    n_params = sum(p.numel() for p in m.parameters())
    ad = JanusAdapter(m, ByteTokenizer(128), label, dname)  # byte ids < 128 are valid in any Janus vocab
    ad.max_prompt_tokens = a.prompt_tokens + 1
    if a.lora:
        apply_lora(ad, LoraConfig(enabled=True, r=a.lora))
    params = ad.trainable_parameters()
    opt = torch.optim.AdamW(params, lr=1e-5)
    N = ad.backbone.num_image_tokens
    gen = torch.Generator(device="cpu").manual_seed(0)
    n_codes = int(cfg.vq_config.num_embeddings)

    # -- SFT: text CE + image-token CE on a batch of unified examples ------------------------------------------
    def sft_step() -> float:
        batch = [
            SFTExample(
                ["p" * a.prompt_tokens],
                text="t" * (a.text_tokens - 1),
                image=torch.randint(0, n_codes, (N,), generator=gen).tolist(),
            )
            for _ in range(a.batch)
        ]
        sync(device)
        t = time.perf_counter()
        parts = ad.sft_losses(batch, [False] * a.batch)
        (parts["text"] + parts["image"]).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        sync(device)
        return time.perf_counter() - t

    ad.module().train()
    reset_peak(device)
    sft_step()  # warm-up
    sft_times = [sft_step() for _ in range(a.repeat)]
    sft_peak = peak_gib(device)
    seq = 1 + a.prompt_tokens + a.text_tokens + 1 + N  # BOS, prompt, text + EOS, BOI, image codes
    sft_s = statistics.median(sft_times)

    # -- GRPO: G image rollouts with CFG, then the clipped surrogate on teacher-forced log-probs ---------------
    gcfg = GRPOConfig.model_validate(
        {"data": {"path": ".", "character": "x"}, "out": ".", "group_size": a.group}
        | {"guidance": max(a.guidance, 1.0), "loss_type": "grpo"}
    )
    spec = SampleSpec(modalities=("image",), guidance=gcfg.guidance)

    def grpo_step() -> tuple[float, float]:
        ad.module().eval()
        sync(device)
        t = time.perf_counter()
        g = torch.Generator(device=device).manual_seed(1)
        ro = ad.sample(["a lighthouse keeper robot at dawn"], a.group, spec, g)
        sync(device)
        t_sample = time.perf_counter() - t
        r = (ro.image_ids == 5).float().mean(-1).cpu()  # verifiable reward: share of code 5
        r = r + torch.arange(a.group) * 1e-3  # break ties: a random model's shares are often all 0
        adv = group_advantages(r).to(ad.device)
        loss = micro_batch_loss(
            ad, [_Group(None, ro, adv, r, {})], gcfg, {"image": float(ro.image_ids.numel())}
        )  # type: ignore[arg-type]
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        sync(device)
        return time.perf_counter() - t, t_sample

    reset_peak(device)
    grpo_step()  # warm-up
    runs = [grpo_step() for _ in range(a.repeat)]
    grpo_peak = peak_gib(device)
    grpo_s = statistics.median(x[0] for x in runs)
    sample_s = statistics.median(x[1] for x in runs)
    on_gpu = device.startswith("cuda")
    rec: dict[str, Any] = {
        "device": torch.cuda.get_device_name(0) if on_gpu else "cpu",
        "measured_on_gpu": on_gpu,
        "model": label,
        "params": n_params,
        "trainable": sum(p.numel() for p in params),
        "dtype": dname,
        "lora_r": a.lora,
        "init_s": round(init_s, 2),
        "sft": {
            "batch": a.batch,
            "tokens_per_example": seq,
            "step_s_median": round(sft_s, 4),
            "tokens_per_s": round(a.batch * seq / sft_s, 1),
            "peak_gib": round(sft_peak, 2),
        },
        "grpo": {
            "group_size": a.group,
            "image_tokens": N,
            "guidance": gcfg.guidance,
            "step_s_median": round(grpo_s, 4),
            "sample_s_median": round(sample_s, 4),
            "rollouts_per_s": round(a.group / grpo_s, 2),
            "peak_gib": round(grpo_peak, 2),
        },
        "peak_is": "torch.cuda.max_memory_allocated" if on_gpu else "process peak RSS (ru_maxrss), whole run",
        "repeat": a.repeat,
        "versions": {"torch": torch.__version__},
    }
    out = Path(
        a.out or ("bench/results/train_gpu.json" if on_gpu else "bench/results/train_gpu_cpu_smoke.json")
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rec, indent=1, sort_keys=True) + "\n")
    print(json.dumps(rec, indent=1))


if __name__ == "__main__":
    main()
