"""Stage 2, Character-GRPO: G rollouts per prompt (image rollouts for the character's T2I prompts, text
rollouts for its role-play scenes), rewards from the metrics engine, group advantages, the clipped
surrogate with a k3 KL to the reference (LoRA: the adapter disabled; no second model copy).

Per step each process draws `prompts_per_step * grad_accum` prompts, samples and scores all of them
first (so dapo can normalise by the global token count, as trl does), then takes one optimiser
step over the accumulated micro-batches. The module runs in eval mode (dropout off) throughout, so
the first ratio is exactly 1 up to float rounding.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

import torch

from rolescape.trainer import loop
from rolescape.trainer.config import GRPOConfig
from rolescape.trainer.data import GRPOPrompt, grpo_prompts
from rolescape.trainer.grpo_loss import aggregate, combine_rewards, group_advantages, per_token_loss
from rolescape.trainer.protocol import Rollouts, SampleSpec
from rolescape.trainer.rewards import GroupReward


@dataclass
class GRPOResult:
    out: str
    steps: int
    resumed_from: int | None
    final: str
    rewards: list[float] = field(default_factory=list)  # mean reward per step (before shuffling)


@dataclass
class _Group:
    prompt: GRPOPrompt
    rollouts: Rollouts
    advantages: torch.Tensor
    rewards: torch.Tensor
    components: dict[str, list[float | None]]


def spec_for(p: GRPOPrompt, cfg: GRPOConfig) -> SampleSpec:
    mods = ("image",) if p.kind == "t2i" else ("text",)
    return SampleSpec(
        modalities=mods,  # type: ignore[arg-type]
        max_text_tokens=cfg.max_text_tokens,
        guidance=cfg.guidance,
        temperature=cfg.temperature,
    )


def _completions(adapter: Any, ro: Rollouts) -> list[dict[str, Any]]:
    comps = adapter.decode(ro)
    if ro.image_ids.shape[1]:
        for c, ids in zip(comps, ro.image_ids.tolist(), strict=True):
            c["image_codes"] = ids
    return comps


def group_loss(
    adapter: Any, g: _Group, cfg: GRPOConfig, num_items: dict[str, float]
) -> tuple[torch.Tensor, dict[str, float]]:
    """lambda_img * agg(image tokens) + lambda_txt * agg(text tokens) for one group, plus stats."""
    lp = adapter.logprobs(g.rollouts, cfg.cfg_mode)
    ref = None
    if cfg.beta > 0:
        with torch.no_grad(), adapter.reference():
            ref = adapter.logprobs(g.rollouts, cfg.cfg_mode)
    loss = torch.zeros((), device=adapter.device)
    stats: dict[str, float] = {}
    for mod, weight in (("text", cfg.text_weight), ("image", cfg.image_weight)):
        cur = lp.text if mod == "text" else lp.image
        if cur.shape[1] == 0:
            continue
        old = g.rollouts.logprobs_text if mod == "text" else g.rollouts.logprobs_image
        mask = lp.text_mask if mod == "text" else lp.image_mask
        ref_lp = None if ref is None else (ref.text if mod == "text" else ref.image)
        tl = per_token_loss(cur, old, g.advantages, ref_lp, cfg.beta, cfg.epsilon_low, cfg.epsilon_high)
        max_len = cfg.max_text_tokens if mod == "text" else cur.shape[1]
        loss = loss + weight * aggregate(
            tl.loss, mask, cfg.loss_type, max_len=max_len, num_items=num_items.get(mod)
        )
        m = mask.float().detach()
        n = float(m.sum().clamp(min=1))
        ent = lp.entropy_text if mod == "text" else lp.entropy_image
        stats[f"{mod}/kl"] = float((tl.kl.detach() * m).sum()) / n
        stats[f"{mod}/clip_frac"] = float((tl.clipped.float() * m).sum()) / n
        stats[f"{mod}/entropy"] = float((ent.detach() * m).sum()) / n
        stats[f"{mod}/ratio"] = float((tl.ratio.detach() * m).sum()) / n
        stats[f"{mod}/tokens"] = float(m.sum())
    return loss, stats


def micro_batch_loss(
    adapter: Any,
    mg: list[_Group],
    cfg: GRPOConfig,
    num_items: dict[str, float],
    stats: dict[str, list[float]] | None = None,
) -> torch.Tensor:
    """The loss of one micro-batch of groups, normalised as trl normalises its batch of G * P
    completions: grpo and dr_grpo average the groups' losses (every group has G sequences, so this is
    the mean over all sequences); bnpo divides the token sum of the whole micro-batch by its token
    count, dapo by the global batch's count (`num_items`), so the groups' terms add up."""
    if cfg.loss_type == "bnpo":
        num_items = {
            "text": float(sum(int(g.rollouts.text_mask.sum()) for g in mg)),
            "image": float(sum(g.rollouts.image_ids.numel() for g in mg)),
        }
    summed = cfg.loss_type in ("bnpo", "dapo")
    total = torch.zeros((), device=adapter.device)
    for g in mg:
        lo, st = group_loss(adapter, g, cfg, num_items)
        total = total + (lo if summed else lo / len(mg))
        if stats is not None:
            for k, v in st.items():
                stats.setdefault(k, []).append(v)
    return total


def train_grpo(
    cfg: GRPOConfig,
    resume: bool = False,
    progress: loop.Progress | None = None,
    adapter: Any = None,
    reward: Any = None,
) -> GRPOResult:
    """Run (or resume) Character-GRPO. `reward` may be given directly (a GroupReward-like callable)."""
    prompts, char = grpo_prompts(cfg.data, cfg.seed)
    from rolescape.dataset import BuiltDataset

    data = BuiltDataset(cfg.data.path)
    reward = reward or GroupReward(cfg.reward, data)
    adapter = adapter or loop.load_adapter(cfg.model, cfg.seed)
    loop.apply_lora(adapter, cfg.lora)
    if cfg.beta > 0 and not adapter.peft_applied:
        from rolescape.errors import InputError

        raise InputError("beta > 0 needs lora.enabled (the reference policy is the adapter disabled)")
    run = loop.start_run(adapter, cfg, resume)
    acc, runner, opt = run.acc, run.runner, run.opt
    start, resumed, main, world, rank = run.start, run.resumed, run.main, run.world, run.rank
    adapter.module().eval()  # dropout off: sampling and scoring see the same function
    means: list[float] = []
    for step in range(start, cfg.steps):
        t0 = loop.now()
        groups: list[list[_Group]] = []
        comp_vals: dict[str, list[float]] = {}
        raw_rewards: list[float] = []
        for micro in range(cfg.grad_accum):
            idx = loop.positions(
                step, micro, rank, world, cfg.grad_accum, cfg.prompts_per_step, len(prompts), cfg.seed
            )
            mg: list[_Group] = []
            for i in idx:
                p = prompts[i]
                gen = torch.Generator(device=adapter.device).manual_seed(
                    loop.seeded(cfg.seed, "sample", step, p.id)
                )
                with torch.no_grad():
                    ro = runner(
                        lambda p=p, gen=gen: adapter.sample(p.prompt, cfg.group_size, spec_for(p, cfg), gen)
                    )
                comps = reward(_completions(adapter, ro), p.fields)
                r = combine_rewards(comps, reward.weights, zscore=cfg.reward.zscore)
                raw_rewards += [float(x) for x in r if not math.isnan(float(x))]
                for k, vs in comps.items():
                    comp_vals.setdefault(k, []).extend(float(v) for v in vs if v is not None)
                if cfg.reward.shuffle:  # control: rewards no longer belong to their completions
                    perm = list(range(len(r)))
                    random.Random(loop.seeded(cfg.seed, "shuffle", step, p.id)).shuffle(perm)
                    r = r[perm]
                adv = group_advantages(r, scale=cfg.scale_rewards).to(adapter.device)
                mg.append(_Group(p, ro, adv, r, comps))
            groups.append(mg)
        # token counts of the whole (global) batch, for dapo
        ntok = torch.tensor(
            [
                float(sum(int(g.rollouts.text_mask.sum()) for mg in groups for g in mg)),
                float(sum(g.rollouts.image_ids.numel() for mg in groups for g in mg)),
            ],
            device=acc.device,
        )
        ntok = acc.reduce(ntok, "sum")
        scale = float(cfg.grad_accum * world)
        num_items = {"text": float(ntok[0]) / scale, "image": float(ntok[1]) / scale}
        stats: dict[str, list[float]] = {}
        for mg in groups:
            with acc.accumulate(runner):

                def micro_loss(
                    mg: list[_Group] = mg,
                    stats: dict[str, list[float]] = stats,
                    num_items: dict[str, float] = num_items,
                ) -> torch.Tensor:
                    return micro_batch_loss(adapter, mg, cfg, num_items, stats)

                loss = runner(micro_loss)
                acc.backward(loss)
                if acc.sync_gradients and cfg.optim.max_grad_norm:
                    acc.clip_grad_norm_(adapter.trainable_parameters(), cfg.optim.max_grad_norm)
                opt.step()
                opt.zero_grad()
                stats.setdefault("loss", []).append(float(loss.detach()))
        done = step + 1
        mean_r = sum(raw_rewards) / len(raw_rewards) if raw_rewards else float("nan")
        red = acc.reduce(torch.tensor([mean_r], device=acc.device), "mean")
        means.append(float(red[0]))
        rec: dict[str, Any] = {"reward": float(red[0]), "step_s": loop.now() - t0}
        rec["rollouts_per_s"] = (
            cfg.group_size * cfg.prompts_per_step * cfg.grad_accum / max(rec["step_s"], 1e-9)
        )
        for k, vs in sorted(comp_vals.items()):
            rec[f"reward/{k}"] = sum(vs) / len(vs) if vs else None
        for k, vs in sorted(stats.items()):
            rec[k] = sum(vs) / len(vs)
        if cfg.eval_every and done % cfg.eval_every == 0 and main:
            rec.update(held_out_eval(adapter, data, cfg, char))
        run.end_step(done, rec, adapter, cfg, "grpo", progress)
    final = run.finish(adapter, cfg, {"steps": cfg.steps, "mean_reward_last": means[-1] if means else None})
    return GRPOResult(str(cfg.out), cfg.steps, resumed, str(final), means)


def held_out_eval(adapter: Any, data: Any, cfg: GRPOConfig, char: dict[str, Any]) -> dict[str, Any]:
    """Greedy replies to the character's first `eval_items` dialogue test items, scored by the engine
    (`eval/<metric>`), logged beside the reward to catch reward hacking. Partial by design: the
    record says how many items it used."""
    from rolescape.metrics.rewards import make_reward
    from rolescape.models.prompts import render_dialogue
    from rolescape.trainer.data import prompt_parts

    items = [r for r in data.task_items("dialogue") if r["character"] == cfg.data.character][: cfg.eval_items]
    if not items:
        return {}
    spec = SampleSpec(modalities=("text",), max_text_tokens=cfg.max_text_tokens, greedy=True)
    texts = []
    with torch.no_grad():
        for it in items:
            ro = adapter.sample(prompt_parts(render_dialogue(it, char, cfg.data.prompt_style)), 1, spec)
            texts.append(adapter.decode(ro)[0].get("text", ""))
    out: dict[str, Any] = {"eval/items": len(items)}
    for m in cfg.eval_metrics:
        rf = make_reward(m, data=data, profile=cfg.reward.profile, device=cfg.reward.device, task="dialogue")
        vals = [v for v in rf(texts, ids=[it["id"] for it in items]) if v is not None]
        out[f"eval/{m}"] = sum(vals) / len(vals) if vals else None
    return out
