"""Verification of the text metrics on the release copy with MiniLM (profile `offline`).

Question: do `ref_sim` and `style_p` recognise a character? The GT responses of the 400 dialogue-test
items are scored against their own character and against a shuffled-character control:

* ref_sim own: cos(GT_i, another GT reference of the same character) (item k -> item k+1 of that
  character; pairing a response with its own reference would trivially give 1, reported as `identity`);
* ref_sim shuffled: cos(GT_i, the GT reference of item k of the next character in sorted order);
* style_p own: P(own character | GT_i); shuffled: P(next character | GT_i);
* the style classifier's held-out accuracy on these 400 GT responses (never seen in training; chance 1/20).

The classifier is fitted exactly as `StyleFamily` does (all train dialogues, default config).
Numbers are printed and recorded in bench/results/text_verification.json, never asserted.

    python bench/bench_text_verification.py [--data BUILT_DIR | --source RAW] [--out PATH]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def control_pairs(characters: list[str]) -> tuple[list[int], list[int], list[str]]:
    """For each item: index of another item of the same character, index of an item of the next
    character, and that next character (deterministic; items keep their dataset order)."""
    by_char: dict[str, list[int]] = defaultdict(list)
    for i, c in enumerate(characters):
        by_char[c].append(i)
    order = sorted(by_char)
    pos = {i: k for c in order for k, i in enumerate(by_char[c])}
    own, other, other_char = [], [], []
    for i, c in enumerate(characters):
        k = pos[i]
        same = by_char[c]
        own.append(same[(k + 1) % len(same)])
        c2 = order[(order.index(c) + 1) % len(order)]
        other.append(by_char[c2][k % len(by_char[c2])])
        other_char.append(c2)
    return own, other, other_char


def summarise(own: np.ndarray, shuffled: np.ndarray, chars: list[str]) -> dict[str, Any]:
    per: dict[str, list[int]] = defaultdict(list)
    for i, c in enumerate(chars):
        per[c].append(i)
    macro = lambda v: float(np.mean([v[ix].mean() for ix in per.values()]))  # noqa: E731
    return {
        "own_mean": float(own.mean()),
        "shuffled_mean": float(shuffled.mean()),
        "own_macro": macro(own),
        "shuffled_macro": macro(shuffled),
        "difference": float(own.mean() - shuffled.mean()),
        "own_wins": float((own > shuffled).mean()),
    }


def verify(data: Any, encoder: Any, batch_size: int = 32) -> dict[str, Any]:
    from rolescape.metrics.text.style import StyleConfig, fit_from_dataset

    rows = data.task_items("dialogue")
    refs = [str(r["reference_response"]) for r in rows]
    chars = [str(r["character"]) for r in rows]
    own_i, other_i, other_c = control_pairs(chars)

    t = time.perf_counter()
    emb = encoder.encode(refs, batch_size).astype(np.float64)
    ref_own = np.einsum("ij,ij->i", emb, emb[own_i])
    ref_shuf = np.einsum("ij,ij->i", emb, emb[other_i])
    ref_identity = np.einsum("ij,ij->i", emb, emb)
    t_ref = time.perf_counter() - t

    t = time.perf_counter()
    cfg = StyleConfig()
    model = fit_from_dataset(data, encoder, cfg, batch_size)
    t_fit = time.perf_counter() - t
    proba = model.predict_proba(refs, encoder.encode(refs, batch_size))
    cls = {c: j for j, c in enumerate(model.classes)}
    p_own = proba[np.arange(len(refs)), [cls[c] for c in chars]]
    p_shuf = proba[np.arange(len(refs)), [cls[c] for c in other_c]]
    acc_own = (proba.argmax(1) == np.array([cls[c] for c in chars])).astype(float)
    acc_shuf = (proba.argmax(1) == np.array([cls[c] for c in other_c])).astype(float)
    held = model.meta.get("heldout", {})
    return {
        "n_items": len(rows),
        "n_characters": len(set(chars)),
        "ref_sim": {
            **summarise(ref_own, ref_shuf, chars),
            "identity_mean": float(ref_identity.mean()),
            "own_definition": "another GT reference of the same character (item k -> k+1)",
            "shuffled_definition": "the GT reference of item k of the next character (sorted ids)",
        },
        "style_p": summarise(p_own, p_shuf, chars),
        "style_acc": summarise(acc_own, acc_shuf, chars),
        "style_classifier": {
            "heldout_accuracy": held.get("accuracy"),
            "heldout_mean_own_p": held.get("mean_own_p"),
            "heldout_n": held.get("n"),
            "heldout_set": held.get("set"),
            "chance": 1 / len(model.classes),
            "per_character_accuracy": held.get("per_class_accuracy"),
            "n_train": model.meta.get("n_train"),
            "train_accuracy": model.meta.get("train_accuracy"),
            "n_features": model.meta.get("n_features"),
            "n_catchphrases": len(model.catchphrases),
            "catchphrases_sample": model.catchphrases[:: max(1, len(model.catchphrases) // 25)][:25],
            "config": cfg.to_json(),
        },
        "timing_s": {"encode_references": round(t_ref, 2), "fit_classifier_incl_encoding": round(t_fit, 2)},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="a built dataset folder (default: build --source into a temp folder)")
    ap.add_argument("--source", default=os.environ.get("ROLESCAPE_RAW", "/work/shared/rolescape20-raw"))
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "text_verification.json"))
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args()

    from rolescape.dataset import BuiltDataset
    from rolescape.io import write_json_atomic
    from rolescape.metrics.text.encoders import load_encoder

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        if args.data:
            data_dir = Path(args.data)
        else:
            from rolescape.builders.build import build

            data_dir = Path(tmp) / "built"
            build(args.source, data_dir)
        data = BuiltDataset(data_dir)
        t = time.perf_counter()
        enc = load_encoder("minilm", "cpu", None)  # no disk cache: every text is encoded here
        t_load = time.perf_counter() - t
        res = verify(data, enc, args.batch_size)
        res["timing_s"]["load_encoder"] = round(t_load, 2)
        res["timing_s"]["total"] = round(time.perf_counter() - t0, 2)
        res["dataset"] = {"manifest_sha256": data.manifest_sha256, "source": data.source}
    import torch

    res["encoder"] = enc.info().model_dump()
    res["environment"] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "load_average": list(os.getloadavg()),
    }
    write_json_atomic(args.out, res)
    r, s, c = res["ref_sim"], res["style_p"], res["style_classifier"]
    print(
        f"ref_sim  own {r['own_mean']:.4f}  shuffled {r['shuffled_mean']:.4f}  own wins {r['own_wins']:.3f}"
    )
    print(
        f"style_p  own {s['own_mean']:.4f}  shuffled {s['shuffled_mean']:.4f}  own wins {s['own_wins']:.3f}"
    )
    print(
        f"style classifier held-out accuracy {c['heldout_accuracy']:.4f} on {c['heldout_n']} "
        f"(chance {c['chance']:.3f}); wrote {args.out}"
    )


if __name__ == "__main__":
    main()
