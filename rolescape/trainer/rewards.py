"""GRPO rewards: named presets over rolescape's metrics engine, plus verifiable rewards for tests.

A component is a metric name scored through `rolescape.metrics.rewards.make_reward` (None = does
not apply, ignored in the weighted sum) or a verifiable reward: `code_share:<c>` (share of the image
codes equal to c) and `name_in_text` (1 when the character's name is in the reply). Image metrics
apply to image rollouts, text metrics to text rollouts; anything else gets None.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rolescape.errors import InputError
from rolescape.trainer.config import RewardConfig

# The release's Flow-GRPO reward (rolescape20-release.md; `paper_reward` in benchmark-protocol.md).
PAPER_PRESET = {"paper_vqa": 0.3, "paper_clip_t": 0.45, "lpips_div": 0.1, "paper_dino_penalty": 0.15}
# CMRP: identity + prompt alignment (+ cross-modal consistency) for images; persona + style for text.
CMRP_PRESET = {
    "paper": {"clip_i": 0.4, "clip_t": 0.4, "xmodal": 0.2, "persona_sim": 0.5, "style_acc": 0.5},
    # offline: no CLIP / cross-modal encoder installs from PyPI, so identity is effnet_i alone
    "offline": {"effnet_i": 1.0, "persona_sim": 0.5, "style_acc": 0.5},
}
PRESETS = ("paper", "cmrp")
IMAGE_TASK = {
    "paper_vqa": "t2i_vqa",
    "paper_clip_t": "t2i_vqa",
    "lpips_div": "t2i_vqa",
    "paper_dino_penalty": "t2i_vqa",
    "paper_reward": "t2i_vqa",
    "xmodal": "roleplay",
}
TEXT_TASK = "dialogue"

Completion = dict[str, Any]
ComponentFn = Callable[[Sequence[Completion], Mapping[str, Any]], list[float | None]]


def preset_components(cfg: RewardConfig) -> dict[str, float]:
    """The {component: weight} a config names: its preset (profile-aware), updated by `components`."""
    out: dict[str, float] = {}
    if cfg.preset is not None:
        if cfg.preset == "paper":
            out.update(PAPER_PRESET)
        elif cfg.preset == "cmrp":
            out.update(CMRP_PRESET[cfg.profile])
        else:
            raise InputError(f"reward.preset: unknown preset {cfg.preset!r} (one of {', '.join(PRESETS)})")
    out.update(cfg.components)
    if not out:
        raise InputError("reward: give a preset (paper | cmrp) or components {metric: weight}")
    return out


def _code_share(code: int) -> ComponentFn:
    def fn(comps: Sequence[Completion], fields: Mapping[str, Any]) -> list[float | None]:
        out: list[float | None] = []
        for c in comps:
            codes = c.get("image_codes")
            out.append(
                None if codes is None or len(codes) == 0 else sum(int(x) == code for x in codes) / len(codes)
            )
        return out

    return fn


def _name_in_text(comps: Sequence[Completion], fields: Mapping[str, Any]) -> list[float | None]:
    name = str(fields.get("name", "")).lower()
    return [None if c.get("text") is None else float(bool(name) and name in c["text"].lower()) for c in comps]


def _metric(metric: str, cfg: RewardConfig, data: Any) -> ComponentFn:
    from rolescape.metrics.rewards import find_metric, make_reward

    task = IMAGE_TASK.get(metric)
    if task is None:
        try:
            _, task = find_metric(metric, TEXT_TASK)
        except Exception:
            task = None
    rf = make_reward(metric, data=data, profile=cfg.profile, device=cfg.device, task=task)
    wants_text = rf.task in ("dialogue", "memorization", "personality")

    def fn(comps: Sequence[Completion], fields: Mapping[str, Any]) -> list[float | None]:
        key = "text" if wants_text else "image"
        idx = [i for i, c in enumerate(comps) if c.get(key) is not None]
        out: list[float | None] = [None] * len(comps)
        if not idx:
            return out
        n = len(idx)
        kwargs = {k: [v] * n for k, v in fields.items() if k not in ("name",) and v is not None}
        if "prompt" in kwargs:
            kwargs["prompts"] = kwargs.pop("prompt")
        vals = rf([comps[i][key] for i in idx], **kwargs)
        for i, v in zip(idx, vals, strict=True):
            out[i] = v
        return out

    return fn


class GroupReward:
    """Scores one group of completions: {component: [value|None] * G} (weights applied by the loop)."""

    def __init__(self, cfg: RewardConfig, data: Any = None):
        self.cfg = cfg
        self.weights = preset_components(cfg)
        self.fns: dict[str, ComponentFn] = {}
        for name in sorted(self.weights):
            if name.startswith("code_share:"):
                try:
                    self.fns[name] = _code_share(int(name.split(":", 1)[1]))
                except ValueError:
                    raise InputError(f"reward.components: {name!r} needs an integer code") from None
            elif name == "name_in_text":
                self.fns[name] = _name_in_text
            else:
                self.fns[name] = _metric(name, cfg, data)

    def __call__(
        self, comps: Sequence[Completion], fields: Mapping[str, Any]
    ) -> dict[str, list[float | None]]:
        return {name: fn(comps, fields) for name, fn in self.fns.items()}
