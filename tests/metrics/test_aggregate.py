"""Aggregation: per-character means, macro mean, stratified bootstrap interval."""

from __future__ import annotations

import random

import numpy as np
import pytest

from rolescape.metrics.aggregate import (
    bootstrap_ci,
    character_means,
    macro_mean,
    summarize,
    summarize_task,
    values_by_character,
)
from rolescape.schemas.results import ItemScore


def items(spec: dict[str, list[float | None]], metric: str = "m") -> list[ItemScore]:
    return [
        ItemScore(id=f"t/{c}/{i:03d}", task="t", character=c, key="k", metrics={metric: v})
        for c, vals in spec.items()
        for i, v in enumerate(vals)
    ]


def test_macro_mean_weighs_characters_equally() -> None:
    vals = {"a": [1.0], "b": [0.0, 0.0, 0.0]}
    per = character_means(vals)
    assert per == {"a": 1.0, "b": 0.0}
    assert macro_mean(per) == 0.5  # the micro mean would be 0.25
    s = summarize(vals)
    assert s.mean == 0.5 and s.n == 4 and s.per_character == {"a": 1.0, "b": 0.0}


def test_macro_mean_of_nothing_is_none() -> None:
    assert macro_mean({}) is None
    s = summarize({})
    assert (s.mean, s.ci_low, s.ci_high, s.n) == (None, None, None, 0)


def test_bootstrap_is_reproducible_and_contains_the_mean() -> None:
    rng = random.Random(3)
    vals = {
        c: [float(rng.random() < p) for _ in range(n)]
        for c, p, n in (("a", 0.2, 10), ("b", 0.5, 30), ("c", 0.9, 7), ("d", 0.6, 12))
    }
    lo1, hi1 = bootstrap_ci(vals, seed=0)
    lo2, hi2 = bootstrap_ci(vals, seed=0)
    assert (lo1, hi1) == (lo2, hi2)
    mean = macro_mean(character_means(vals))
    assert lo1 < mean < hi1
    assert 0.0 <= lo1 and hi1 <= 1.0
    assert bootstrap_ci(vals, seed=1) != (lo1, hi1)  # the seed matters
    s1, s2 = summarize(vals, seed=5), summarize(vals, seed=5)
    assert s1 == s2 and s1.ci_low <= s1.mean <= s1.ci_high


def test_bootstrap_resamples_within_characters() -> None:
    # constant characters have no within-character variance: every stratified resample gives the mean
    vals = {"a": [1.0] * 5, "b": [0.0] * 50}
    assert bootstrap_ci(vals) == (0.5, 0.5)
    # a pooled (unstratified) bootstrap would vary with how many 'a' items were drawn; this one cannot


def test_bootstrap_matches_a_direct_stratified_resampling() -> None:
    vals = {"a": [0.1, 0.9, 0.4], "b": [0.3, 0.8]}
    rng = np.random.default_rng(7)
    macro = np.zeros(1000)
    for c in sorted(vals):
        v = np.asarray(vals[c])
        macro += v[rng.integers(0, len(v), size=(1000, len(v)))].mean(axis=1)
    macro /= 2
    expect = tuple(float(x) for x in np.quantile(macro, [0.025, 0.975]))
    assert bootstrap_ci(vals, seed=7, n_resamples=1000) == pytest.approx(expect)


def test_bootstrap_width_shrinks_with_more_items() -> None:
    rng = random.Random(0)
    small = {"a": [float(rng.random() < 0.5) for _ in range(10)]}
    big = {"a": [float(rng.random() < 0.5) for _ in range(1000)]}
    (lo_s, hi_s), (lo_b, hi_b) = bootstrap_ci(small), bootstrap_ci(big)
    assert hi_b - lo_b < hi_s - lo_s


def test_none_and_nan_are_not_values() -> None:
    its = items({"a": [1.0, None], "b": [0.0]})
    # the schema refuses a NaN score; built without validation, aggregation still treats it as missing
    with pytest.raises(ValueError, match="finite number"):
        items({"a": [float("nan")]})
    its.append(
        ItemScore.model_construct(id="t/a/009", task="t", character="a", key="k", metrics={"m": float("nan")})
    )
    assert values_by_character(its, "m") == {"a": [1.0], "b": [0.0]}
    s = summarize_task(its, ["m"])["m"]
    assert s.n == 2 and s.mean == 0.5


def test_summary_does_not_depend_on_item_order() -> None:
    rng = random.Random(1)
    its = items({c: [rng.random() for _ in range(8)] for c in ("x", "y", "z")})
    a = summarize_task(its, ["m"])
    shuffled = list(its)
    random.Random(2).shuffle(shuffled)
    assert summarize_task(shuffled, ["m"]) == a


def test_summarize_task_declared_first_then_extra_and_floors() -> None:
    its = [
        ItemScore(
            id="t/a/1", task="t", character="a", key="k", metrics={"z_extra": 1.0, "acc": 1.0, "never": None}
        )
    ]
    out = summarize_task(its, ["acc", "declared_missing"], floors={"acc": {"always_A": 0.25}})
    assert list(out) == ["acc", "declared_missing", "never", "z_extra"]
    assert out["acc"].floors == {"always_A": 0.25}
    assert out["declared_missing"].mean is None and out["never"].n == 0


def test_zero_resamples_gives_no_interval() -> None:
    assert bootstrap_ci({"a": [1.0, 0.0]}, n_resamples=0) == (None, None)
