"""Aggregation (benchmark-protocol.md, "Aggregation and reporting").

Per item -> per-character mean -> task score = macro mean over characters (each character weighs the
same). The 95% interval is a stratified percentile bootstrap: each resample draws items with
replacement within every character (keeping its item count), then macro-averages; 1,000 resamples
with a fixed seed, so the interval is reproducible. Values are ordered by item id before resampling,
so the interval does not depend on the order in which items were scored.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from rolescape.schemas.results import ItemScore, MetricSummary

DEFAULT_BOOTSTRAP = 1000
DEFAULT_SEED = 0
CI_LEVEL = 0.95


def character_means(values: Mapping[str, Sequence[float]]) -> dict[str, float]:
    """character -> mean of its item values (characters without values are left out), sorted."""
    return {c: math.fsum(v) / len(v) for c, v in sorted(values.items()) if len(v)}


def macro_mean(per_character: Mapping[str, float]) -> float | None:
    """Mean over characters, each weighing the same; None when there are none."""
    if not per_character:
        return None
    return math.fsum(per_character[c] for c in sorted(per_character)) / len(per_character)


def bootstrap_ci(
    values: Mapping[str, Sequence[float]],
    *,
    n_resamples: int = DEFAULT_BOOTSTRAP,
    seed: int = DEFAULT_SEED,
    level: float = CI_LEVEL,
) -> tuple[float | None, float | None]:
    """Stratified percentile bootstrap interval of the macro mean.

    For every resample, each character's items are drawn with replacement (same count), averaged,
    and the character means are averaged. Same values and seed -> the same interval.
    """
    import numpy as np

    chars = [c for c in sorted(values) if len(values[c])]
    if not chars or n_resamples <= 0:
        return None, None
    rng = np.random.default_rng(seed)
    total = np.zeros(n_resamples, dtype=np.float64)
    for c in chars:
        v = np.asarray(values[c], dtype=np.float64)
        idx = rng.integers(0, len(v), size=(n_resamples, len(v)))
        total += v[idx].mean(axis=1)
    macro = total / len(chars)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(macro, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def summarize(
    values: Mapping[str, Sequence[float]],
    *,
    n_resamples: int = DEFAULT_BOOTSTRAP,
    seed: int = DEFAULT_SEED,
    floors: dict[str, float] | None = None,
) -> MetricSummary:
    """One metric of one task: macro mean, bootstrap interval, n and per-character means."""
    per_char = character_means(values)
    mean = macro_mean(per_char)
    lo, hi = bootstrap_ci(values, n_resamples=n_resamples, seed=seed) if mean is not None else (None, None)
    n = sum(len(v) for v in values.values())
    return MetricSummary(mean=mean, ci_low=lo, ci_high=hi, n=n, per_character=per_char, floors=floors)


def values_by_character(items: Iterable[ItemScore], metric: str) -> dict[str, list[float]]:
    """character -> the metric's non-None values, ordered by item id (NaN is treated as missing)."""
    out: dict[str, list[float]] = {}
    for it in sorted(items, key=lambda x: x.id):
        v = it.metrics.get(metric)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        out.setdefault(it.character, []).append(float(v))
    return out


def summarize_task(
    items: Sequence[ItemScore],
    metrics: Sequence[str],
    *,
    n_resamples: int = DEFAULT_BOOTSTRAP,
    seed: int = DEFAULT_SEED,
    floors: Mapping[str, dict[str, float]] | None = None,
) -> dict[str, MetricSummary]:
    """metric -> summary, for the declared `metrics` plus any other metric the items carry.

    Declared metrics come first in their given order, then undeclared ones sorted by name.
    """
    names = list(dict.fromkeys(metrics))
    extra = sorted({m for it in items for m in it.metrics} - set(names))
    floors = floors or {}
    return {
        m: summarize(values_by_character(items, m), n_resamples=n_resamples, seed=seed, floors=floors.get(m))
        for m in names + extra
    }
