"""Calibrate the protocol-v2 copy thresholds on a built release: tau_img (copy encoder) and tau_txt.

    python bench/bench_copy_calibration.py --data BUILT [--out bench/results/copy_calibration.json]

Image (model-free thumbnail correlation): negatives are the test images' max similarity to their character's train images, positives the
train images under light augmentation (rolescape.metrics.image.copy.calibrate_image_threshold).
Text: negatives are the GT dialogue-test responses' max ROUGE-L F to their character's train
responses, positives lightly edited train responses (rolescape.metrics.text.copy). The chosen
thresholds, error rates, flagged items and timings are written as JSON (numbers, never asserted).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    from rolescape.dataset import BuiltDataset
    from rolescape.metrics.image.copy import COPY_DESCRIPTOR, calibrate_image_threshold
    from rolescape.metrics.text.copy import calibrate_text_threshold

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "copy_calibration.json"))
    args = ap.parse_args(argv)
    data = BuiltDataset(args.data)
    t0 = time.perf_counter()
    img = calibrate_image_threshold(data)
    t1 = time.perf_counter()
    txt = calibrate_text_threshold(data)
    t2 = time.perf_counter()
    out = {
        "dataset_manifest_sha256": data.manifest_sha256,
        "image": {"descriptor": COPY_DESCRIPTOR, **img, "seconds": round(t1 - t0, 1)},
        "text": {"overlap": "ROUGE-L F1 over word tokens", **txt, "seconds": round(t2 - t1, 1)},
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    for k in ("image", "text"):
        r = out[k]
        print(
            f"{k}: tau={r['tau']:.3f} max_neg={r['max_negative']:.3f} min_pos={r['min_positive']:.3f} "
            f"FPR={r['false_positive_rate']:.3f} FNR={r['false_negative_rate']:.3f} ({r['seconds']} s)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
