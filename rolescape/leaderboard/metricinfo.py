"""Which direction is better, and which metric heads a task: the one place the leaderboard asks.

Today both are rules on metric names; protocol v2 declares them next to each metric. Every table,
rank and plot goes through `lower_is_better` and `headline_metric`, so switching to declared metric
specs means editing this module only.
"""

from __future__ import annotations

from collections.abc import Iterable

# The metric that represents a task in the overall table and the per-character breakdown: the first
# one present in any run wins; otherwise the alphabetically first metric with a value.
HEADLINE_PREFERENCE: dict[str, tuple[str, ...]] = {
    "roleplay": ("clip_i", "dino", "face_sim", "effnet_i", "dlib_face_sim", "xmodal", "ref_sim", "style_acc"),
    "t2i": ("clip_i", "dino", "face_sim", "effnet_i", "dlib_face_sim", "clip_t"),
    "t2i_vqa": ("vqa", "paper_reward", "paper_vqa", "clip_t", "clip_i", "dino", "effnet_i"),
    "knowledge_mcq": ("mcq_acc", "mcq_kappa"),
    "visual_mcq": ("mcq_acc", "mcq_kappa"),
    "dialogue": ("ref_sim", "style_acc", "rouge_l"),
    "memorization": ("judge_memorization", "persona_sim", "style_acc", "style_p"),
    "personality": ("judge_personality", "style_acc", "style_p", "persona_sim"),
}

_LOWER_BETTER_SUFFIXES = ("no_face", "_unparsed", "_unparseable", "_failures")


def lower_is_better(metric: str) -> bool:
    """Rates of failure (no face found, unparsed answer, judge failure) are better low; scores high."""
    return metric.startswith("no_") or metric.endswith(_LOWER_BETTER_SUFFIXES) or metric == "missing"


def headline_metric(task: str, available: Iterable[str]) -> str | None:
    """The headline of `task` among the metrics that have a value (`available`), or None if none has."""
    present = sorted(set(available))
    for m in HEADLINE_PREFERENCE.get(task, ()):
        if m in present:
            return m
    return present[0] if present else None


__all__ = ["HEADLINE_PREFERENCE", "headline_metric", "lower_is_better"]
