"""`image_text`: does the generated image show what was asked (and said)? CLIP (profile `paper`).

* `clip_t` = cos(E_img(g), E_txt(prompt)), prompt tokenised to 77 tokens (truncated). The prompt is the
  item's `prompt` for t2i / t2i_vqa, and the scene's `t2i_instruction` for roleplay (a roleplay row's
  `prompt` is the whole role-play template, whose first 77 tokens are boilerplate).
* `paper_clip_t` = logit_scale.exp()·cos/30 with the release's image transform (§5.2): exactly the
  released reward's `logits_per_image / 30` (≈ 3.33·cos for the OpenAI weights, whose scale is 100).
* `xmodal` (roleplay) = cos(E_img(g), E_txt(response text)): does the image show what the character
  said. None without a response text.

Several images per item: the mean over its images.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rolescape.metrics.base import ItemBatch, MetricFamily, ScoreContext, Scores
from rolescape.metrics.image._decode import prediction_sources
from rolescape.schemas.tasks import RoleplayItem, T2IItem, T2IVQAItem, TaskItem

PAPER_CLIP_DIVISOR = 30.0


def prompt_text(item: TaskItem) -> str | None:
    """The text an image of this item should match ("" or None: nothing to match)."""
    if isinstance(item, RoleplayItem):
        return item.t2i_instruction or item.reference_generation_instruction
    return item.prompt if isinstance(item, (T2IItem, T2IVQAItem)) else None


class AlignmentFamily(MetricFamily):
    name = "image_text"
    tasks = ("roleplay", "t2i", "t2i_vqa")

    def __init__(self) -> None:
        self.clip: Any = None
        self._emb: dict[str, Any] = {}

    def metric_names(self, task: str) -> list[str]:
        if task not in self.tasks:
            return []
        return ["clip_t", "paper_clip_t"] + (["xmodal"] if task == "roleplay" else [])

    def prepare(self, ctx: ScoreContext, tasks: Sequence[str]) -> None:
        from rolescape.metrics.encoders import get_encoder

        self.clip = get_encoder("clip", ctx)

    def version(self) -> str:
        if self.clip is None:
            return self.name
        infos = "|".join(
            f"{i.name}={i.id}@{i.revision}/{i.dtype}/{i.preprocessing}" for i in self.clip.model_infos()
        )
        return f"{self.name}|{infos}|divisor={PAPER_CLIP_DIVISOR}"

    def score(self, batch: ItemBatch, ctx: ScoreContext) -> list[Scores]:
        import numpy as np

        from rolescape.metrics.encoders.pipeline import embedding_for

        sources = prediction_sources(batch, ctx)
        flat = [s for srcs in sources for s in srcs]
        persist = bool((ctx.options or {}).get("cache_predictions", True))
        img = embedding_for(self.clip.image, ctx, self._emb)(flat, persist=persist)
        img_paper = embedding_for(self.clip.paper_image, ctx, self._emb)(flat, persist=persist)

        prompts = [prompt_text(it) for it in batch.typed]
        responses = [p.text if batch.task == "roleplay" else None for p in batch.predictions]
        texts = sorted({t for t in prompts + responses if t})
        tvec = (
            dict(zip(texts, self.clip.encode_text(texts, batch_size=ctx.batch_size), strict=True))
            if texts
            else {}
        )
        scale = self.clip.logit_scale() / PAPER_CLIP_DIVISOR

        out: list[Scores] = []
        pos = 0
        for i, srcs in enumerate(sources):
            n = len(srcs)
            v, vp = img[pos : pos + n], img_paper[pos : pos + n]
            pos += n
            res: Scores = dict.fromkeys(self.metric_names(batch.task))
            p = prompts[i]
            if n and p:
                t = tvec[p]
                res["clip_t"] = float(np.mean([float(np.dot(x, t)) for x in v]))
                res["paper_clip_t"] = float(np.mean([scale * float(np.dot(x, t)) for x in vp]))
            r = responses[i]
            if batch.task == "roleplay" and n and r:
                t = tvec[r]
                res["xmodal"] = float(np.mean([float(np.dot(x, t)) for x in v]))
            out.append(res)
        return out
