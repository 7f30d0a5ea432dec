"""Benchmark: scoring generated images for `t2i` with one identity encoder (efficientnet_lite0, offline).

Workload: N "generated" images = the release copy's 65 TEST images under deterministic augmentations
(random resized crop, flip, brightness/contrast/colour jitter, kept RGBA where the source is), saved
as SIZE x SIZE PNGs, one per t2i item of a built dataset written for the bench (20 characters, their
TRAIN images as references, the source test image as GT). Metrics: effnet_i and effnet_i_gt.

Compared, same model, same machine, one run:
* rolescape: `rolescape.metrics.engine.score` (prediction checks, batched encoding, the embedding
  cache, items.jsonl, aggregation with bootstrap) - cold (empty cache) and warm (same predictions
  into a new run folder: every embedding is a cache hit);
* reference loop: what the released scorers do, per item, one image at a time, fp32, the plain timm
  module: decode and encode the generated image, every reference image of its character and the GT
  image, then the cosines. It runs on the first `--ref-items` items and its rate is per item (it does
  not change with N).
The three are interleaved and repeated (`--repeats`); median and best are reported, since the
machine may be shared with other work.
Model loading is excluded from both (the encoder is loaded and warmed up first).
A third rolescape measurement, "references cached", is the steady state of a leaderboard: the
references and GT images were embedded by an earlier run, the predictions are new.
Memory: a fresh process per N (128 and 512) loads the model, then scores cold while a thread samples
its RSS; the growth above the post-load RSS must not depend on N.
`--cuda` additionally measures the encoder alone on random tensors (batched, same batch size) and
reports the end-to-end images/s as a fraction of it.

    ROLESCAPE_RAW=/work/shared/rolescape20-raw python bench/bench_t2i_scoring.py            # CPU
    ROLESCAPE_RAW=... python bench/bench_t2i_scoring.py --cuda --workers 8                  # GPU
writes bench/results/t2i_scoring.json (or t2i_scoring_cuda.json).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

WORK = ROOT / "bench" / "_work" / "t2i_scoring"
OPTIONS = {"identity_encoders": ["effnet"]}


# ------------------------------------------------------------------------------------------ workload


def _release(raw: Path) -> dict[str, dict[str, list[tuple[str, bytes]]]]:
    from rolescape.schemas.base import slugify

    base = raw / "data" / "personalized_data"
    out: dict[str, dict[str, list[tuple[str, bytes]]]] = {}
    for folder in sorted(os.listdir(base / "train")):
        if (base / "train" / folder).is_dir():
            slug = slugify(folder.split("-", 1)[1] if "-" in folder else folder)
            out[slug] = {}
            for split in ("train", "test"):
                files = sorted((base / split / folder).glob("*.png"), key=lambda p: int(p.stem))
                out[slug][split] = [(p.stem, p.read_bytes()) for p in files]
    return out


def augment(data: bytes, k: int, size: int) -> bytes:
    """A deterministic augmentation of one image (seeded by k), saved as a size x size PNG."""
    from PIL import Image, ImageEnhance

    rng = random.Random(k)
    img = Image.open(io.BytesIO(data))
    img = img.convert("RGBA") if img.mode in ("RGBA", "LA", "P") else img.convert("RGB")
    w, h = img.size
    scale, ratio = rng.uniform(0.55, 1.0), rng.uniform(0.8, 1.25)
    cw = min(w, max(8, int(round((scale * w * h * ratio) ** 0.5))))
    ch = min(h, max(8, int(round((scale * w * h / ratio) ** 0.5))))
    x0, y0 = rng.randint(0, w - cw), rng.randint(0, h - ch)
    img = img.crop((x0, y0, x0 + cw, y0 + ch)).resize((size, size), Image.Resampling.BICUBIC)
    if rng.random() < 0.5:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    alpha = img.getchannel("A") if img.mode == "RGBA" else None
    rgb = img.convert("RGB")
    for enh in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        rgb = enh(rgb).enhance(rng.uniform(0.7, 1.3))
    if alpha is not None:
        rgb.putalpha(alpha)
    buf = io.BytesIO()
    rgb.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def build_workload(raw: Path, work: Path, n_max: int, size: int) -> dict[str, Any]:
    """A built dataset with n_max t2i items + their generated images; reused when already there."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from rolescape.dataset import parquet_relpath
    from rolescape.schemas import ImageData, T2IItem

    stamp = {"n_max": n_max, "size": size, "raw": str(raw), "version": 2}
    meta = work / "workload.json"
    if meta.is_file() and json.loads(meta.read_text())["stamp"] == stamp:
        return json.loads(meta.read_text())
    shutil.rmtree(work, ignore_errors=True)
    rel = _release(raw)
    seeds = [(slug, key, b) for slug in rel for key, b in rel[slug]["test"]]
    ds = work / "built"
    gen_dir = work / "preds"
    gen_dir.mkdir(parents=True)
    images = [
        {
            "key": f"train/{slug}/{key}",
            "character": slug,
            "split": "train",
            "image_id": key,
            "image": {"bytes": b, "path": f"{key}.png"},
        }
        for slug in rel
        for key, b in rel[slug]["train"]
    ]
    rows, preds = [], []
    for k in range(n_max):
        slug, key, b = seeds[k % len(seeds)]
        iid = f"t2i/{slug}/{k}"
        rows.append(
            T2IItem(
                id=iid,
                character=slug,
                item=str(k),
                prompt=f"a picture of {slug}",
                reference_image=ImageData(bytes=b, path=f"{key}.png"),
                reference_image_key=f"test/{slug}/{key}",
            ).model_dump()
        )
        name = f"{k:05d}.png"
        (gen_dir / name).write_bytes(augment(b, k, size))
        preds.append({"id": iid, "image": name})
    for config, split, table in (("images", "train", images), ("t2i", "test", rows)):
        p = ds / parquet_relpath(config, split)
        p.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(table), p)
    manifest = {
        "format": "rolescape-built",
        "format_version": 1,
        "source": {"identity": "bench:t2i_scoring"},
        "configs": {"images": ["train"], "t2i": ["test"]},
        "build_id": "bench",
    }
    (ds / "manifest.json").write_text(json.dumps(manifest, sort_keys=True, indent=2) + "\n")
    info = {
        "stamp": stamp,
        "dataset": str(ds),
        "preds_dir": str(gen_dir),
        "preds": preds,
        "gen_bytes": sum(p.stat().st_size for p in gen_dir.iterdir()),
    }
    meta.write_text(json.dumps(info))
    return info


def predictions_file(info: dict[str, Any], n: int) -> Path:
    p = Path(info["preds_dir"]) / f"predictions-{n}.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in info["preds"][:n]))
    return p


# -------------------------------------------------------------------------------------------- runs


def _ctx_kwargs(device: str, batch_size: int, workers: int) -> dict[str, Any]:
    return dict(
        tasks=["t2i"],
        profile="offline",
        device=device,
        batch_size=batch_size,
        num_workers=workers,
        families=["image_identity"],
        options=OPTIONS,
        progress=False,
    )


def load_encoder(device: str) -> Any:
    from rolescape.metrics.base import ScoreContext
    from rolescape.metrics.encoders import get_encoder

    return get_encoder("effnet", ScoreContext(data=None, profile="offline", device=device, options=OPTIONS))


def run_rolescape(
    pfile: Path, info: dict[str, Any], cache: Path, out: Path, device: str, bs: int, workers: int
) -> dict[str, Any]:
    from rolescape.metrics.engine import score

    shutil.rmtree(out, ignore_errors=True)
    t = time.perf_counter()
    res = score(pfile, info["dataset"], out_dir=out, cache_dir=cache, **_ctx_kwargs(device, bs, workers))
    dt = time.perf_counter() - t
    items = [json.loads(x) for x in (out / "items.jsonl").read_text().splitlines()]
    return {"seconds": dt, "results": res, "items": {it["id"]: it["metrics"] for it in items}}


def reference_loop(info: dict[str, Any], n_items: int, device: str) -> dict[str, Any]:
    """The released scorers' way: per item, every image decoded and encoded alone, fp32."""
    import numpy as np
    import pyarrow.parquet as pq
    import timm
    import torch
    from PIL import Image

    enc = load_encoder(device)
    model = timm.create_model("efficientnet_lite0", pretrained=False, num_classes=0)
    model.load_state_dict({k: v for k, v in enc.model.state_dict().items()})  # same weights, plain layout
    model.eval().to(device)
    tf = enc.transform.compose  # timm's per-image transform
    ds = Path(info["dataset"])
    refs: dict[str, list[bytes]] = {}
    for r in pq.read_table(ds / "data/images/train-00000-of-00001.parquet").to_pylist():
        refs.setdefault(r["character"], []).append(r["image"]["bytes"])
    rows = {r["id"]: r for r in pq.read_table(ds / "data/t2i/test-00000-of-00001.parquet").to_pylist()}

    def embed(data: bytes) -> Any:
        img = Image.open(io.BytesIO(data))
        if img.mode in ("RGBA", "LA", "P"):
            rgba = img.convert("RGBA")
            img = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
        with torch.no_grad():
            f = model(tf(img.convert("RGB")).unsqueeze(0).to(device))[0].float()
        return (f / f.norm()).cpu().numpy()

    embed(refs[next(iter(refs))][0])  # warm-up, like ours
    out: dict[str, dict[str, float]] = {}
    preds_dir = Path(info["preds_dir"])
    t = time.perf_counter()
    for p in info["preds"][:n_items]:
        row = rows[p["id"]]
        g = embed((preds_dir / p["image"]).read_bytes())
        rv = [embed(b) for b in refs[row["character"]]]
        gt = embed(row["reference_image"]["bytes"])
        out[p["id"]] = {"effnet_i": float(np.mean([g @ r for r in rv])), "effnet_i_gt": float(g @ gt)}
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return {"seconds": time.perf_counter() - t, "items": out}


def pure_encoder(device: str, bs: int, n: int) -> float:
    """Images/s of the encoder alone on random tensors (batched, same precision as the scorer)."""
    import torch

    from rolescape.metrics.encoders.base import autocast

    enc = load_encoder(device)
    x = torch.randn(bs, 3, 224, 224, device=device)
    with torch.inference_mode(), autocast(device, enc.precision):
        for _ in range(3):
            enc.runtime(x)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t = time.perf_counter()
        steps = max(1, n // bs)
        for _ in range(steps):
            f = enc.runtime(x)
            torch.nn.functional.normalize(f.float(), dim=-1).cpu()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
    return steps * bs / (time.perf_counter() - t)


def _rss_mb() -> float:
    """Current resident set size (Linux /proc; falls back to the peak elsewhere)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_child(args: argparse.Namespace) -> int:
    """In a fresh process: load the model, then score N predictions cold while a thread samples the
    RSS every 10 ms. Prints the RSS after model load, the peak during scoring and the final RSS."""
    import threading

    info = json.loads((WORK / "workload.json").read_text())
    load_encoder(args.device)
    pfile = predictions_file(info, args.rss_child)
    cache = WORK / f"cache-rss-{args.rss_child}"
    shutil.rmtree(cache, ignore_errors=True)
    base = _rss_mb()
    peak = [base]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _rss_mb())
            stop.wait(0.01)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    r = run_rolescape(
        pfile, info, cache, WORK / f"run-rss-{args.rss_child}", args.device, args.batch_size, args.workers
    )
    stop.set()
    th.join()
    out = {
        "n": args.rss_child,
        "rss_mb_after_model_load": round(base, 1),
        "peak_rss_mb_while_scoring": round(peak[0], 1),
        "rss_mb_after_scoring": round(_rss_mb(), 1),
        "peak_rss_mb_process": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "seconds": round(r["seconds"], 2),
    }
    print(json.dumps(out))
    shutil.rmtree(cache, ignore_errors=True)
    return 0


def drop_prediction_entries(info: dict[str, Any], cache: Path, n: int) -> int:
    """Delete the cached embeddings of the first n generated images (references and GT stay)."""
    import hashlib

    gone = 0
    for p in info["preds"][:n]:
        sha = hashlib.sha256((Path(info["preds_dir"]) / p["image"]).read_bytes()).hexdigest()
        for f in cache.rglob(f"{sha}.npy"):
            f.unlink()
            gone += 1
    return gone


def median(xs: list[float]) -> float:
    s = sorted(xs)
    return s[len(s) // 2] if len(s) % 2 else (s[len(s) // 2 - 1] + s[len(s) // 2]) / 2


def _stats(xs: list[float]) -> dict[str, Any]:
    return {"median": round(median(xs), 3), "best": round(max(xs), 3), "all": [round(x, 3) for x in xs]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="t2i scoring benchmark (effnet, offline)")
    ap.add_argument("--raw", default=os.environ.get("ROLESCAPE_RAW"))
    ap.add_argument("--n", type=int, default=256, help="generated images scored (>= 256)")
    ap.add_argument("--size", type=int, default=512, help="side of the generated PNGs")
    ap.add_argument(
        "--ref-items", type=int, default=48, help="items run through the reference loop, per repeat"
    )
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument(
        "--workers", type=int, default=0, help="decode/preprocess threads (ScoreContext.num_workers)"
    )
    ap.add_argument("--cuda", action="store_true")
    ap.add_argument("--rss-ns", default="128,512")
    ap.add_argument("--rss-child", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    args.device = "cuda" if args.cuda else "cpu"
    if args.rss_child:
        return rss_child(args)
    if not args.raw:
        ap.error("give --raw or set ROLESCAPE_RAW")
    rss_ns = [int(x) for x in args.rss_ns.split(",") if x]
    n_max = max([args.n, *rss_ns])
    t0 = time.perf_counter()
    info = build_workload(Path(args.raw), WORK, n_max, args.size)
    print(
        f"workload: {n_max} images of {args.size}px ({info['gen_bytes'] / 1e6:.0f} MB) in {time.perf_counter() - t0:.0f}s"
    )

    import torch

    enc = load_encoder(args.device)  # model load + warm-up excluded from the timings
    pfile = predictions_file(info, args.n)
    cache = WORK / "cache"
    warmup = predictions_file(info, 8)
    run_rolescape(
        warmup, info, WORK / "cache-warmup", WORK / "run-warmup", args.device, args.batch_size, args.workers
    )
    # The machine may be shared: the measurements are interleaved and repeated, and reported as median
    # and best (the best is the cost of the code itself, the median what a user saw in this run).
    colds: list[float] = []
    warms: list[float] = []
    typicals: list[float] = []
    refs: list[float] = []
    n_ref = min(args.ref_items, args.n)
    cold: dict[str, Any] = {}
    ref: dict[str, Any] = {}
    for r in range(args.repeats):
        shutil.rmtree(cache, ignore_errors=True)
        cold = run_rolescape(
            pfile, info, cache, WORK / "run-cold", args.device, args.batch_size, args.workers
        )
        warm = run_rolescape(
            pfile, info, cache, WORK / "run-warm", args.device, args.batch_size, args.workers
        )
        drop_prediction_entries(info, cache, args.n)  # references + GT cached, predictions new
        typical = run_rolescape(
            pfile, info, cache, WORK / "run-typical", args.device, args.batch_size, args.workers
        )
        ref = reference_loop(info, n_ref, args.device)
        colds.append(args.n / cold["seconds"])
        warms.append(args.n / warm["seconds"])
        typicals.append(args.n / typical["seconds"])
        refs.append(len(ref["items"]) / ref["seconds"])
        print(
            f"[{r + 1}/{args.repeats}] rolescape cold {colds[-1]:.1f} img/s, references cached "
            f"{typicals[-1]:.1f} img/s, warm {warms[-1]:.1f} img/s; reference loop {refs[-1]:.2f} img/s "
            f"({n_ref} items)"
        )
    diffs = [abs(cold["items"][i][m] - v) for i, d in ref["items"].items() for m, v in d.items()]

    rss = []
    for n in rss_ns:
        cmd = [
            sys.executable,
            __file__,
            "--rss-child",
            str(n),
            "--batch-size",
            str(args.batch_size),
            "--workers",
            str(args.workers),
        ] + (["--cuda"] if args.cuda else [])
        line = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        rss.append(json.loads(line))
        print(
            f"RSS N={n}: {rss[-1]['rss_mb_after_model_load']:.0f} MB after model load, peak while scoring "
            f"{rss[-1]['peak_rss_mb_while_scoring']:.0f} MB, after {rss[-1]['rss_mb_after_scoring']:.0f} MB"
        )

    res: dict[str, Any] = {
        "what": "t2i scoring, effnet_i + effnet_i_gt (efficientnet_lite0, offline profile)",
        "path": "rolescape.metrics.engine.score (families=['image_identity'], options identity_encoders=['effnet'])",
        "machine": {
            "device": args.device,
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "load_average_1min": round(os.getloadavg()[0], 2),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "gpu": torch.cuda.get_device_name(0) if args.cuda else None,
        },
        "encoder": enc.info.model_dump(),
        "workload": {
            "n": args.n,
            "size": args.size,
            "characters": 20,
            "reference_images": 198,
            "batch_size": args.batch_size,
            "workers": args.workers,
        },
        "repeats": args.repeats,
        "rolescape_cold_images_per_s": _stats(colds),
        "rolescape_references_cached_images_per_s": _stats(typicals),
        "rolescape_warm_images_per_s": _stats(warms),
        "reference_loop_images_per_s": {**_stats(refs), "items_per_repeat": n_ref},
        "speedup_cold_vs_reference": {
            "median": round(median(colds) / median(refs), 2),
            "best": round(max(colds) / max(refs), 2),
        },
        "speedup_references_cached_vs_reference": {
            "median": round(median(typicals) / median(refs), 2),
            "best": round(max(typicals) / max(refs), 2),
        },
        "speedup_warm_vs_cold": {
            "median": round(median(warms) / median(colds), 2),
            "best": round(max(warms) / max(colds), 2),
        },
        "max_abs_diff_vs_reference": float(max(diffs)) if diffs else None,
        "rss": rss,
        "rss_growth_mb_first_to_last_n": round(
            (rss[-1]["peak_rss_mb_while_scoring"] - rss[-1]["rss_mb_after_model_load"])
            - (rss[0]["peak_rss_mb_while_scoring"] - rss[0]["rss_mb_after_model_load"]),
            1,
        )
        if rss
        else None,
        "peak_rss_mb": round(max(r["peak_rss_mb_process"] for r in rss), 1) if rss else None,
        "targets": {
            "speedup_cold_vs_reference": ">= 10",
            "speedup_warm_vs_cold": ">= 3",
            "rss": "no growth with N",
        },
    }
    if args.cuda:
        pure = pure_encoder(args.device, args.batch_size, max(args.n, 1024))
        res["pure_encoder_images_per_s"] = round(pure, 1)
        res["cold_fraction_of_pure_encoder"] = round(max(colds) / pure, 3)
        res["warm_fraction_of_pure_encoder"] = round(max(warms) / pure, 3)
        res["targets"]["cold_fraction_of_pure_encoder"] = ">= 0.8"
    out = (
        Path(args.out)
        if args.out
        else ROOT / "bench" / "results" / ("t2i_scoring_cuda.json" if args.cuda else "t2i_scoring.json")
    )
    from rolescape.io import write_json_atomic

    write_json_atomic(out, res)
    print(json.dumps({k: v for k, v in res.items() if k not in ("machine", "rss", "encoder")}, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
