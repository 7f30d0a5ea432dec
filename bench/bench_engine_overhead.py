"""Engine overhead benchmark: what `rolescape score` costs around the metric families themselves.

A synthetic built dataset (20 characters x N knowledge MCQ items, written here) is scored with the MCQ
family only (no model), so the times are the engine's: checking predictions, replaying and appending
items.jsonl (fsync per chunk), aggregation with the 1,000-resample bootstrap, and a full resume that
scores nothing. Numbers are printed and recorded, never asserted.

    python bench/bench_engine_overhead.py [--per-character 100] [--batch-size 32] [--out bench/results/engine.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import tempfile
import time
from pathlib import Path


def write_dataset(root: Path, per_character: int) -> list[tuple[str, str]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from rolescape.dataset import parquet_relpath

    rng = random.Random(0)
    rows, keys = [], []
    for c in range(20):
        slug = f"char-{c:02d}"
        for i in range(per_character):
            key = rng.choice("ABCD")
            ident = f"knowledge_mcq/{slug}/mcq_{i:04d}"
            rows.append(
                {
                    "id": ident,
                    "task": "knowledge_mcq",
                    "character": slug,
                    "item": f"mcq_{i:04d}",
                    "question": f"q{i}?",
                    "options": {k: f"option {k} {i}" for k in "ABCD"},
                    "answer_key": key,
                    "difficulty": rng.choice(["easy", "medium", "hard"]),
                    "evidence": "",
                }
            )
            keys.append((ident, key))
    p = root / parquet_relpath("knowledge_mcq", "test")
    p.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), p)
    (root / "manifest.json").write_text(
        json.dumps({"configs": {"knowledge_mcq": ["test"]}, "source": {"identity": "bench:synthetic"}})
    )
    return keys


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-character", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    from rolescape.metrics.engine import score
    from rolescape.metrics.predictions import check_predictions

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        keys = write_dataset(root / "data", args.per_character)
        rng = random.Random(1)
        pred = root / "model" / "predictions.jsonl"
        pred.parent.mkdir()
        pred.write_text(
            "".join(
                json.dumps({"id": i, "text": f"The answer is ({k if rng.random() < 0.6 else 'A'})."}) + "\n"
                for i, k in keys
            )
        )
        n = len(keys)
        t = time.perf_counter()
        check_predictions(pred, root / "data")
        t_check = time.perf_counter() - t

        def timed_score(run: str, **kw: object) -> float:
            t = time.perf_counter()
            score(
                pred,
                root / "data",
                out_dir=root / run,
                families=["mcq"],
                batch_size=args.batch_size,
                progress=False,
                **kw,
            )
            return time.perf_counter() - t

        t_first = timed_score("run")
        t_resume = timed_score("run")  # same run folder: everything is replayed from items.jsonl
        t_noboot = timed_score("run0", bootstrap=0)

    rec = {
        "items": n,
        "batch_size": args.batch_size,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "check_predictions_s": round(t_check, 3),
        "first_run_s": round(t_first, 3),
        "first_run_items_per_s": round(n / t_first, 1),
        "resume_nothing_left_s": round(t_resume, 3),
        "first_run_without_bootstrap_s": round(t_noboot, 3),
    }
    print(json.dumps(rec, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rec, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    sys.exit(main())
