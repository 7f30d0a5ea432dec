"""Sentence-encoding benchmark: batched (length-sorted) vs one text at a time, MiniLM on CPU.

Texts: the 400 `dialogue` test items (their user texts) plus their 400 GT references = 800 texts.
Both modes run in one process on the same texts with the embedding cache off, alternating
(batched, single, batched, single, ...) so background load hits both alike; the ratio is
median(one at a time) / median(batched). Also records that both modes give the same vectors.
Numbers are printed and recorded in bench/results/sentence_encoding.json, never asserted.

    python bench/bench_sentence_encoding.py [--data BUILT_DIR | --source RAW] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="a built dataset folder (default: build --source into a temp folder)")
    ap.add_argument("--source", default=os.environ.get("ROLESCAPE_RAW", "/work/shared/rolescape20-raw"))
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "sentence_encoding.json"))
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    import torch

    from rolescape.dataset import BuiltDataset
    from rolescape.io import write_json_atomic
    from rolescape.metrics.text.encoders import load_encoder

    with tempfile.TemporaryDirectory() as tmp:
        if args.data:
            data_dir = Path(args.data)
        else:
            from rolescape.builders.build import build

            data_dir = Path(tmp) / "built"
            build(args.source, data_dir)
        rows = BuiltDataset(data_dir).task_items("dialogue")
    texts = [str(r["user_text"]) for r in rows] + [str(r["reference_response"]) for r in rows]
    enc = load_encoder("minilm", "cpu", None)
    enc.encode(texts[:8], use_cache=False)  # warm-up (first-call allocations)

    batched_s, single_s = [], []
    for _ in range(args.repeats):
        t = time.perf_counter()
        eb = enc.encode(texts, batch_size=args.batch_size, use_cache=False)
        batched_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        es = np.stack([enc.encode([x], batch_size=1, use_cache=False)[0] for x in texts])
        single_s.append(time.perf_counter() - t)
    ratio = statistics.median(single_s) / statistics.median(batched_s)
    res = {
        "texts": len(texts),
        "what": "400 dialogue-test user texts + their 400 GT references",
        "mean_chars": float(np.mean([len(x) for x in texts])),
        "batch_size": args.batch_size,
        "repeats": args.repeats,
        "batched_s": [round(x, 3) for x in batched_s],
        "one_at_a_time_s": [round(x, 3) for x in single_s],
        "batched_texts_per_s": round(len(texts) / statistics.median(batched_s), 1),
        "one_at_a_time_texts_per_s": round(len(texts) / statistics.median(single_s), 1),
        "speedup_batched_over_single": round(ratio, 2),
        "max_abs_diff": float(np.abs(eb - es).max()),
        "encoder": enc.info().model_dump(),
        "environment": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "device": "cpu",
            "load_average_at_end": list(os.getloadavg()),
        },
    }
    write_json_atomic(args.out, res)
    print(
        f"{len(texts)} texts: batched (bs={args.batch_size}) {statistics.median(batched_s):.2f}s, "
        f"one at a time {statistics.median(single_s):.2f}s -> {ratio:.2f}x; max |diff| {res['max_abs_diff']:.2e}"
    )


if __name__ == "__main__":
    main()
