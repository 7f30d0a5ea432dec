"""Benchmark: how close the scoring engine gets to its encoders' own throughput, on `t2i` identity.

Workload: N "generated" images, one per t2i item of a built dataset written for the bench, with
every character's references and a GT image. CPU (default): the release copy's 20 characters (their
198 TRAIN images as references), generated images = the 65 TEST images under seeded augmentations
(crop, flip, colour jitter, RGBA kept), SIZE x SIZE PNGs; encoder efficientnet_lite0 (offline).
`--synthetic` replaces the release by seeded smooth random images (20 characters x 10 references),
so no file is needed; `--cuda` implies it and uses randomly initialised encoders of the real sizes,
open_clip ViT-L/14 and DINOv2-base, written to bench/_work and loaded through `--model NAME=DIR`
(no download). Nothing is traded for speed: the engine's scores are compared with the reference loop's.

Measured in one run, same encoder objects, same machine:
* pure encoder: `embedder.encode` on batches of prepared random images (collate + host->device copy +
  forward + normalise), per encoder; images through all encoders per second;
* rolescape cold (empty embedding cache) at each N of `--ns`: images encoded end to end per second
  (decode, preprocess, encode, cache, items log, aggregation; every distinct image counted once per
  encoder) and its share of the pure encoder rate (target >= 0.8);
* the reference loop (what the released scorers do): per item, one image at a time, encode the
  generated image, every reference of its character and the GT image, then the cosines; its
  items/s does not depend on N, so it is timed on a seeded sample of `--ref-items` items of the
  largest N and scaled linearly (recorded as `extrapolated_from`); the cold ratio (items/s) against
  it at each N grows with N because the engine encodes the references once; the engine's scores on
  the sampled items are compared with the loop's (`max_abs_diff_vs_reference_loop`);
* at the first N: warm (same predictions into a new run folder: all cache hits) and
  "references cached" (references + GT embedded by an earlier run, predictions new);
* RSS: a fresh process per `--rss-ns` loads the model and scores cold while a thread samples its RSS.
Model loading is excluded from every timing. The machine may be shared: repeats are interleaved and
reported as median and best.

    ROLESCAPE_RAW=/work/shared/rolescape20-raw python bench/bench_t2i_scoring.py     # CPU, release
    python bench/bench_t2i_scoring.py --cuda                                          # GPU, < 5 min
    python bench/bench_t2i_scoring.py --cuda --dry-run-cpu    # the GPU path on CPU, tiny: a smoke run
writes bench/results/t2i_scoring.json (CPU), t2i_scoring_cuda.json or t2i_scoring_dryrun.json.
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


# ------------------------------------------------------------------------------------------ workload


Release = dict[str, dict[str, list[tuple[str, bytes]]]]


def release_images(raw: Path) -> Release:
    from rolescape.schemas.base import slugify

    base = raw / "data" / "personalized_data"
    out: Release = {}
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


def synthetic_release(n_chars: int = 20, n_refs: int = 10, n_test: int = 4, size: int = 512) -> Release:
    """A stand-in for the release (no files needed): smooth random images, seeded, per character."""
    import numpy as np
    from PIL import Image, ImageDraw

    def png(seed: int) -> bytes:
        rng = np.random.default_rng(seed)
        low = Image.fromarray(rng.integers(0, 256, size=(12, 12, 3), dtype=np.uint8))
        img = low.resize((size, size), Image.Resampling.BICUBIC)
        d = ImageDraw.Draw(img)
        x, y = (int(v) for v in rng.integers(0, size // 2, size=2))
        d.ellipse(
            (x, y, x + size // 3, y + size // 2), fill=tuple(int(v) for v in rng.integers(0, 256, size=3))
        )
        buf = io.BytesIO()
        img.save(buf, format="PNG", compress_level=1)
        return buf.getvalue()

    rel: Release = {}
    for c in range(n_chars):
        rel[f"char-{c:02d}"] = {
            "train": [(str(i), png(c * 1000 + i)) for i in range(n_refs)],
            "test": [(str(i), png(c * 1000 + 500 + i)) for i in range(n_test)],
        }
    return rel


def build_workload(rel: Release, label: str, work: Path, n_max: int, size: int) -> dict[str, Any]:
    """A built dataset with n_max t2i items + their generated images; reused when already there."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from rolescape.dataset import parquet_relpath
    from rolescape.schemas import ImageData, T2IItem

    stamp = {"n_max": n_max, "size": size, "source": label, "version": 3}
    meta = work / "workload.json"
    if meta.is_file():  # a workload of at least n_max images built the same way is reused
        have = json.loads(meta.read_text())
        if {**have["stamp"], "n_max": n_max} == stamp and have["stamp"]["n_max"] >= n_max:
            return have
    shutil.rmtree(work, ignore_errors=True)
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
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:  # PNG encoding is the cost
        pngs = list(
            pool.map(augment, [seeds[k % len(seeds)][2] for k in range(n_max)], range(n_max), [size] * n_max)
        )
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
        (gen_dir / name).write_bytes(pngs[k])
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


# ------------------------------------------------------------------------------------------ models


def random_models(work: Path, tiny: bool = False) -> dict[str, str]:
    """Randomly initialised open_clip ViT-L/14 and DINOv2-base (real sizes; `tiny` for a CPU dry
    run), saved the way users point rolescape at local models (`--model clip=DIR dino=DIR`)."""
    import open_clip
    import torch
    from safetensors.torch import save_file
    from transformers import Dinov2Config, Dinov2Model

    from rolescape.metrics.encoders.dino import dinov2_default_processor

    out = {}
    torch.manual_seed(0)
    d = work / ("clip-tiny" if tiny else "clip-vit-l-14-random")
    if not (d / "open_clip_model.safetensors").is_file():
        d.mkdir(parents=True, exist_ok=True)
        cfg = open_clip.get_model_config("ViT-L-14")
        if tiny:
            cfg = {
                "embed_dim": 16,
                "vision_cfg": {
                    "image_size": 224,
                    "layers": 2,
                    "width": 32,
                    "patch_size": 32,
                    "head_width": 16,
                },
                "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
            }
        pre = {
            "mean": [0.48145466, 0.4578275, 0.40821073],
            "std": [0.26862954, 0.26130258, 0.27577711],
            "interpolation": "bicubic",
            "resize_mode": "shortest",
            "size": 224,
        }
        (d / "open_clip_config.json").write_text(json.dumps({"model_cfg": cfg, "preprocess_cfg": pre}))
        model = open_clip.create_model(f"local-dir:{d}")
        save_file(
            {k: v.contiguous() for k, v in model.state_dict().items()}, str(d / "open_clip_model.safetensors")
        )
        del model
    out["clip"] = str(d)
    d = work / ("dino-tiny" if tiny else "dinov2-base-random")
    if not (d / "config.json").is_file():
        size = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2} if tiny else {}
        cfg = Dinov2Config(patch_size=14, image_size=518, **size)  # defaults = dinov2-base (768, 12 x 12)
        Dinov2Model(cfg).eval().save_pretrained(d)
        dinov2_default_processor().save_pretrained(d)
    out["dino"] = str(d)
    return out


# -------------------------------------------------------------------------------------------- runs


def make_spec(pfile: Path, info: dict[str, Any], a: argparse.Namespace, **kw: Any) -> Any:
    from rolescape.schemas.spec import ScoreSpec

    return ScoreSpec(
        predictions=str(pfile),
        data=info["dataset"],
        tasks=["t2i"],
        profile=a.profile,
        device=a.device,
        batch_size=a.batch_size,
        num_workers=a.workers,
        families={"image_identity": {"encoders": a.encoders}},
        model_paths=a.model_paths,
        bootstrap=a.bootstrap,
        **kw,
    )


def context(a: argparse.Namespace) -> Any:
    from rolescape.metrics.base import ScoreContext

    opts = {"identity_encoders": a.encoders, "precision": "auto"}
    return ScoreContext(
        data=None, profile=a.profile, device=a.device, options=opts, model_paths=a.model_paths
    )


def embedders(a: argparse.Namespace) -> dict[str, Any]:
    """The identity family's embedder objects (loaded once; the engine shares them)."""
    from rolescape.metrics.encoders import get_encoder

    ctx = context(a)
    out = {}
    for name in a.encoders:
        enc = get_encoder(name, ctx)
        out[name] = enc.image if name == "clip" else enc
    return out


def run_rolescape(
    pfile: Path, info: dict[str, Any], cache: Path, out: Path, a: argparse.Namespace
) -> dict[str, Any]:
    from rolescape.metrics.engine import score

    shutil.rmtree(out, ignore_errors=True)
    t = time.perf_counter()
    score(make_spec(pfile, info, a), out_dir=out, cache_dir=cache)
    dt = time.perf_counter() - t
    items = [json.loads(x) for x in (out / "items.jsonl").read_text().splitlines()]
    n_enc = sum(1 for _ in cache.rglob("*.npy")) if cache.exists() else 0
    return {"seconds": dt, "items": {it["id"]: it["metrics"] for it in items}, "encoded_total": n_enc}


def reference_loop(
    info: dict[str, Any], sample: list[dict[str, Any]], embs: dict[str, Any], device: str
) -> dict[str, Any]:
    """The released scorers' way: per item, every image decoded, prepared and encoded alone.

    Run on `sample` (a seeded sample of the items): its cost per item does not depend on N (nothing
    is shared between items), so the loop's time at N is N / (its items/s), said so in the results."""
    import numpy as np
    import pyarrow.parquet as pq
    from PIL import Image

    from rolescape.metrics.images_io import to_rgb

    ds = Path(info["dataset"])
    refs: dict[str, list[bytes]] = {}
    for r in pq.read_table(ds / "data/images/train-00000-of-00001.parquet").to_pylist():
        refs.setdefault(r["character"], []).append(r["image"]["bytes"])
    rows = {r["id"]: r for r in pq.read_table(ds / "data/t2i/test-00000-of-00001.parquet").to_pylist()}

    def embed(e: Any, data: bytes) -> Any:
        return e.encode([e.prepare(to_rgb(Image.open(io.BytesIO(data)), "white"))])[0]

    for e in embs.values():
        embed(e, refs[next(iter(refs))][0])  # warm-up, like ours
    out: dict[str, dict[str, float]] = {}
    preds_dir = Path(info["preds_dir"])
    _sync(device)
    t = time.perf_counter()
    for p in sample:
        row = rows[p["id"]]
        m: dict[str, float] = {}
        for name, e in embs.items():
            g = embed(e, (preds_dir / p["image"]).read_bytes())
            rv = [embed(e, b) for b in refs[row["character"]]]
            gt = embed(e, row["reference_image"]["bytes"])
            first = "dino" if name == "dino" else f"{name}_i"
            m[first] = float(np.mean([g @ r for r in rv]))
            if name != "dino":
                m[f"{name}_i_gt"] = float(g @ gt)
        out[p["id"]] = m
    _sync(device)
    return {"seconds": time.perf_counter() - t, "items": out}


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def pure_encoder(embs: dict[str, Any], bs: int, n: int, device: str) -> dict[str, float]:
    """Images/s of each embedder's batched `encode` on prepared random images (no decode, no engine)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 256, size=(512, 512, 3), dtype=np.uint8))
    out = {}
    for name, e in embs.items():
        batch = [e.prepare(img)] * bs
        for _ in range(5):  # TorchScript (effnet on CPU) re-profiles a new input shape for ~2 calls
            e.encode(batch)
        _sync(device)
        steps = max(2, n // bs)
        t = time.perf_counter()
        for _ in range(steps):
            e.encode(batch)
        _sync(device)
        out[name] = steps * bs / (time.perf_counter() - t)
    return out


def _proc_status_mb(field: str) -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _rss_mb() -> float:
    """Current resident set size (Linux /proc; falls back to the peak elsewhere)."""
    got = _proc_status_mb("VmRSS")
    return got if got is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _peak_rss_mb() -> float:
    """This process's own peak RSS: VmHWM of its address space. (`ru_maxrss` of RUSAGE_SELF is not:
    Linux keeps it across fork + exec, so a child started by a big parent reports the parent's peak.)"""
    got = _proc_status_mb("VmHWM")
    return got if got is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_child(a: argparse.Namespace) -> int:
    """In a fresh process: load the model, then score N predictions cold while a thread samples the
    RSS every 10 ms. Prints the RSS after model load, the peak during scoring and the final RSS."""
    import threading

    info = json.loads((WORK / "workload.json").read_text())
    embedders(a)
    pfile = predictions_file(info, a.rss_child)
    cache = WORK / f"cache-rss-{a.rss_child}"
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
    r = run_rolescape(pfile, info, cache, WORK / f"run-rss-{a.rss_child}", a)
    stop.set()
    th.join()
    print(
        json.dumps(
            {
                "n": a.rss_child,
                "rss_mb_after_model_load": round(base, 1),
                "peak_rss_mb_while_scoring": round(peak[0], 1),
                "rss_mb_after_scoring": round(_rss_mb(), 1),
                "peak_rss_mb_process": round(_peak_rss_mb(), 1),  # VmHWM: this child only
                "seconds": round(r["seconds"], 2),
            }
        )
    )
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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="t2i identity scoring benchmark")
    ap.add_argument("--raw", default=os.environ.get("ROLESCAPE_RAW"))
    ap.add_argument("--synthetic", action="store_true", help="random images instead of the release copy")
    ap.add_argument("--cuda", action="store_true", help="GPU: synthetic data, random ViT-L/14 + DINOv2-base")
    ap.add_argument(
        "--tiny-models", action="store_true", help="tiny random CLIP/DINO (a CPU dry run of --cuda)"
    )
    ap.add_argument("--ns", default="256,1024,4096", help="N of the cold runs (the first also: warm, cached)")
    ap.add_argument("--size", type=int, default=512, help="side of the generated PNGs")
    ap.add_argument(
        "--ref-items",
        type=int,
        default=48,
        help="seeded sample of items through the reference loop, per repeat",
    )
    ap.add_argument(
        "--dry-run-cpu",
        action="store_true",
        help="with --cuda: the GPU mode's code path on CPU with tiny random models and tiny N (no numbers)",
    )
    ap.add_argument("--repeats", type=int, default=3, help="repeats at the first N (1 at the others)")
    ap.add_argument("--batch-size", type=int, default=None, help="default 32 on CPU, 128 on CUDA")
    ap.add_argument("--workers", type=int, default=None, help="decode workers (default 0 CPU, 8 CUDA)")
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--rss-ns", default="128,512,2048")
    ap.add_argument("--pure-images", type=int, default=None, help="images per pure-encoder timing")
    ap.add_argument("--rss-child", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--model-paths", default="{}", help=argparse.SUPPRESS)
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    if a.dry_run_cpu:  # the --cuda configuration (encoders, batch, workers), on CPU, tiny
        if not a.cuda and not a.rss_child:
            ap.error("--dry-run-cpu goes with --cuda")
        a.cuda, a.tiny_models = False, True
        a.batch_size, a.workers = a.batch_size or 128, 8 if a.workers is None else a.workers
        if not a.rss_child:
            a.ns, a.rss_ns, a.repeats, a.ref_items, a.bootstrap, a.size = "16,32", "8,16", 1, 4, 50, 128
    gpu_like = a.cuda or a.tiny_models
    a.synthetic = a.synthetic or gpu_like
    a.device = "cuda" if a.cuda else "cpu"
    a.batch_size = a.batch_size or (128 if a.cuda else 32)
    a.pure_images = a.pure_images or (4096 if a.cuda else 512)
    a.workers = a.workers if a.workers is not None else (8 if a.cuda else 0)
    a.encoders = ["clip", "dino"] if gpu_like else ["effnet"]
    a.profile = "paper" if gpu_like else "offline"
    a.model_paths = json.loads(a.model_paths)
    if not a.synthetic and not a.raw and not a.rss_child:
        ap.error("give --raw (or set ROLESCAPE_RAW), or --synthetic")
    return a


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    if a.rss_child:
        return rss_child(a)
    import torch

    if a.cuda and not torch.cuda.is_available():  # (--dry-run-cpu has turned a.cuda off)
        raise SystemExit("--cuda: no CUDA device here (this bench's GPU mode needs a lent GPU)")
    ns = [int(x) for x in a.ns.split(",") if x]
    rss_ns = [int(x) for x in a.rss_ns.split(",") if x]
    t0 = time.perf_counter()
    if a.synthetic:
        rel, label = synthetic_release(size=a.size), "synthetic"
    else:
        rel, label = release_images(Path(a.raw)), f"release:{a.raw}"
    info = build_workload(rel, label, WORK, max([*ns, *rss_ns]), a.size)
    if a.encoders != ["effnet"]:
        a.model_paths = random_models(WORK.parent / "models", tiny=a.tiny_models)
    print(
        f"workload: {len(info['preds'])} images of {a.size}px ({label}) ready in {time.perf_counter() - t0:.0f}s"
    )

    embs = embedders(a)  # model load + warm-up excluded from the timings
    run_rolescape(predictions_file(info, 8), info, WORK / "cache-warmup", WORK / "run-warmup", a)
    cache = WORK / "cache"
    n_ref = min(a.ref_items, max(ns))
    sample = sorted(random.Random(0).sample(range(max(ns)), n_ref))
    ref_sample = [info["preds"][i] for i in sample]
    pure: dict[str, list[float]] = {e: [] for e in embs}
    cold_by_n: dict[int, list[dict[str, Any]]] = {n: [] for n in ns}
    warms: list[float] = []
    cached: list[float] = []
    refs: list[float] = []
    ref: dict[str, Any] = {}
    for r in range(a.repeats):
        for e, v in pure_encoder(embs, a.batch_size, a.pure_images, a.device).items():
            pure[e].append(v)
        for n in ns if r == 0 else ns[:1]:
            shutil.rmtree(cache, ignore_errors=True)
            pfile = predictions_file(info, n)
            cold = run_rolescape(pfile, info, cache, WORK / "run-cold", a)
            cold_by_n[n].append(cold)
            if n == ns[0]:
                warm = run_rolescape(pfile, info, cache, WORK / "run-warm", a)
                drop_prediction_entries(info, cache, n)
                typical = run_rolescape(pfile, info, cache, WORK / "run-typical", a)
                warms.append(n / warm["seconds"])
                cached.append(n / typical["seconds"])
            print(
                f"[{r + 1}/{a.repeats}] N={n}: cold {n / cold['seconds']:.1f} items/s, "
                f"{cold['encoded_total'] / cold['seconds']:.1f} encodings/s",
                flush=True,
            )
        ref = reference_loop(info, ref_sample, embs, a.device)
        refs.append(len(ref["items"]) / ref["seconds"])
        print(
            f"[{r + 1}/{a.repeats}] reference loop {refs[-1]:.2f} items/s; pure {[round(v[-1], 1) for v in pure.values()]} img/s",
            flush=True,
        )
    full = cold_by_n[max(ns)][0]["items"]  # every sampled item is in the largest run
    diffs = [abs(full[i][m] - v) for i, d in ref["items"].items() for m, v in d.items()]

    rss: list[dict[str, Any]] = []
    # pure rate of one image through every encoder: 1 / sum(1 / rate_e); encodings/s = that x encoders
    pure_best = {e: max(v) for e, v in pure.items()}
    pure_med = {e: median(v) for e, v in pure.items()}
    through_all_best = 1.0 / sum(1.0 / v for v in pure_best.values())
    through_all_med = 1.0 / sum(1.0 / v for v in pure_med.values())
    ref_best, ref_med = max(refs), median(refs)
    per_n = {}
    for n, runs in cold_by_n.items():
        enc_rates = [c["encoded_total"] / c["seconds"] / len(embs) for c in runs]  # images through all
        item_rates = [n / c["seconds"] for c in runs]
        per_n[str(n)] = {
            "images_encoded_per_encoder": runs[0]["encoded_total"] // len(embs),
            "cold_items_per_s": _stats(item_rates),
            "cold_images_encoded_per_s": _stats(enc_rates),
            "share_of_pure_encoder": {
                "median": round(median(enc_rates) / through_all_med, 3),
                "best": round(max(enc_rates) / through_all_best, 3),
            },
            "cold_ratio_vs_reference_loop": {
                "median": round(median(item_rates) / ref_med, 2),
                "best": round(max(item_rates) / ref_best, 2),
            },
            "reference_loop_seconds_extrapolated": round(n / ref_med, 1),
            "cold_seconds": {
                **_stats([c["seconds"] for c in runs]),
                "best": round(min(c["seconds"] for c in runs), 3),
            },
        }
    n0 = ns[0]
    res: dict[str, Any] = {
        "what": f"t2i identity scoring ({', '.join(a.encoders)}), {label}",
        "path": "rolescape.metrics.engine.score(ScoreSpec(families={'image_identity': {'encoders': ...}}))",
        "machine": {
            "device": a.device,
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "load_average_1min": round(os.getloadavg()[0], 2),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "gpu": torch.cuda.get_device_name(0) if a.cuda else None,
        },
        "encoders": {e: emb.info.model_dump() for e, emb in embs.items()},
        "random_init_models": a.encoders != ["effnet"],
        "workload": {
            "ns": ns,
            "size": a.size,
            "characters": len(rel),
            "batch_size": a.batch_size,
            "workers": a.workers,
        },  # fmt: skip
        "repeats": a.repeats,
        "pure_encoder_images_per_s": {e: _stats(v) for e, v in pure.items()},
        "pure_images_through_all_encoders_per_s": {
            "median": round(through_all_med, 2),
            "best": round(through_all_best, 2),
        },
        "cold": per_n,
        "reference_loop_items_per_s": {
            **_stats(refs),
            "items_per_repeat": n_ref,
            "extrapolated_from": {
                "items": n_ref,
                "sample": f"random.Random(0).sample(range({max(ns)}), {n_ref}), the same items every repeat",
                "scaling": "linear in N: the loop shares nothing between items, so its time at N is "
                "N / items_per_s; every cold ratio divides by this rate",
            },
        },
        f"warm_items_per_s_n{n0}": _stats(warms),
        f"references_cached_items_per_s_n{n0}": _stats(cached),
        f"speedup_warm_vs_cold_n{n0}": round(
            median(warms) / median([n0 / c["seconds"] for c in cold_by_n[n0]]), 2
        ),
        f"speedup_references_cached_vs_reference_loop_n{n0}": round(median(cached) / ref_med, 2),
        "max_abs_diff_vs_reference_loop": float(max(diffs)) if diffs else None,
        "rss": "pending (the RSS runs follow; this file is rewritten when they are done)",
        "targets": {"share_of_pure_encoder": ">= 0.8", "rss": "no growth with N"},
    }
    if a.tiny_models:
        res["note"] = "tiny random CLIP/DINO on CPU: a dry run of the --cuda code path, not a measurement"
        res["dry_run_cpu"] = bool(a.dry_run_cpu)
    default = (
        "t2i_scoring_cuda.json"
        if a.cuda
        else ("t2i_scoring_dryrun.json" if a.tiny_models else "t2i_scoring.json")
    )
    out = Path(a.out) if a.out else ROOT / "bench" / "results" / default
    from rolescape.io import write_json_atomic

    write_json_atomic(out, res)  # the timings are kept even if an RSS run fails
    print(json.dumps({k: v for k, v in res.items() if k not in ("machine", "rss", "encoders")}, indent=1))
    for n in rss_ns:
        cmd = [sys.executable, __file__, "--rss-child", str(n), "--batch-size", str(a.batch_size), "--workers",
               str(a.workers), "--model-paths", json.dumps(a.model_paths), "--size", str(a.size)]  # fmt: skip
        cmd += ["--cuda"] if a.cuda else (["--tiny-models"] if a.tiny_models else [])
        cmd += ["--bootstrap", str(a.bootstrap)]
        line = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        rss.append(json.loads(line))
        print(f"RSS N={n}: {rss[-1]}", flush=True)

    res["rss"] = rss
    res["rss_growth_mb_first_to_last_n"] = (
        round(
            (rss[-1]["peak_rss_mb_while_scoring"] - rss[-1]["rss_mb_after_model_load"])
            - (rss[0]["peak_rss_mb_while_scoring"] - rss[0]["rss_mb_after_model_load"]),
            1,
        )
        if rss
        else None
    )
    write_json_atomic(out, res)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
