"""Cost of verifying a built dataset against its manifest when it is read (issue 11 §2).

Builds the release copy once, then reads every config/split through `BuiltDataset` three ways, each
in a fresh process: `verify=False` (the baseline: no check), verified with an empty hash cache (cold:
every data file hashed once), and verified again (warm: hashes come from the stat-keyed cache).
Prints and records the times and the ratios to the baseline; nothing is asserted.

    python bench/bench_verify.py [--source PATH] [--out bench/results/verify.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import sys, time
from rolescape.dataset import BuiltDataset
t = time.perf_counter()
ds = BuiltDataset(sys.argv[1], verify=sys.argv[2] == "1")
pairs = [(c, s) for c, splits in sorted(ds.configs().items()) for s in splits]
for c, s in pairs:
    ds.data_file(c, s)  # the check alone
t_check = time.perf_counter() - t
n = sum(len(ds.read(c, s)) for c, s in pairs)
print(time.perf_counter() - t, t_check, n, len(ds.verified))
"""


def read_all(built: Path, verify: bool, cache: Path) -> dict[str, float | int]:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    p = subprocess.run(
        [sys.executable, "-c", CHILD, str(built), "1" if verify else "0"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    dt, check, rows, verified = p.stdout.split()
    return {
        "read_s": round(float(dt), 3),
        "check_s": round(float(check), 4),
        "rows": int(rows),
        "files_verified": int(verified),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    default_src = os.environ.get(
        "ROLESCAPE_RAW", str(Path(__file__).resolve().parents[2] / "shared/rolescape20-raw")
    )
    ap.add_argument("--source", default=default_src)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "verify.json"))
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from rolescape.builders.build import build

    with tempfile.TemporaryDirectory() as tmp:
        built, cache = Path(tmp) / "built", Path(tmp) / "cache"
        t = time.perf_counter()
        build(args.source, built)
        build_s = time.perf_counter() - t
        data_mb = sum(p.stat().st_size for p in (built / "data").rglob("*.parquet")) / 2**20
        runs: dict[str, list[dict[str, float | int]]] = {"no_verify": [], "cold": [], "warm": []}
        for _ in range(args.repeats):
            runs["no_verify"].append(read_all(built, False, cache))
            for f in cache.rglob("verified-files.json"):
                f.unlink()
            runs["cold"].append(read_all(built, True, cache))
            runs["warm"].append(read_all(built, True, cache))
    best = {k: min(float(r["read_s"]) for r in v) for k, v in runs.items()}
    check = {k: min(float(r["check_s"]) for r in v) for k, v in runs.items()}
    rec = {
        "source": args.source,
        "build_s": round(build_s, 2),
        "data_mb": round(data_mb, 2),
        "best_read_s": best,
        "best_check_s": check,
        "ratio_cold_to_no_verify": round(best["cold"] / best["no_verify"], 3),
        "ratio_warm_to_no_verify": round(best["warm"] / best["no_verify"], 3),
        "note": "read_s: open + verify + read every config to Python rows; check_s: the verification alone. "
        "2 shared CPU cores: read times are noisy; compare check_s.",
        "runs": runs,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
    print(json.dumps(rec, indent=2))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(rec, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
