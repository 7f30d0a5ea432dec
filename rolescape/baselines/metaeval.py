"""`rolescape meta-eval`: do the metrics measure what they claim? (protocol v2)

Runs the baselines `reference`, `retrieval`, `shuffled` and `prior` through the scorer on a built
dataset and reports, per task and metric (direction from `rolescape.metrics.declared`):

(a) discriminability: per-item AUROC of own-character answers (`reference`, else `retrieval` where no
    reference exists) against `shuffled` answers, P(own better) + 1/2 P(tie);
(b) copy-robustness: `retrieval - reference` (macro mean over characters of per-item differences, in
    the better direction) with its paired-bootstrap 95 % interval (items resampled within characters);
    it fails when the whole interval is above zero (copying beats the ground truth);
(c) ordering: reference >= retrieval (or tied within (b)'s interval) and retrieval > shuffled;
(d) for MCQ metrics, the gap of every baseline to the best answer-key floor.

A metric that fails (b) or (c) is not eligible as a headline. Output in `out`: `meta_eval.json`
(deterministic: sorted keys, no timestamps), `meta_eval.md` and `meta_eval.png`, written atomically;
the baseline predictions and runs go to `out/baselines/<name>/` and `out/runs/<name>/`, so an
interrupted meta-eval resumes (the scorer's items.jsonl) instead of starting over.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rolescape.errors import InputError
from rolescape.metrics.base import ProgressFn

BASELINES = ("reference", "retrieval", "shuffled", "prior")
META_FILE, MD_FILE, PLOT_FILE = "meta_eval.json", "meta_eval.md", "meta_eval.png"
N_RESAMPLES = 1000


@dataclass(frozen=True)
class PairedInterval:
    delta: float
    ci_low: float
    ci_high: float
    n: int


def auroc(pos: Sequence[float], neg: Sequence[float]) -> float | None:
    """P(pos > neg) + 1/2 P(pos == neg) over all pairs (Mann-Whitney); None when a side is empty."""
    if not len(pos) or not len(neg):
        return None
    a, b = np.asarray(pos, dtype=np.float64), np.asarray(neg, dtype=np.float64)
    b_sorted = np.sort(b)
    less = np.searchsorted(b_sorted, a, side="left")
    leq = np.searchsorted(b_sorted, a, side="right")
    return float((less + 0.5 * (leq - less)).sum() / (len(a) * len(b)))


def paired_interval(
    a: Mapping[str, float],
    b: Mapping[str, float],
    character_of: Mapping[str, str],
    *,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
    alpha: float = 0.05,
) -> PairedInterval | None:
    """Macro mean over characters of (a - b) on the shared items, with a percentile bootstrap
    interval (items resampled within each character). None with fewer than two shared items."""
    common = sorted(set(a) & set(b))
    if len(common) < 2:
        return None
    groups: dict[str, list[float]] = defaultdict(list)
    for i in common:
        groups[character_of.get(i, "")].append(a[i] - b[i])
    diffs = [np.asarray(groups[c], dtype=np.float64) for c in sorted(groups)]
    delta = float(np.mean([d.mean() for d in diffs]))
    rng = np.random.default_rng(seed)
    boot = np.zeros(n_resamples, dtype=np.float64)
    for d in diffs:
        boot += d[rng.integers(0, len(d), size=(n_resamples, len(d)))].mean(axis=1)
    boot /= len(diffs)
    lo, hi = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
    return PairedInterval(delta=delta, ci_low=float(lo), ci_high=float(hi), n=len(common))


def _macro(values: Mapping[str, float], character_of: Mapping[str, str]) -> float | None:
    per: dict[str, list[float]] = defaultdict(list)
    for i, v in values.items():
        per[character_of.get(i, "")].append(v)
    return float(np.mean([np.mean(v) for _, v in sorted(per.items())])) if per else None


def _r(x: float | None, nd: int = 4) -> float | None:
    return None if x is None else round(float(x), nd)


def load_item_values(run_dir: Path) -> tuple[dict[str, dict[str, dict[str, float]]], dict[str, str]]:
    """{task: {metric: {item id: value}}} and {item id: character} from a run's items.jsonl."""
    from rolescape.schemas.results import ItemScore

    path = run_dir / "items.jsonl"
    out: dict[str, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    chars: dict[str, str] = {}
    if not path.is_file():
        return {}, {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = ItemScore.model_validate_json(line)
        except ValueError:
            raise InputError("malformed items.jsonl line", path=path, where=str(lineno)) from None
        chars[rec.id] = rec.character
        for m, v in rec.metrics.items():
            if v is not None:
                out[rec.task][m][rec.id] = float(v)
    return {t: dict(ms) for t, ms in out.items()}, chars


def analyse(
    values: Mapping[str, Mapping[str, Mapping[str, Mapping[str, float]]]],
    character_of: Mapping[str, str],
    floors: Mapping[str, Mapping[str, Mapping[str, float]]] | None = None,
    *,
    n_resamples: int = N_RESAMPLES,
    seed: int = 0,
) -> dict[str, dict[str, dict[str, Any]]]:
    """The meta-evaluation of per-item values {baseline: {task: {metric: {id: value}}}}.

    Returns {task: {metric: record}}; a record holds the baselines' macro means, (a)-(d), and
    `eligible` (passes (b) and (c) where they can be measured) next to the declared headline flag.
    """
    from rolescape.metrics.declared import declaration, headline_eligible, higher_is_better

    floors = floors or {}
    tasks = sorted({t for per in values.values() for t in per})
    report: dict[str, dict[str, dict[str, Any]]] = {}
    for task in tasks:
        metrics = sorted({m for per in values.values() for m in per.get(task, {})})
        report[task] = {}
        for metric in metrics:
            sign = 1.0 if higher_is_better(metric) else -1.0
            per_b = {b: dict(values.get(b, {}).get(task, {}).get(metric, {})) for b in values}
            signed = {b: {i: sign * v for i, v in vals.items()} for b, vals in per_b.items()}
            means = {b: _r(_macro(v, character_of)) for b, v in per_b.items() if v}
            ref, ret, shf = (
                signed.get("reference", {}),
                signed.get("retrieval", {}),
                signed.get("shuffled", {}),
            )
            own_name = "reference" if ref else ("retrieval" if ret else None)
            own = ref or ret
            auc = auroc(list(own.values()), list(shf.values())) if own and shf else None
            copy = (
                paired_interval(ret, ref, character_of, n_resamples=n_resamples, seed=seed)
                if ref and ret
                else None
            )
            copy_ok = None if copy is None else not copy.ci_low > 0.0
            m_ref, m_ret, m_shf = (_macro(x, character_of) if x else None for x in (ref, ret, shf))
            ret_gt_shf = None if m_ret is None or m_shf is None else m_ret > m_shf
            if m_ref is not None and m_ret is not None:
                ref_ge_ret = m_ref >= m_ret or bool(copy and copy.ci_low <= 0.0 <= copy.ci_high)
            else:
                ref_ge_ret = None
            parts = [x for x in (ref_ge_ret, ret_gt_shf) if x is not None]
            order_ok = all(parts) if parts else None
            checks = [x for x in (copy_ok, order_ok) if x is not None]
            rec: dict[str, Any] = {
                "higher_is_better": sign > 0,
                "means": means,
                "auroc_own_vs_shuffled": _r(auc),
                "auroc_own": own_name,
                "retrieval_minus_reference": None
                if copy is None
                else {
                    "delta": _r(copy.delta),
                    "ci_low": _r(copy.ci_low),
                    "ci_high": _r(copy.ci_high),
                    "n": copy.n,
                },
                "copy_robust": copy_ok,
                "order_ok": order_ok,
                "eligible": all(checks) if checks else None,
                "declared_headline": headline_eligible(task, metric),
                "declared": declaration(metric) is not None,
            }
            f = floors.get(task, {}).get(metric)
            if f:
                best = max(f.values())
                rec["best_floor"] = _r(best)
                rec["floor_gap"] = {b: _r(v - best) for b, v in means.items() if v is not None}
            report[task][metric] = rec
    return report


def _floors_from_results(run_dirs: Mapping[str, Path]) -> dict[str, dict[str, dict[str, float]]]:
    out: dict[str, dict[str, dict[str, float]]] = {}
    for d in run_dirs.values():
        p = d / "results.json"
        if not p.is_file():
            continue
        doc = json.loads(p.read_text(encoding="utf-8"))
        for task, tr in doc.get("tasks", {}).items():
            for m, s in tr.get("metrics", {}).items():
                if s.get("floors"):
                    out.setdefault(task, {})[m] = dict(s["floors"])
    return out


def render_markdown(
    report: Mapping[str, Mapping[str, Mapping[str, Any]]], only_declared_headlines: bool = False
) -> str:
    """One row per task and metric: baselines' means, AUROC, retrieval - reference [CI], checks."""

    def f(x: Any) -> str:
        return "—" if x is None else f"{x:.3f}"

    def yn(x: bool | None) -> str:
        return "—" if x is None else ("yes" if x else "**no**")

    lines = [
        "| task | metric | reference | retrieval | shuffled | prior | AUROC own vs shuffled | retrieval − reference [95% CI] "
        "| copy-robust | ref ≥ retr > shuf | floor gap (retrieval) | headline: declared / eligible |",
        "|---|---|---:|---:|---:|---:|---:|---|---|---|---:|---|",
    ]
    for task in sorted(report):
        for metric in sorted(report[task]):
            r = report[task][metric]
            if only_declared_headlines and not r["declared_headline"]:
                continue
            m = r["means"]
            d = r["retrieval_minus_reference"]
            diff = "—" if d is None else f"{d['delta']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]"
            gap = r.get("floor_gap", {}).get("retrieval")
            lines.append(
                f"| {task} | `{metric}`{'' if r['higher_is_better'] else ' (↓)'} | {f(m.get('reference'))} | "
                f"{f(m.get('retrieval'))} | {f(m.get('shuffled'))} | {f(m.get('prior'))} | "
                f"{f(r['auroc_own_vs_shuffled'])} | {diff} | {yn(r['copy_robust'])} | {yn(r['order_ok'])} | "
                f"{'—' if gap is None else f'{gap:+.3f}'} | {yn(r['declared_headline'])} / {yn(r['eligible'])} |"
            )
    return "\n".join(lines) + "\n"


def render_plot(report: Mapping[str, Mapping[str, Mapping[str, Any]]], path: Path) -> None:
    """Bars of the baselines' means for every declared headline metric (one panel per task)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rolescape.io import write_bytes_atomic

    rows = [(t, m, r) for t in sorted(report) for m, r in sorted(report[t].items()) if r["declared_headline"]]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.55 * len(rows) + 2), 4.0), dpi=100)
    width = 0.2
    for k, b in enumerate(BASELINES):
        xs = [i + (k - 1.5) * width for i in range(len(rows))]
        ys = [r["means"].get(b) if r["means"].get(b) is not None else np.nan for _, _, r in rows]
        ax.bar(xs, ys, width, label=b)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(
        [f"{t}\n{m}" + ("" if r["eligible"] is not False else " ✗") for t, m, r in rows],
        rotation=60,
        ha="right",
        fontsize=7,
    )
    ax.set_ylabel("macro mean")
    ax.set_title("meta-eval: baselines on the declared headline metrics (✗ = not eligible)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    write_bytes_atomic(path, buf.getvalue())


def meta_eval(
    data: str | Path,
    out: str | Path,
    *,
    profile: str = "offline",
    baselines: Sequence[str] = BASELINES,
    tasks: Sequence[str] | None = None,
    seed: int = 0,
    n_resamples: int = N_RESAMPLES,
    batch_size: int = 32,
    cache_dir: str | Path | None = None,
    model_paths: Mapping[str, str] | None = None,
    progress: ProgressFn | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the baselines through the scorer and write the meta-evaluation into `out` (see module doc)."""
    from rolescape.baselines import run_baseline
    from rolescape.dataset import BuiltDataset
    from rolescape.io import write_json_atomic, write_text_atomic
    from rolescape.metrics.engine import PROFILES, score

    if profile not in PROFILES:
        raise InputError(f"unknown profile {profile!r} (use {' or '.join(PROFILES)})")
    ds = BuiltDataset(data)  # not a build -> one-line InputError
    outp = Path(out)
    run_dirs: dict[str, Path] = {}
    for b in baselines:
        pred = outp / "baselines" / b / "predictions.jsonl"
        if on_stage:
            on_stage(f"baseline {b}")
        if not pred.is_file():
            try:
                run_baseline(b, ds, pred, seed=seed, tasks=tasks)
            except InputError:
                if tasks is None:
                    raise
                continue  # this baseline answers none of the selected tasks
        if on_stage:
            on_stage(f"score {b}")
        run_dirs[b] = outp / "runs" / b
        score(
            pred,
            ds,
            profile=profile,
            out_dir=run_dirs[b],
            name=b,
            seed=seed,
            batch_size=batch_size,
            cache_dir=cache_dir,
            model_paths=model_paths,
            progress=progress,
            tasks=None,
        )
    values: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    chars: dict[str, str] = {}
    for b, d in run_dirs.items():
        values[b], c = load_item_values(d)
        chars.update(c)
    report = analyse(values, chars, _floors_from_results(run_dirs), n_resamples=n_resamples, seed=seed)
    from rolescape import PROTOCOL_VERSION

    doc = {
        "protocol_version": PROTOCOL_VERSION,
        "profile": profile,
        "dataset_manifest_sha256": ds.manifest_sha256,
        "baselines": sorted(run_dirs),
        "bootstrap": {"resamples": n_resamples, "seed": seed, "interval": "percentile 95%"},
        "tasks": report,
    }
    outp.mkdir(parents=True, exist_ok=True)
    write_json_atomic(outp / META_FILE, doc)
    write_text_atomic(outp / MD_FILE, render_markdown(report))
    render_plot(report, outp / PLOT_FILE)
    return doc
