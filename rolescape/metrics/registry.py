"""Lazy registry of metric families (see metrics/base.py). Names resolve on first use."""

from __future__ import annotations

from rolescape.metrics.base import MetricFamily
from rolescape.registry import Registry

FAMILIES: Registry[type[MetricFamily]] = Registry("metric family", MetricFamily)

# MCQ letters (no model)
FAMILIES.register("mcq", "rolescape.metrics.mcq:MCQFamily")
# image side (issue: rolescape score, image metrics)
FAMILIES.register("image_identity", "rolescape.metrics.image.identity:IdentityFamily")
FAMILIES.register("image_text", "rolescape.metrics.image.alignment:AlignmentFamily")
FAMILIES.register("vqa", "rolescape.metrics.image.vqa:VQAFamily")
FAMILIES.register("diversity", "rolescape.metrics.image.diversity:DiversityFamily")
FAMILIES.register("paper_reward", "rolescape.metrics.image.reward:PaperRewardFamily")
# text side
FAMILIES.register("text_ref", "rolescape.metrics.text.reference:ReferenceFamily")
FAMILIES.register("style", "rolescape.metrics.text.style:StyleFamily")
FAMILIES.register("persona", "rolescape.metrics.text.persona:PersonaFamily")
FAMILIES.register("judge", "rolescape.metrics.text.judge:JudgeFamily")
FAMILIES.register("text_copy", "rolescape.metrics.text.copy:TextCopyFamily")

# Families that run unless the user opts in explicitly (judge needs --judge-url).
DEFAULT_FAMILIES: tuple[str, ...] = (
    "mcq",
    "image_identity",
    "image_text",
    "vqa",
    "diversity",
    "paper_reward",
    "text_ref",
    "style",
    "persona",
    "text_copy",
)
