"""Which direction is better, and which metric heads a task: the one place the leaderboard asks.

Both come from the declared metrics (`rolescape.metrics.declared`, protocol v2): direction is declared
next to each metric, and a task's headline is the first present of its declared preference list, else
the first present metric that is declared headline-eligible. A metric no family declares (a
third-party family) falls back to the naming rule for direction.
"""

from __future__ import annotations

from collections.abc import Iterable

from rolescape.metrics.declared import declaration, headline_eligible, headline_preference, higher_is_better
from rolescape.schemas.tasks import TASKS

HEADLINE_PREFERENCE: dict[str, tuple[str, ...]] = {t: headline_preference(t) for t in TASKS}
NOT_ELIGIBLE_MARK = "‡"
NOT_ELIGIBLE_NOTE = (
    f"{NOT_ELIGIBLE_MARK}: not eligible as a headline under protocol v2 (copying the training data can win "
    "it, or it does not order the baselines; `rolescape meta-eval`)."
)

_LOWER_BETTER_SUFFIXES = ("no_face", "_unparsed", "_unparseable", "_failures")


def lower_is_better(metric: str) -> bool:
    """The declared direction; undeclared: failure rates (no face, unparsed, judge failures) are low-better."""
    if declaration(metric) is not None:
        return not higher_is_better(metric)
    return metric.startswith("no_") or metric.endswith(_LOWER_BETTER_SUFFIXES) or metric == "missing"


def eligible(task: str, metric: str) -> bool:
    """Whether `metric` may head `task` (declared eligibility; see rolescape.metrics.declared)."""
    return headline_eligible(task, metric)


def headline_metric(task: str, available: Iterable[str]) -> str | None:
    """The headline of `task` among the metrics that have a value (`available`), or None if none has."""
    present = sorted(set(available))
    for m in HEADLINE_PREFERENCE.get(task, ()):
        if m in present:
            return m
    ok = [m for m in present if eligible(task, m)]
    return ok[0] if ok else (present[0] if present else None)


__all__ = [
    "HEADLINE_PREFERENCE",
    "NOT_ELIGIBLE_MARK",
    "NOT_ELIGIBLE_NOTE",
    "eligible",
    "headline_metric",
    "lower_is_better",
]
