"""Paired bootstrap of the difference between two systems on the items both were scored on.

The statistic matches the task score of the protocol: the macro mean over characters of per-item
differences. Items are resampled with replacement within each character (every character keeps its
weight), with a seed derived from the comparison's name, so the result does not depend on the order
in which comparisons are made. The p-value is two-sided: how often the resampled difference falls on
the other side of zero, doubled.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import polars as pl


@dataclass(frozen=True)
class PairedResult:
    delta: float  # macro mean over characters of (a - b) on the common items
    p_value: float  # two-sided
    n_common: int


def comparison_seed(base: int, *names: str) -> list[int]:
    return [base, zlib.crc32("\x1f".join(names).encode("utf-8"))]


def paired_bootstrap(
    a: dict[str, float],
    b: dict[str, float],
    character_of: dict[str, str],
    *,
    n_resamples: int = 1000,
    seed: list[int] | int = 0,
) -> PairedResult | None:
    """Compare `a` and `b` (item id -> value). None when fewer than two items are shared."""
    import numpy as np

    common = sorted(set(a) & set(b))
    if len(common) < 2:
        return None
    groups: dict[str, list[float]] = defaultdict(list)
    for i in common:
        groups[character_of.get(i, "")].append(a[i] - b[i])
    diffs = [np.asarray(groups[c], dtype=np.float64) for c in sorted(groups)]
    return bootstrap_groups(diffs, len(common), n_resamples=n_resamples, seed=seed)


def paired_columns(
    a: np.ndarray,
    b: np.ndarray,
    character_codes: np.ndarray,
    *,
    n_resamples: int = 1000,
    seed: list[int] | int = 0,
) -> PairedResult | None:
    """The same test on two value columns of one pivot (NaN = no value), rows sorted by (character,
    item id) and `character_codes` ascending with the characters' sorted order: no per-item Python."""
    import numpy as np

    both = ~np.isnan(a) & ~np.isnan(b)
    n = int(np.count_nonzero(both))
    if n < 2:
        return None
    d = a[both] - b[both]
    bounds = [0, *(np.flatnonzero(np.diff(character_codes[both])) + 1).tolist(), n]
    groups = [d[i:j] for i, j in zip(bounds, bounds[1:], strict=False)]  # views, as np.split makes
    return bootstrap_groups(groups, n, n_resamples=n_resamples, seed=seed)


def bootstrap_groups(
    diffs: list[np.ndarray], n_common: int, *, n_resamples: int, seed: list[int] | int
) -> PairedResult:
    """The resampling itself: per-character differences, in the characters' sorted order."""
    import numpy as np

    delta = float(np.mean([np.add.reduce(d) / len(d) for d in diffs]))  # d.mean(), minus its overhead
    rng = np.random.default_rng(seed)
    boot = np.zeros(n_resamples, dtype=np.float64)
    for d in diffs:
        idx = rng.integers(0, len(d), size=(n_resamples, len(d)))
        boot += np.add.reduce(d[idx], axis=1) / len(d)  # what .mean(axis=1) computes, minus its overhead
    boot /= len(diffs)
    below = int(np.count_nonzero(boot <= 0.0))
    above = int(np.count_nonzero(boot >= 0.0))
    p = min(1.0, 2.0 * (min(below, above) + 1) / (n_resamples + 1))
    return PairedResult(delta=delta, p_value=p, n_common=n_common)


def tests_against_best(
    part: pl.DataFrame, best: str, seeds: dict[str, list[int]], *, n_resamples: int
) -> dict[str, PairedResult | None]:
    """`best` against each run of `seeds` on one (task, metric): `part` holds its per-item values
    (run, character, item_id, value; no nulls), pivoted once to one column per run."""
    import numpy as np
    import polars as pl

    pos = {label: str(i) for i, label in enumerate([best, *seeds])}  # never labels: one may be "character"
    part = part.filter(pl.col("run").is_in(list(pos))).with_columns(pl.col("run").replace_strict(pos))
    if pos[best] not in set(part["run"].unique().to_list()):
        return dict.fromkeys(seeds)
    piv = part.pivot(on="run", index=["character", "item_id"], values="value").sort("character", "item_id")
    codes = piv["character"].rank("dense").to_numpy()
    a = piv[pos[best]].cast(pl.Float64).to_numpy()
    return {
        label: paired_columns(
            a,
            piv[pos[label]].cast(pl.Float64).to_numpy(),
            np.asarray(codes),
            n_resamples=n_resamples,
            seed=seed,
        )
        if pos[label] in piv.columns
        else None
        for label, seed in seeds.items()
    }
