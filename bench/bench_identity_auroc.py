"""Do the offline identity encoders tell the RoleScape-20 characters apart? Same-vs-other AUROC.

For every TEST image t of the release copy and every character c, s(t, c) is the identity score the
metric families compute: the mean cosine between t and c's TRAIN images (`effnet_i`), or between t's
largest face and c's reference faces (`dlib_face_sim`). Pairs (t, own character) are positives,
(t, any other character) negatives; AUROC = P(positive score > negative score). Also reported: top-1
identification (is the own character the best-scoring one) and the chance level 1/#characters.

efficientnet_lite0 runs on all 20 characters. dlib runs on the characters whose train images mostly
show a detectable face (the same >= 50% rule `dlib_face_sim` applies); test images without a detected
face are counted and left out.

    ROLESCAPE_RAW=/work/shared/rolescape20-raw python bench/bench_identity_auroc.py
writes bench/results/identity_auroc.json. tests/metrics/image/test_release_auroc.py runs the same code.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ENCODERS = ("effnet", "dlib_face")


def release_images(raw: Path) -> dict[str, dict[str, list[tuple[str, bytes]]]]:
    """{slug: {"train": [(key, bytes)], "test": [...]}} from data/personalized_data of the release copy."""
    from rolescape.schemas.base import slugify

    base = Path(raw) / "data" / "personalized_data"
    out: dict[str, dict[str, list[tuple[str, bytes]]]] = {}
    for folder in sorted(os.listdir(base / "train")):
        if not (base / "train" / folder).is_dir():
            continue
        slug = slugify(folder.split("-", 1)[1] if "-" in folder else folder)
        out[slug] = {}
        for split in ("train", "test"):
            files = sorted((base / split / folder).glob("*.png"), key=lambda p: int(p.stem))
            out[slug][split] = [(f"{split}/{slug}/{p.stem}", p.read_bytes()) for p in files]
    return out


def auroc(pos: list[float], neg: list[float]) -> float:
    """Mann-Whitney AUROC with ties counted one half."""
    import numpy as np

    scores = np.concatenate([np.asarray(pos, float), np.asarray(neg, float)])
    order = scores.argsort(kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_s = scores[order]
    i = 0
    while i < len(sorted_s):
        j = i
        while j + 1 < len(sorted_s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    n_p, n_n = len(pos), len(neg)
    return float((ranks[:n_p].sum() - n_p * (n_p + 1) / 2) / (n_p * n_n))


def identity_auroc(
    raw: str | Path, cache_dir: str | Path | None, encoders: tuple[str, ...] = ENCODERS, alpha: str = "white"
) -> dict[str, Any]:
    import numpy as np

    from rolescape.metrics.base import ScoreContext
    from rolescape.metrics.encoders import get_encoder
    from rolescape.metrics.encoders.pipeline import Embedding, source_from_bytes
    from rolescape.metrics.image.identity import FACE_MIN_REF_FRACTION

    data = release_images(Path(raw))
    ctx = ScoreContext(
        data=None,
        profile="offline",
        device="cpu",
        alpha=alpha,
        batch_size=32,
        cache_dir=Path(cache_dir) if cache_dir else None,
    )
    results: dict[str, Any] = {}
    for name in encoders:
        t0 = time.perf_counter()
        enc = get_encoder(name, ctx)
        emb = Embedding(enc, ctx)
        face = name == "dlib_face"
        train = {s: emb([source_from_bytes(b, k) for k, b in d["train"]]) for s, d in data.items()}
        if face:
            rate = {s: sum(v.size > 0 for v in vs) / len(vs) for s, vs in train.items()}
            chars = [s for s in data if rate[s] >= FACE_MIN_REF_FRACTION]
        else:
            rate, chars = {}, list(data)
        banks = {s: np.stack([v for v in train[s] if v.size]) for s in chars}
        pos: list[float] = []
        neg: list[float] = []
        top1 = n_test = no_face = 0
        per_char: dict[str, dict[str, float]] = {}
        for s in chars:
            tests = emb([source_from_bytes(b, k) for k, b in data[s]["test"]])
            cp, cn = [], []
            for v in tests:
                if not v.size:
                    no_face += 1
                    continue
                n_test += 1
                sims = {c: float(np.mean(banks[c] @ v)) for c in chars}
                cp.append(sims[s])
                cn += [x for c, x in sims.items() if c != s]
                top1 += max(sims, key=lambda c: sims[c]) == s
            pos += cp
            neg += cn
            if cp:
                per_char[s] = {"auroc": round(auroc(cp, cn), 4), "n_test": len(cp)}
        results[name] = {
            "auroc": round(auroc(pos, neg), 4),
            "top1": round(top1 / n_test, 4) if n_test else None,
            "chance_top1": round(1 / len(chars), 4),
            "n_characters": len(chars),
            "characters": chars,
            "n_test_images": n_test,
            "n_test_without_face": no_face if face else None,
            "n_pos": len(pos),
            "n_neg": len(neg),
            "mean_same": round(float(np.mean(pos)), 4),
            "mean_other": round(float(np.mean(neg)), 4),
            "per_character": per_char,
            "train_face_rate": {s: round(r, 3) for s, r in rate.items()} if face else None,
            "model": ctx.models[name].model_dump(),
            "encoded_images": emb.encoded,
            "seconds": round(time.perf_counter() - t0, 2),
        }
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--raw", default=os.environ.get("ROLESCAPE_RAW"), help="release copy (default $ROLESCAPE_RAW)"
    )
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "identity_auroc.json"))
    ap.add_argument(
        "--cache-dir", default=None, help="embedding cache (default: none, everything is encoded)"
    )
    ap.add_argument("--alpha", default="white", choices=["white", "paper"])
    args = ap.parse_args(argv)
    if not args.raw:
        ap.error("give --raw or set ROLESCAPE_RAW")
    cache = args.cache_dir
    if cache is None:
        import tempfile

        cache = tempfile.mkdtemp(prefix="rolescape-auroc-")
    res = identity_auroc(args.raw, cache, alpha=args.alpha)
    out = {
        "what": "same-vs-other character AUROC of TEST images against TRAIN references (release copy)",
        "alpha": args.alpha,
        "machine": {
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
        },
        "results": res,
    }
    from rolescape.io import write_json_atomic

    write_json_atomic(args.out, out)
    for name, r in res.items():
        print(
            f"{name:10s} AUROC {r['auroc']:.4f}  top-1 {r['top1']:.3f} (chance {r['chance_top1']:.3f})  "
            f"{r['n_characters']} characters, {r['n_test_images']} test images, {r['seconds']:.1f}s"
        )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
