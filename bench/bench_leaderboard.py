"""Leaderboard benchmark: today's code (the dict loops of commit BASELINE) against the polars frames.

Synthetic data: N runs (default 100) x the 8 tasks x the release's item counts (roleplay 65, t2i 65,
t2i_vqa 688, knowledge_mcq 200, visual_mcq 989, dialogue 400, memorization 391, personality 317) over
20 characters, each with an items.jsonl. Each implementation runs in its own subprocess (so each peak
RSS is its own) from `git archive COMMIT rolescape` unpacked into a temp folder, and builds md, tex
and csv: html always draws the plots (matplotlib, the same code in all, minutes at 100 runs), so it
is left out of the timing; its bytes are compared in tests/leaderboard. Recorded per case: wall time
and CPU seconds (this machine's 2 cores are shared, so CPU seconds move less), peak RSS (and above
the imports), old/new ratios, and the floors: CPU seconds of the bootstrap's draws, of the draws with
their gather and sum, and of validating every items.jsonl in one pydantic-core pass. Any
implementation giving the same p-values makes those draws, so old CPU / floors bounds its speedup.

Files: BASELINE predates protocol v2's headline rules, so its files differ from the new ones; START
(main when this round began, same protocol) is run once per case and its files must be
byte-identical to the new ones. Cases: N=100 with the default 1000 bootstrap resamples, N=100 with
100 (the share of everything but the draws), and N=25 (memory against N). Recorded in
bench/results/leaderboard.json.

    python bench/bench_leaderboard.py [--runs 100] [--also 25] [--out bench/results/leaderboard.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASELINE = "0fb76cb"  # main before issue 14: tables.py and load.py with hand loops over dicts
ROOT = Path(__file__).resolve().parents[1]
REPEATS = 3
# main when the last round of issue 14 began: the same protocol (headline rules) as the new code, so
# its files must be byte-identical to the new ones; BASELINE predates protocol v2's headline changes,
# so its files differ from both (its time is still the same work: load, rank, test, render)
START = "066fb36"

ITEMS = {
    "roleplay": 65,
    "t2i": 65,
    "t2i_vqa": 688,
    "knowledge_mcq": 200,
    "visual_mcq": 989,
    "dialogue": 400,
    "memorization": 391,
    "personality": 317,
}
# metric -> kind: "u" a score in [0, 1], "b" a 0/1 outcome, "r" a rate that is better low
METRICS: dict[str, dict[str, str]] = {
    "roleplay": {
        "clip_i": "u",
        "dino": "u",
        "effnet_i": "u",
        "ref_sim": "u",
        "style_acc": "b",
        "no_face": "b",
    },
    "t2i": {"clip_i": "u", "dino": "u", "clip_t": "u"},
    "t2i_vqa": {"vqa": "u", "clip_t": "u"},
    "knowledge_mcq": {"mcq_acc": "b", "mcq_unparsed": "b"},
    "visual_mcq": {"mcq_acc": "b"},
    "dialogue": {"ref_sim": "u", "style_acc": "b", "rouge_l": "u"},
    "memorization": {"persona_sim": "u", "style_acc": "b"},
    "personality": {"persona_sim": "u", "style_acc": "b"},
}
CHARACTERS = [f"char-{i:02d}" for i in range(20)]


def _value(rng: random.Random, kind: str, skill: float) -> float:
    if kind == "b":
        return 1.0 if rng.random() < skill else 0.0
    if kind == "r":
        return 1.0 if rng.random() < 1 - skill else 0.0
    return round(min(1.0, max(0.0, rng.gauss(skill, 0.1))), 4)


def write_runs(root: Path, n_runs: int) -> list[Path]:
    """N run folders, each with a results.json and its items.jsonl; deterministic (seeded per run)."""
    paths = []
    for k in range(n_runs):
        rng = random.Random(k)
        skill = 0.35 + 0.5 * k / max(1, n_runs - 1)
        name = f"model-{k:03d}"
        run = root / name
        run.mkdir(parents=True, exist_ok=True)
        tasks: dict[str, object] = {}
        with open(run / "items.jsonl", "w", encoding="utf-8") as f:
            for task, n in ITEMS.items():
                per: dict[str, dict[str, list[float]]] = {m: {} for m in METRICS[task]}
                for i in range(n):
                    ch = CHARACTERS[i % len(CHARACTERS)]
                    vals = {m: _value(rng, kind, skill) for m, kind in METRICS[task].items()}
                    for m, v in vals.items():
                        per[m].setdefault(ch, []).append(v)
                    line = {
                        "id": f"{task}/{ch}/{i}",
                        "task": task,
                        "character": ch,
                        "key": f"{k}-{task}-{i}",
                        "metrics": vals,
                        "info": {},
                    }
                    f.write(json.dumps(line, sort_keys=True) + "\n")
                metrics = {}
                for m, by_char in per.items():
                    pc = {c: round(sum(v) / len(v), 6) for c, v in sorted(by_char.items())}
                    mean = round(sum(pc.values()) / len(pc), 6)
                    metrics[m] = {
                        "mean": mean,
                        "ci_low": round(mean - 0.02, 6),
                        "ci_high": round(mean + 0.02, 6),
                        "n": n,
                        "per_character": pc,
                        "floors": None,
                    }
                tasks[task] = {
                    "n_items": n,
                    "n_predicted": n,
                    "n_scored": n,
                    "coverage": 1.0,
                    "metrics": metrics,
                }
        results = {
            "schema_version": "1",
            "model_name": name,
            "dataset": {"path": "built", "manifest_sha256": "ab" * 32, "source": "bench", "build_id": None},
            "config": {
                "profile": "offline",
                "tasks": sorted(ITEMS),
                "device": "cpu",
                "batch_size": 8,
                "alpha": "white",
                "seed": 0,
                "bootstrap": 200,
                "allow_partial": False,
                "predictions": "predictions.jsonl",
                "predictions_sha256": "cd" * 32,
            },
            "provenance": {
                "rolescape_version": "0.1.0",
                "git_hash": None,
                "protocol_version": "1",
                "python": "3.11",
                "started_at": "2026-01-01T00:00:00Z",
                "finished_at": "2026-01-01T00:01:00Z",
                "wall_time_s": 60.0,
            },
            "tasks": tasks,
            "skipped": [],
            "items_file": "items.jsonl",
            "problems": [],
        }
        (run / "results.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
        paths.append(run)
    return paths


CHILD = """
import resource, sys, time
from pathlib import Path
import rolescape
from rolescape.leaderboard import make_leaderboard
runs = [l for l in Path(sys.argv[1]).read_text().split()]
t, c = time.perf_counter(), time.process_time()
make_leaderboard(runs, sys.argv[2], formats=["md", "latex", "csv"], plots=False, n_resamples=int(sys.argv[3]))
dt, dc = time.perf_counter() - t, time.process_time() - c
print(dt, dc, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, rolescape.__file__)
"""

FLOOR = """
import json, sys, time
from pathlib import Path
import numpy as np
from rolescape.leaderboard.load import _lines_adapter
sizes, n_runs, boot = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
d = [np.random.default_rng(n).random(n) - 0.5 for n in range(max(max(s) for s in sizes) + 1)]
draws = total = 0.0
for col, groups in enumerate(sizes):  # every column: the best run against each of the others
    for other in range(n_runs - 1):
        rng = np.random.default_rng([col, other])
        for n in groups:
            c = time.process_time()
            idx = rng.integers(0, n, size=(boot, n))
            draws += time.process_time() - c
            np.add.reduce(d[n][idx], axis=1)
            total += time.process_time() - c
c = time.process_time()
for f in Path(sys.argv[4]).read_text().split():
    lines = [ln for ln in map(bytes.strip, (Path(f) / "items.jsonl").read_bytes().split(b"\\n")) if ln]
    _lines_adapter().validate_json(b"[" + b",".join(lines) + b"]")
print(draws, total, time.process_time() - c)
"""

BASE_RSS = """
import resource
import rolescape.leaderboard, rolescape.leaderboard.render, pydantic, numpy
import importlib.util
if importlib.util.find_spec("rolescape.analysis"):  # the frames' code imports polars; the old code never
    import polars
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _child(code: str, pythonpath: Path, *args: str) -> str:
    # -P: the current folder (this checkout) must not shadow PYTHONPATH, or "old" would run the new code
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    cmd = [sys.executable, "-P", "-c", code, *args]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if p.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{p.stderr[-3000:]}")
    return p.stdout


def measure(
    pkg_root: Path, runs: list[Path], out: Path, n_resamples: int, repeats: int = REPEATS
) -> dict[str, object]:
    listing = out.parent / f"{out.name}.runs.txt"
    listing.write_text("\n".join(str(r) for r in runs))
    times, cpus, rsss, walls = [], [], [], []
    for _ in range(repeats):  # the best of REPEATS: this machine's 2 cores are shared
        t = time.perf_counter()
        got_s, got_cpu, got_rss, imported = _child(
            CHILD, pkg_root, str(listing), str(out), str(n_resamples)
        ).split()
        walls.append(time.perf_counter() - t)
        times.append(float(got_s))
        cpus.append(float(got_cpu))
        rsss.append(int(got_rss))
        if not Path(imported).is_relative_to(pkg_root):
            raise SystemExit(f"benchmark child imported {imported}, not the code under {pkg_root}")
    dt, cpu, rss, wall = min(times), min(cpus), min(rsss), min(walls)
    base = int(_child(BASE_RSS, pkg_root).strip())
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir()) if p.is_file()}
    return {
        "leaderboard_s": round(dt, 3),
        "leaderboard_s_each": [round(x, 3) for x in times],
        "leaderboard_cpu_s": round(cpu, 3),  # CPU seconds of the process: less moved by a busy machine
        "leaderboard_cpu_s_each": [round(x, 3) for x in cpus],
        "process_wall_s": round(wall, 3),
        "peak_rss_mb": round(rss / 1024, 1),
        "import_rss_mb": round(base / 1024, 1),
        "above_imports_mb": round((rss - base) / 1024, 1),
        "files_sha256": files,
    }


def floors(runs: list[Path], listing: Path, n_resamples: int) -> dict[str, float]:
    """CPU seconds of the work no implementation with the same p-values can skip: the paired
    bootstrap's draws (numpy's own bounded-integer loop, one call per character, the best run against
    each other run in every column), the draws plus the gather and sum of each resample, and the
    validation of every items.jsonl in one pydantic-core pass."""
    sizes = [
        [len(range(c, n, len(CHARACTERS))) for c in range(len(CHARACTERS))]
        for task, n in ITEMS.items()
        for _ in METRICS[task]
    ]
    listing.write_text("\n".join(str(r) for r in runs))
    args = [json.dumps(sizes), str(len(runs)), str(n_resamples), str(listing)]
    draws, total, parse = (float(x) for x in _child(FLOOR, ROOT, *args).split())
    return {
        "bootstrap_draws_cpu_s": round(draws, 3),
        "bootstrap_draws_gather_sum_cpu_s": round(total, 3),
        "items_validation_cpu_s": round(parse, 3),
    }


def _num(v: object) -> float:
    assert isinstance(v, (int, float))
    return float(v)


def old_tree(tmp: Path, commit: str = BASELINE) -> Path:
    dest = tmp / commit
    dest.mkdir()
    arch = subprocess.run(
        ["git", "-C", str(ROOT), "archive", commit, "rolescape"], capture_output=True, check=False
    )
    if arch.returncode != 0:
        raise SystemExit(f"cannot read the commit {commit} from git: {arch.stderr.decode()[-500:]}")
    subprocess.run(["tar", "-x", "-C", str(dest)], input=arch.stdout, check=True)
    return dest


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--also", type=int, default=25, help="a second, smaller run count (memory vs N); 0: none")
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--skip-old", action="store_true", help="measure the new code only")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "leaderboard.json"))
    args = ap.parse_args()
    rec: dict[str, object] = {
        "baseline_commit": BASELINE,
        "items_per_run": sum(ITEMS.values()),
        "tasks": ITEMS,
        "metrics_per_task": {t: sorted(m) for t, m in METRICS.items()},
        "characters": len(CHARACTERS),
        "formats": ["md", "latex", "csv"],
        "plots": False,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        old = None if args.skip_old else old_tree(tmp)
        start = None if args.skip_old else old_tree(tmp, START)
        cases = [(args.runs, args.bootstrap), (args.runs, 100)] + (
            [(args.also, args.bootstrap)] if args.also else []
        )
        made: dict[int, list[Path]] = {}
        for n, boot in cases:
            if n not in made:
                made[n] = write_runs(tmp / f"runs{n}", n)
            runs = made[n]
            size = sum((r / "items.jsonl").stat().st_size for r in runs)
            entry: dict[str, object] = {
                "runs": n,
                "bootstrap": boot,
                "items_jsonl_mb": round(size / 2**20, 1),
            }
            entry["floors"] = floor = floors(runs, tmp / f"floor{n}-{boot}.txt", boot)
            print(f"N={n} B={boot} floors (CPU s): {floor}", flush=True)
            entry["new"] = new = measure(ROOT, runs, tmp / f"new{n}-{boot}", boot)
            print(
                f"N={n} B={boot} new: {new['leaderboard_s']} s ({new['leaderboard_cpu_s']} s CPU), "
                f"peak {new['peak_rss_mb']} MB",
                flush=True,
            )
            if old is not None:
                entry["old"] = was = measure(old, runs, tmp / f"old{n}-{boot}", boot)
                print(
                    f"N={n} B={boot} old: {was['leaderboard_s']} s ({was['leaderboard_cpu_s']} s CPU), "
                    f"peak {was['peak_rss_mb']} MB",
                    flush=True,
                )
                entry["speedup"] = round(_num(was["leaderboard_s"]) / _num(new["leaderboard_s"]), 2)
                entry["speedup_cpu"] = round(
                    _num(was["leaderboard_cpu_s"]) / _num(new["leaderboard_cpu_s"]), 2
                )
                # the most any implementation drawing the same numbers could gain over the old one
                entry["speedup_cpu_bound"] = round(
                    _num(was["leaderboard_cpu_s"]) / (floor["bootstrap_draws_gather_sum_cpu_s"]
                                                      + floor["items_validation_cpu_s"]), 2
                )  # fmt: skip
                entry["peak_rss_ratio_old_over_new"] = round(
                    _num(was["peak_rss_mb"]) / _num(new["peak_rss_mb"]), 2
                )
                entry["identical_outputs_to_baseline"] = was["files_sha256"] == new["files_sha256"]
            if start is not None:  # once, for the files only
                began = measure(start, runs, tmp / f"start{n}-{boot}", boot, repeats=1)
                entry["start"] = {k: began[k] for k in ("leaderboard_s", "leaderboard_cpu_s", "files_sha256")}
                entry["identical_outputs_to_start"] = began["files_sha256"] == new["files_sha256"]
            rec[f"n{n}_b{boot}"] = entry
    print(json.dumps(rec, indent=2))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(rec, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
