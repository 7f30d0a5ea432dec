"""`reference`: the ground truth as a prediction, the ceiling of every reference-based metric."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rolescape.baselines.base import Baseline, BaselineContext, BaselinePrediction


class ReferenceBaseline(Baseline):
    name = "reference"
    summary = "ground-truth responses, images and answer keys (the ceiling)"
    tasks = ("roleplay", "t2i", "knowledge_mcq", "visual_mcq", "dialogue")
    not_answered = {
        "t2i_vqa": "no ground-truth image exists for GRPO prompts; `retrieval` answers them with the "
        "nearest train image",
        "memorization": "no reference answer exists (the profile is a reference, not an answer)",
        "personality": "no reference answer exists (the profile is a reference, not an answer)",
    }

    def predict(
        self, task: str, items: Sequence[dict[str, Any]], ctx: BaselineContext
    ) -> list[BaselinePrediction]:
        out: list[BaselinePrediction] = []
        for it in items:
            if task == "roleplay":
                p = BaselinePrediction(
                    it["id"],
                    text=it["reference_response"],
                    image=it["reference_image"]["bytes"],
                    source=it.get("reference_image_key"),
                )
            elif task == "t2i":
                p = BaselinePrediction(
                    it["id"], image=it["reference_image"]["bytes"], source=it.get("reference_image_key")
                )
            elif task == "dialogue":
                p = BaselinePrediction(it["id"], text=it["reference_response"])
            else:  # knowledge_mcq, visual_mcq
                p = BaselinePrediction(it["id"], choice=it["answer_key"])
            out.append(p)
        return out
