"""Helpers for the image-metric tests: synthetic images, a reference-image store with the interface of
`BuiltDataset.reference_images`, predictions written to disk, and a reader of the release copy."""

from __future__ import annotations

import io
import os
import random
from pathlib import Path
from typing import Any

from rolescape.schemas.base import slugify


def png(w: int, h: int, seed: int, mode: str = "RGB", alpha_hole: bool = False) -> bytes:
    """A deterministic noisy PNG (smooth gradient + noise), optionally RGBA with a transparent corner."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack(
        [(xx * (seed % 7 + 1)) % 256, (yy * (seed % 5 + 2)) % 256, (xx + yy + 40 * seed) % 256], -1
    )
    arr = np.clip(base + rng.integers(-40, 40, size=(h, w, 3)), 0, 255).astype(np.uint8)
    img = Image.fromarray(arr, "RGB")
    if mode == "RGBA":
        a = np.full((h, w), 255, dtype=np.uint8)
        if alpha_hole:
            a[: h // 2, : w // 2] = 0
        img = Image.fromarray(np.dstack([arr, a]), "RGBA")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


class RefStore:
    """Reference images per character: the part of BuiltDataset the image families read."""

    def __init__(self, refs: dict[str, list[bytes]]):
        self.refs = refs
        self.calls = 0

    def reference_images(self, slug: str, split: str = "train") -> list[tuple[str, bytes]]:
        self.calls += 1
        return [(f"{split}/{slug}/{i}", b) for i, b in enumerate(self.refs.get(slug, []))]


def write_images(folder: Path, images: dict[str, bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in images.items():
        (folder / name).write_bytes(data)


def open_rgb(data: bytes, alpha: str = "white") -> Any:
    from rolescape.metrics.images_io import load_image

    return load_image(data, None, alpha)


# ---------------------------------------------------------------------------------- the release copy


class RawRelease:
    """Train/test images per character slug of the release copy (data/personalized_data)."""

    def __init__(self, root: str | Path):
        self.root = Path(root) / "data" / "personalized_data"
        self.folders: dict[str, str] = {}
        for f in sorted(os.listdir(self.root / "train")):
            if (self.root / "train" / f).is_dir():
                self.folders[slugify(f.split("-", 1)[1] if "-" in f else f)] = f

    def paths(self, slug: str, split: str) -> list[Path]:
        d = self.root / split / self.folders[slug]
        return sorted(d.glob("*.png"), key=lambda p: int(p.stem))

    def reference_images(self, slug: str, split: str = "train") -> list[tuple[str, bytes]]:
        return [(f"{split}/{slug}/{p.stem}", p.read_bytes()) for p in self.paths(slug, split)]


def auroc(pos: list[float], neg: list[float]) -> float:
    """P(score of a positive > score of a negative), ties counting one half (Mann-Whitney U)."""
    ranked = sorted([(s, 1) for s in pos] + [(s, 0) for s in neg])
    rank_sum, i = 0.0, 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        avg = (i + j + 1) / 2  # 1-based average rank of the tie block
        rank_sum += avg * sum(1 for k in range(i, j) if ranked[k][1] == 1)
        i = j
    n_p, n_n = len(pos), len(neg)
    return (rank_sum - n_p * (n_p + 1) / 2) / (n_p * n_n)


def shuffled(xs: list[Any], seed: int) -> list[Any]:
    out = list(xs)
    random.Random(seed).shuffle(out)
    return out
