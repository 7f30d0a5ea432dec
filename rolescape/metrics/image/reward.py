"""`paper_reward` (t2i_vqa): the release's GRPO reward, derived from the other families' scores.

paper_reward = 0.3·paper_vqa + 0.45·paper_clip_t + 0.1·lpips_div + 0.15·paper_dino_penalty (weights of
`config/personalized_t2i_bagel.yaml`, the run config the release's README uses; option
`paper_reward_weights` overrides them). Components are per-item means over the item's images, and the
reward is linear in them, so it equals the mean of the per-image rewards.

Missing components: the reward is None unless all four are present. The release instead adds 0 for a
singleton prompt group's diversity and for a DINO failure; a reward built from a silently zeroed term
is not comparable with one that has it, so an item with one image (no `lpips_div`) has no
paper_reward. When a component's model cannot be loaded the reward is skipped with that reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rolescape.errors import ModelUnavailable
from rolescape.metrics.base import ItemBatch, MetricFamily, ScoreContext, Scores

PAPER_WEIGHTS: dict[str, float] = {
    "paper_vqa": 0.3,
    "paper_clip_t": 0.45,
    "lpips_div": 0.1,
    "paper_dino_penalty": 0.15,
}
# the encoder behind each component, checked at prepare time
COMPONENT_ENCODERS = {
    "paper_vqa": "blip_vqa",
    "paper_clip_t": "clip",
    "lpips_div": "lpips",
    "paper_dino_penalty": "dino",
}


def paper_reward(scores: dict[str, Any], weights: dict[str, float] = PAPER_WEIGHTS) -> float | None:
    """Σ weight·component, or None when any component is missing."""
    total = 0.0
    for k, w in weights.items():
        v = scores.get(k)
        if v is None:
            return None
        total += w * float(v)
    return total


class PaperRewardFamily(MetricFamily):
    name = "paper_reward"
    tasks = ("t2i_vqa",)
    depends_on = ("vqa", "image_text", "diversity", "image_identity")
    uses_device = False

    def __init__(self) -> None:
        self.weights = dict(PAPER_WEIGHTS)

    def metric_names(self, task: str) -> list[str]:
        return ["paper_reward"] if task in self.tasks else []

    def prepare(self, ctx: ScoreContext, tasks: Sequence[str]) -> None:
        from rolescape.metrics.encoders import get_encoder

        w = (ctx.options or {}).get("paper_reward_weights")
        if w:
            unknown = set(w) - set(PAPER_WEIGHTS)
            if unknown:
                raise ModelUnavailable(f"paper_reward_weights: unknown components {sorted(unknown)}")
            self.weights = {k: float(v) for k, v in w.items()}
        missing = []
        for comp, enc in COMPONENT_ENCODERS.items():
            if comp not in self.weights:
                continue
            try:
                get_encoder(enc, ctx)  # shared with the component's family: loaded once per run
            except ModelUnavailable as e:
                missing.append(f"{comp}: {e}")
        if missing:
            raise ModelUnavailable("paper_reward needs every component; " + "; ".join(missing))

    def version(self) -> str:
        return f"{self.name}|" + ",".join(f"{k}={v}" for k, v in sorted(self.weights.items()))

    def score(self, batch: ItemBatch, ctx: ScoreContext) -> list[Scores]:
        return [{} for _ in batch.items]  # computed in derive, once the components are known

    def derive(self, scores: Scores) -> Scores:
        return {"paper_reward": paper_reward(scores, self.weights)}
