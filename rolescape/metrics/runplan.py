"""The metric families of a run: built from names, classes or objects, prepared (an unavailable model
is recorded as skipped), and asked for one batch's scores (`score_batch`, also used by the rewards)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rolescape.errors import ModelUnavailable, RolescapeError
from rolescape.metrics.base import ItemBatch, MetricFamily, ScoreContext, Scores
from rolescape.schemas.results import (
    ModelInfo,
    SkippedMetric,
)

FamilySpec = str | type[MetricFamily] | MetricFamily


class FamilyError(RolescapeError):
    """A metric family broke its contract (wrong number of scores, ...)."""


# ----------------------------------------------------------------------------------------------------
# families


@dataclass
class ActiveFamily:
    family: MetricFamily
    tasks: list[str]


@dataclass
class FamilyPlan:
    active: list[ActiveFamily] = field(default_factory=list)
    skipped: list[SkippedMetric] = field(default_factory=list)
    # family name -> the models it loaded in prepare (their versions enter its resume key)
    models_of: dict[str, dict[str, ModelInfo]] = field(default_factory=dict)

    def for_task(self, task: str) -> list[MetricFamily]:
        return [a.family for a in self.active if task in a.tasks]


def family_name(spec: FamilySpec) -> str:
    if isinstance(spec, str):
        return spec
    if isinstance(spec, MetricFamily):
        return spec.name or type(spec).__name__
    return spec.name or spec.__name__


def instantiate_families(specs: Sequence[FamilySpec]) -> tuple[list[MetricFamily], list[SkippedMetric]]:
    """Resolve names through FAMILIES; an unimportable family module is skipped with the reason.

    An unknown name is a user error (with a "did you mean").
    """
    from rolescape.metrics.registry import FAMILIES

    fams: list[MetricFamily] = []
    skipped: list[SkippedMetric] = []
    seen: set[str] = set()
    for spec in specs:
        name = family_name(spec)
        if name in seen:
            continue
        seen.add(name)
        if isinstance(spec, MetricFamily):
            fams.append(spec)
            continue
        if isinstance(spec, str):
            try:
                cls = FAMILIES.get(spec)  # an unknown name raises UnknownNameError (a user error)
            except ImportError as e:
                skipped.append(
                    SkippedMetric(
                        task="*",
                        metric=f"{name}.*",
                        reason=f"family module unavailable: {type(e).__name__}: {e}",
                    )
                )
                continue
        else:
            cls = spec
        try:
            fams.append(cls())
        except (ModelUnavailable, ImportError) as e:
            skipped.append(SkippedMetric(task="*", metric=f"{name}.*", reason=f"{type(e).__name__}: {e}"))
    return fams, skipped


def prepare_families(
    fams: Sequence[MetricFamily],
    tasks: Sequence[str],
    ctx: ScoreContext,
    skipped: list[SkippedMetric] | None = None,
) -> FamilyPlan:
    """Call `prepare` once per family with the tasks it will score; ModelUnavailable/ImportError -> skipped."""
    plan = FamilyPlan(skipped=list(skipped or []))
    for fam in fams:
        ftasks = [t for t in tasks if t in fam.tasks]
        if not ftasks:
            continue
        n_before = len(ctx.skipped)
        shared, ctx.models = ctx.models, {}  # record which models this family loads
        try:
            fam.prepare(ctx, ftasks)
        except BaseException as e:
            ctx.models = shared
            if not isinstance(e, (ModelUnavailable, ImportError)):
                raise
            reason = str(e) if isinstance(e, ModelUnavailable) else f"{type(e).__name__}: {e}"
            for t in ftasks:
                for m in _safe_metric_names(fam, t):
                    plan.skipped.append(SkippedMetric(task=t, metric=m, reason=reason))
            del ctx.skipped[n_before:]
            continue
        own, ctx.models = ctx.models, shared
        ctx.models.update(own)
        plan.models_of[fam.name] = dict(sorted(own.items()))
        plan.active.append(ActiveFamily(fam, ftasks))
    for task, metric, reason in ctx.skipped:
        for t in tasks if task == "*" else [task]:
            if any(t in a.tasks and metric in _safe_metric_names(a.family, t) for a in plan.active):
                plan.skipped.append(SkippedMetric(task=t, metric=metric, reason=reason))
    uniq = {(s.task, s.metric): s for s in plan.skipped}
    plan.skipped = [uniq[k] for k in sorted(uniq)]
    return plan


def _safe_metric_names(fam: MetricFamily, task: str) -> list[str]:
    try:
        return list(fam.metric_names(task))
    except Exception:  # a family that cannot even name its metrics: report the family
        return [f"{fam.name}.*"]


def clean_value(v: Any) -> float | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return float(v)
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise FamilyError(f"metric value {v!r} is not a number") from None
    return None if math.isnan(f) or math.isinf(f) else f


def clean_info(info: Mapping[str, Any]) -> dict[str, str | int | float | bool | None]:
    out: dict[str, str | int | float | bool | None] = {}
    for k, v in info.items():
        if v is None or isinstance(v, (str, bool, int)):
            out[str(k)] = v
        elif isinstance(v, float):
            out[str(k)] = None if math.isnan(v) or math.isinf(v) else v
        else:
            out[str(k)] = str(v)
    return out


def score_batch(families: Sequence[MetricFamily], batch: ItemBatch, ctx: ScoreContext) -> list[Scores]:
    """Every family's scores for one chunk, merged per item, then every family's `derive` hook."""
    merged: list[Scores] = [{} for _ in batch.items]
    for fam in families:
        out = fam.score(batch, ctx)
        if len(out) != len(batch.items):
            raise FamilyError(
                f"metric family {fam.name!r} returned {len(out)} scores for "
                f"{len(batch.items)} items of task {batch.task!r}"
            )
        for d, s in zip(merged, out, strict=True):
            d.update({k: clean_value(v) for k, v in s.items()})
    for d in merged:
        for fam in families:
            d.update({k: clean_value(v) for k, v in fam.derive(dict(d)).items()})
    return merged
