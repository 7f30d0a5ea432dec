"""`diversity`: how different are the images generated for one prompt? LPIPS-alex (profile `paper`).

`lpips_div` = mean LPIPS(x_i, x_j) over all unordered pairs i<j of the item's images (the release's
DiversityScorer, §5.5: AlexNet, v0.1, inputs in [-1, 1], native resolution). An item with fewer than
two images gets None (the metric does not apply; the release gives a singleton group 0). The release
groups a batch's images by identical prompt string; here the group is the item (one prompt = one
item), so two prompts that happen to share a text are never pooled.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rolescape.metrics.base import ItemBatch, MetricFamily, ScoreContext, Scores
from rolescape.metrics.image._decode import decode_source, prediction_sources


class DiversityFamily(MetricFamily):
    name = "diversity"
    tasks = ("roleplay", "t2i", "t2i_vqa")

    def __init__(self) -> None:
        self.lpips: Any = None

    def metric_names(self, task: str) -> list[str]:
        return ["lpips_div"] if task in self.tasks else []

    def prepare(self, ctx: ScoreContext, tasks: Sequence[str]) -> None:
        from rolescape.metrics.encoders import get_encoder

        self.lpips = get_encoder("lpips", ctx)

    def version(self) -> str:
        i = self.lpips.info if self.lpips is not None else None
        return f"{self.name}|{i.id}@{i.revision}/{i.dtype}/{i.preprocessing}" if i else self.name

    def score(self, batch: ItemBatch, ctx: ScoreContext) -> list[Scores]:
        out: list[Scores] = []
        for srcs in prediction_sources(batch, ctx):
            if len(srcs) < 2:
                out.append({"lpips_div": None})
                continue
            images = [decode_source(s, ctx.alpha) for s in srcs]
            out.append({"lpips_div": self.lpips.mean_pairwise(images)})
        return out
