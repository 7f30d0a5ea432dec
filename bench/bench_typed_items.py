"""Typed item view benchmark: what turning task rows into their TaskItem models costs a scoring run.

The demo release is built (3 characters, every task) and answered by the `reference` baseline; then,
in the same process:

* `rows_copy_s`: a shallow copy of every task row (`dict(row)`), the cheapest per-row pass (baseline);
* `typed_view_s`: `rolescape.metrics.base.task_items` over the same rows (pydantic validation of each
  row into its task's model, which every `ItemBatch.typed` does once per batch);
* `score_s`: `rolescape score` of those predictions with the CPU-cheap families, profile offline
  (`mcq`; `text_ref`: rouge_l, bleu and ref_sim with the packaged sentence encoder), with the
  bootstrap off so the families and the engine dominate.

Reported as ratios measured in this run: `typed_view_vs_copy` and `typed_view_share_of_score`
(typed_view_s / score_s: the slowdown bound, since every scored item is validated once). Each time is
the median of `--repeat` runs. Numbers are printed and recorded, never asserted.

    python bench/bench_typed_items.py [--repeat 5] [--out bench/results/typed_items.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _median_s(fn: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "typed_items.json")
    args = ap.parse_args()

    from rolescape.baselines import run_baseline
    from rolescape.builders.build import build
    from rolescape.dataset import BuiltDataset
    from rolescape.metrics.base import task_items
    from rolescape.metrics.engine import score
    from rolescape.metrics.predictions import available_tasks

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build("demo", root / "built")
        pred = root / "ref" / "predictions.jsonl"
        run_baseline("reference", root / "built", pred)
        data = BuiltDataset(root / "built")
        rows = {t: data.task_items(t) for t in available_tasks(data)}
        n_items = sum(len(r) for r in rows.values())

        def copy_rows() -> None:
            for rs in rows.values():
                [dict(r) for r in rs]

        def typed_rows() -> None:
            for t, rs in rows.items():
                task_items(t, rs)

        counter = iter(range(10**6))

        def score_once() -> None:
            score(
                pred,
                data,
                out_dir=root / f"run{next(counter)}",
                families=["mcq", "text_ref"],
                profile="offline",
                bootstrap=0,
                progress=False,
            )

        t_copy = _median_s(copy_rows, args.repeat)
        t_typed = _median_s(typed_rows, args.repeat)
        t_score = _median_s(score_once, args.repeat)
        scored = sum(len(rows.get(t, [])) for t in ("knowledge_mcq", "visual_mcq", "dialogue", "roleplay"))

    rec = {
        "dataset": "demo (rolescape build demo), reference baseline predictions",
        "items_all_tasks": n_items,
        "items_scored": scored,
        "repeat": args.repeat,
        "rows_copy_s": round(t_copy, 7),
        "typed_view_s": round(t_typed, 6),
        "typed_view_us_per_item": round(1e6 * t_typed / max(1, n_items), 2),
        "score_s": round(t_score, 4),
        "typed_view_vs_copy": round(t_typed / t_copy, 2) if t_copy else None,
        "typed_view_share_of_score": round(t_typed / t_score, 4) if t_score else None,
        "how": "medians of --repeat runs in one process; typed_view validates every row of every task "
        "(an upper bound on the scored items' share); score = mcq + text_ref (rouge_l, bleu, ref_sim), profile offline, bootstrap 0",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
    print(json.dumps(rec, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rec, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    sys.exit(main())
