"""Build benchmark: wall time and peak RSS of a first and a second build of the release copy.

Each build runs in its own subprocess so that peak RSS is that build's alone. Target (issue):
<= 20 s and <= 1.5 GB on a 2-core machine. Numbers are printed and recorded, never asserted.

    python bench/bench_build.py [--source PATH] [--out bench/results/build.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import resource, sys, time
from rolescape.builders.build import build
t = time.perf_counter()
res = build(sys.argv[1], sys.argv[2], overwrite=True)
dt = time.perf_counter() - t
print(dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, res.unchanged, res.manifest["build_id"])
"""


def run_one(source: str, out: Path) -> dict:
    t = time.perf_counter()
    p = subprocess.run(
        [sys.executable, "-c", CHILD, source, str(out)], capture_output=True, text=True, check=True
    )
    wall = time.perf_counter() - t
    build_s, rss_kb, unchanged, build_id = p.stdout.split()
    return {
        "process_wall_s": round(wall, 3),
        "build_s": round(float(build_s), 3),
        "peak_rss_mb": round(int(rss_kb) / 1024, 1),
        "unchanged": unchanged == "True",
        "build_id": build_id,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    default_src = os.environ.get(
        "ROLESCAPE_RAW", str(Path(__file__).resolve().parents[2] / "shared/rolescape20-raw")
    )
    ap.add_argument("--source", default=default_src)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "build.json"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        first = run_one(args.source, Path(tmp) / "a")
        second = run_one(args.source, Path(tmp) / "b")  # fresh folder, warm OS cache
        rebuild = run_one(args.source, Path(tmp) / "b")  # same folder: identical build detected
        size = sum(p.stat().st_size for p in (Path(tmp) / "a").rglob("*") if p.is_file())
    rec = {
        "source": args.source,
        "first": first,
        "second": second,
        "rebuild_same_out": rebuild,
        "identical": first["build_id"] == second["build_id"],
        "output_mb": round(size / 2**20, 2),
        "targets": {"wall_s": 20, "peak_rss_mb": 1536},
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
    print(json.dumps(rec, indent=2))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(rec, indent=2) + "\n")
    _ = resource  # keep the import: documents where the child's numbers come from


if __name__ == "__main__":
    main()
