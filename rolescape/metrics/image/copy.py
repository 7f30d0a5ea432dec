"""Near-duplicate detection of answer images against the character's train images (protocol v2).

The copy detector is model-free, so it is the same in every profile: each image becomes a 32x32
grayscale thumbnail, mean-removed and L2-normalised, and two images are compared by normalised
cross-correlation (a cosine of thumbnails). Each train image is represented by views that undo the
light edits a copy may carry -- the image and its mirror, each also cropped to 95 % and 90 % at a 5x5
grid of offsets -- and an answer's similarity to a train image is the max over those views.

Why not an identity encoder: on the release copy the efficientnet_lite0 embedding of a real test
image can be closer to a train image (max 0.869) than a flipped, cropped and re-encoded copy of it is
(min 0.690), so no threshold separates them; the thumbnail correlation separates them with a margin
(bench/results/copy_calibration.json).

tau_img was calibrated by :func:`calibrate_image_threshold` (bench/bench_copy_calibration.py): above
the max similarity of every real test image to its character's train images, below that of every
train image under random light augmentation (resize, crop to 90-100 % at a random offset, JPEG
re-encode, horizontal flip, and all of them at once). It catches pixel-level copies, not a new
rendering of the same composition.

The copy-robust identity (`<metric>_novel`) is the v1 mean similarity to the train images leaving out
the near-duplicates of the answer; when nothing is left, the answer is worth what its nearest
duplicated train image scores against the other train images (a copy is worth a real photo, never a
perfect match).
"""

from __future__ import annotations

import io
import random
from collections.abc import Sequence
from typing import Any

import numpy as np

COPY_DESCRIPTOR = "thumb32-ncc"
THUMB = 32
PRE_SIZE = 128  # images are box-downscaled to this before cropping (the views cost ~1 ms each)
CROP_SCALES = (0.95, 0.9)
CROP_OFFSETS = (0.0, 0.25, 0.5, 0.75, 1.0)
# Calibrated on the release copy (bench/results/copy_calibration.json).
IMAGE_COPY_THRESHOLD = 0.82
AUGMENTATIONS = ("resize50", "crop", "jpeg60", "hflip", "combo")


def thumb_vector(img: Any) -> np.ndarray:
    """The 32x32 grayscale thumbnail of an image, mean-removed and L2-normalised (float32)."""
    from PIL import Image

    a = np.asarray(img.convert("L").resize((THUMB, THUMB), Image.Resampling.BOX), dtype=np.float32).ravel()
    a = a - a.mean()
    n = float(np.linalg.norm(a))
    return a / n if n > 0 else a


def thumb_views(img: Any) -> np.ndarray:
    """Rows: thumbnails of the image and its mirror, whole and cropped (CROP_SCALES x CROP_OFFSETS^2)."""
    from PIL import Image, ImageOps

    w, h = img.size
    k = PRE_SIZE / max(w, h)
    small = img.resize((max(1, round(w * k)), max(1, round(h * k))), Image.Resampling.BOX) if k < 1 else img
    rows = []
    for base in (small, ImageOps.mirror(small)):
        bw, bh = base.size
        rows.append(thumb_vector(base))
        for sc in CROP_SCALES:
            cw, ch = max(1, round(bw * sc)), max(1, round(bh * sc))
            for dx in CROP_OFFSETS:
                for dy in CROP_OFFSETS:
                    x0, y0 = round((bw - cw) * dx), round((bh - ch) * dy)
                    rows.append(thumb_vector(base.crop((x0, y0, x0 + cw, y0 + ch))))
    return np.stack(rows)


class CopyBank:
    """The thumbnail views of one character's train images; `similarities(img)` per train image."""

    def __init__(self, train_images: Sequence[Any] = (), *, views: Sequence[np.ndarray] | None = None):
        """From the train images, or from their `thumb_views` already computed (`views`, in order)."""
        views = list(views) if views is not None else [thumb_views(im) for im in train_images]
        self.n = len(views)
        self.per_image = views[0].shape[0] if views else 0
        self.matrix = np.concatenate(views) if views else np.zeros((0, THUMB * THUMB), np.float32)

    def similarities(self, img: Any) -> np.ndarray:
        """Max thumbnail correlation of `img` with each train image (over its views), shape (n,)."""
        return self.similarities_of(thumb_vector(img))

    def similarities_of(self, thumb: np.ndarray) -> np.ndarray:
        """`similarities` of an image given its `thumb_vector`."""
        if not self.n:
            return np.zeros(0, np.float32)
        sims = self.matrix @ thumb
        return sims.reshape(self.n, self.per_image).max(axis=1)


def augment(img: Any, rng: random.Random) -> dict[str, Any]:
    """Random light edits of one RGB PIL image that must still count as a copy (name -> image)."""
    from PIL import Image, ImageOps

    w, h = img.size

    def crop(im: Any) -> Any:
        iw, ih = im.size
        sc = rng.uniform(0.9, 1.0)
        cw, ch = max(1, round(iw * sc)), max(1, round(ih * sc))
        x0, y0 = rng.randint(0, iw - cw), rng.randint(0, ih - ch)
        return im.crop((x0, y0, x0 + cw, y0 + ch))

    def jpeg(im: Any, q: int) -> Any:
        buf = io.BytesIO()
        im.save(buf, format="JPEG", quality=q)
        buf.seek(0)
        return Image.open(buf).convert("RGB")

    return {
        "resize50": img.resize((max(1, w // 2), max(1, h // 2)), Image.Resampling.BICUBIC),
        "crop": crop(img),
        "jpeg60": jpeg(img, 60),
        "hflip": ImageOps.mirror(img),
        "combo": jpeg(crop(ImageOps.mirror(img)).resize((max(1, w * 3 // 4), max(1, h * 3 // 4))), 70),
    }


def choose_threshold(negatives: Sequence[float], positives: Sequence[float]) -> dict[str, Any]:
    """A threshold separating `negatives` (must stay below) from `positives` (must be above).

    Separable: the midpoint of the gap, rounded down to 0.01 so it stays inside it. Otherwise the
    cut with the fewest errors (false positives counted first). Error rates are measured at the cut.
    """
    neg, pos = sorted(float(x) for x in negatives), sorted(float(x) for x in positives)
    if not neg or not pos:
        raise ValueError("threshold calibration needs negatives and positives")
    hi_neg, lo_pos = neg[-1], pos[0]
    if hi_neg < lo_pos:
        tau = float(np.floor((hi_neg + lo_pos) / 2 * 100) / 100)
        if not hi_neg < tau < lo_pos:
            tau = (hi_neg + lo_pos) / 2
    else:
        cands = sorted(set(neg + pos))
        tau = min(cands, key=lambda t: (sum(x > t for x in neg) + sum(x <= t for x in pos), t))
    return {
        "tau": tau,
        "false_positive_rate": sum(x > tau for x in neg) / len(neg),
        "false_negative_rate": sum(x <= tau for x in pos) / len(pos),
        "max_negative": hi_neg,
        "min_positive": lo_pos,
        "margin": lo_pos - hi_neg,
        "n_negative": len(neg),
        "n_positive": len(pos),
    }


def calibrate_image_threshold(data: Any, *, alpha: str = "white", seed: int = 0) -> dict[str, Any]:
    """Calibrate tau_img on a built dataset (see the module docstring for negatives and positives)."""
    from rolescape.metrics.images_io import load_image

    rng = random.Random(seed)
    slugs = sorted({str(r["character"]) for r in data.images("train")})
    train = {s: [load_image(b, None, alpha) for _, b in data.reference_images(s, "train")] for s in slugs}
    banks = {s: CopyBank(imgs) for s, imgs in train.items() if imgs}
    negatives: list[tuple[str, float]] = []
    cross: list[float] = []
    positives: list[tuple[str, str, float]] = []
    for slug, bank in banks.items():
        for key, b in data.reference_images(slug, "test"):
            img = load_image(b, None, alpha)
            negatives.append((str(key), float(bank.similarities(img).max())))
            cross.extend(float(o.similarities(img).max()) for s, o in banks.items() if s != slug)
        for (key, _), img in zip(data.reference_images(slug, "train"), train[slug], strict=True):
            for name, edited in augment(img, rng).items():
                positives.append((str(key), name, float(bank.similarities(edited).max())))
    report = choose_threshold([s for _, s in negatives], [s for *_, s in positives])
    tau = report["tau"]
    per_aug = {
        n: min(s for _, a, s in positives if a == n)
        for n in AUGMENTATIONS
        if any(a == n for _, a, _ in positives)
    }
    report.update(
        {
            "descriptor": COPY_DESCRIPTOR,
            "test_images_flagged": sorted(k for k, s in negatives if s > tau),
            "augmented_train_missed": sorted(f"{k}:{n}" for k, n, s in positives if s <= tau),
            "top_negatives": [[k, round(s, 4)] for k, s in sorted(negatives, key=lambda x: -x[1])[:5]],
            "min_positive_per_augmentation": {k: round(v, 4) for k, v in per_aug.items()},
            "max_cross_character_similarity": max(cross) if cross else None,
            "negatives": "max similarity of each test image to its own character's train images",
            "positives": "max similarity of each train image under "
            + ", ".join(AUGMENTATIONS)
            + " (random, seed "
            f"{seed}) to its character's train images",
        }
    )
    return report


def near_duplicate_mask(copy_sims: np.ndarray, tau: float) -> np.ndarray:
    """Boolean mask over train images: which are near-duplicates of one answer image."""
    return np.asarray(copy_sims) > tau


def novel_similarity(
    sims: np.ndarray,
    kept_positions: Sequence[int],
    dup_mask: np.ndarray,
    copy_sims: np.ndarray,
    bank: np.ndarray,
) -> float | None:
    """Copy-robust mean similarity of one answer image under one identity encoder.

    `sims`: cos to the encoder's reference rows (`bank`, whose train-image positions are
    `kept_positions`; face encoders keep only images with a face). `dup_mask` / `copy_sims`: per train
    position, near-duplicate flags and copy-encoder similarities.
    """
    pos = list(kept_positions)
    rest = [j for j, p in enumerate(pos) if not dup_mask[p]]
    if rest:
        return float(np.mean(sims[rest]))
    if len(pos) < 2:
        return None
    # everything is a near-duplicate: score the nearest duplicated train image against the others
    j_star = max(range(len(pos)), key=lambda j: (float(copy_sims[pos[j]]), -j))
    others = [j for j in range(len(pos)) if j != j_star]
    return float(np.mean(bank[others] @ bank[j_star]))
