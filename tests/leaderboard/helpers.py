"""Deterministic results files built through the Results schema (plus their items.jsonl)."""

from __future__ import annotations

import json
import random
from pathlib import Path

from rolescape.io import write_jsonl_atomic
from rolescape.schemas.results import (
    DatasetInfo,
    ItemScore,
    MetricSummary,
    Provenance,
    Results,
    RunConfig,
    SkippedMetric,
    TaskResult,
)

CHARACTERS = ("alpha", "beta", "gamma")
MANIFEST = "ab" * 32

# task -> metric -> (base value per character, spread); a model adds its own offset
DESIGN: dict[str, dict[str, tuple[float, float]]] = {
    "roleplay": {"clip_i": (0.70, 0.05), "clip_i_novel": (0.62, 0.05), "ref_sim": (0.40, 0.10)},
    "knowledge_mcq": {"mcq_acc": (0.60, 0.0)},
    "memorization": {"persona_sim": (0.30, 0.05)},
}


def item_scores(
    model: str, offset: float, seed: int, n_per_char: int = 6, tasks: tuple[str, ...] | None = None
) -> list[ItemScore]:
    rng = random.Random(f"{model}-{seed}")
    out: list[ItemScore] = []
    for task, metrics in DESIGN.items():
        if tasks is not None and task not in tasks:
            continue
        for ci, ch in enumerate(CHARACTERS):
            for i in range(n_per_char):
                vals: dict[str, float | None] = {}
                for m, (base, spread) in metrics.items():
                    if m == "mcq_acc":
                        vals[m] = 1.0 if rng.random() < base + offset else 0.0
                    else:
                        vals[m] = round(base + offset + 0.02 * ci + rng.uniform(-spread, spread), 4)
                out.append(
                    ItemScore(
                        id=f"{task}/{ch}/{i}", task=task, character=ch, key=f"k{task}{ch}{i}", metrics=vals
                    )
                )
    return out


def _summary(values: dict[str, list[float]], seed: int) -> MetricSummary:
    per_char = {c: sum(v) / len(v) for c, v in sorted(values.items()) if v}
    mean = sum(per_char.values()) / len(per_char)
    rng = random.Random(seed)
    boots = []
    for _ in range(200):
        m = []
        for v in values.values():
            s = [v[rng.randrange(len(v))] for _ in v]
            m.append(sum(s) / len(s))
        boots.append(sum(m) / len(m))
    boots.sort()
    return MetricSummary(
        mean=round(mean, 6),
        ci_low=round(boots[5], 6),
        ci_high=round(boots[194], 6),
        n=sum(len(v) for v in values.values()),
        per_character={k: round(v, 6) for k, v in per_char.items()},
    )


def make_results(
    model: str,
    items: list[ItemScore],
    *,
    protocol: str = "1",
    manifest: str = MANIFEST,
    profile: str = "offline",
    skipped: list[SkippedMetric] | None = None,
) -> Results:
    tasks: dict[str, TaskResult] = {}
    for task in sorted({s.task for s in items}):
        rows = [s for s in items if s.task == task]
        metrics: dict[str, MetricSummary] = {}
        for m in sorted({k for s in rows for k in s.metrics}):
            vals: dict[str, list[float]] = {}
            for s in rows:
                v = s.metrics.get(m)
                if v is not None:
                    vals.setdefault(s.character, []).append(v)
            metrics[m] = _summary(vals, seed=len(m) + len(task))
            if m == "mcq_acc":
                metrics[m].floors = {"always_C": 0.5, "longest_option": 0.4}
        tasks[task] = TaskResult(
            n_items=len(rows), n_predicted=len(rows), n_scored=len(rows), coverage=1.0, metrics=metrics
        )
    return Results(
        model_name=model,
        dataset=DatasetInfo(path="built", manifest_sha256=manifest, source="fixture"),
        config=RunConfig(
            profile=profile,
            tasks=sorted(tasks),
            device="cpu",
            batch_size=8,
            alpha="white",
            seed=0,
            bootstrap=200,
            allow_partial=False,
            predictions="predictions.jsonl",
            predictions_sha256="cd" * 32,
        ),
        provenance=Provenance(
            rolescape_version="0.1.0",
            git_hash="0123456789abcdef",
            protocol_version=protocol,
            python="3.11",
            started_at="2026-01-01T00:00:00Z",
            finished_at="2026-01-01T00:01:00Z",
            wall_time_s=60.0,
        ),
        tasks=tasks,
        skipped=skipped or [],
    )


def write_run(
    root: Path,
    model: str,
    offset: float,
    seed: int = 0,
    *,
    with_items: bool = True,
    tasks: tuple[str, ...] | None = None,
    **kw: object,
) -> Path:
    items = item_scores(model, offset, seed, tasks=tasks)
    res = make_results(model, items, **kw)  # type: ignore[arg-type]
    run = root / model
    run.mkdir(parents=True, exist_ok=True)
    (run / "results.json").write_text(
        json.dumps(res.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"
    )
    if with_items:
        write_jsonl_atomic(run / "items.jsonl", [s.model_dump(mode="json") for s in items])
    return run


def three_runs(root: Path) -> list[Path]:
    """A strong, a middling and a weak system: the weak one is far enough to be significant."""
    return [
        write_run(root, "strong", 0.15),
        write_run(root, "middle", 0.12),
        write_run(
            root,
            "weak",
            -0.2,
            skipped=[SkippedMetric(task="roleplay", metric="face_sim", reason="no face model offline")],
        ),
    ]
