"""Reading prediction images: paths or data: URIs, a pixel limit checked before decoding, alpha policy.

Image metric families get decoded RGB images through `prediction_images(batch, ctx)`, which decodes a
chunk once (in parallel with a torch DataLoader when `ctx.num_workers > 0`) and shares the result
between families. Torch is imported only inside `decode_images` and only when workers are asked for.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import re
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rolescape.errors import InputError
from rolescape.io import PathRefused, path_label, resolve_inside, sha256_bytes

if TYPE_CHECKING:
    from PIL import Image

    from rolescape.metrics.base import ItemBatch, ScoreContext

MAX_PIXELS = 64_000_000  # refuse larger images before decoding (decompression bombs, 8k x 8k)
ALPHA_POLICIES = ("white", "paper")
_DATA_URI = re.compile(
    r"^data:(?P<mime>image/[A-Za-z0-9.+-]+)?(?P<params>(?:;[^;,]*)*?);base64,(?P<data>.*)$", re.DOTALL
)

ImageRef = str | bytes  # a path relative to the predictions folder, a data: URI, or raw file bytes


def is_data_uri(ref: str) -> bool:
    return ref.startswith("data:")


def parse_data_uri(uri: str) -> bytes:
    """The decoded bytes of a `data:image/...;base64,` URI; a malformed URI raises InputError."""
    m = _DATA_URI.match(uri)
    if not m:
        raise InputError("not a base64 image data URI (expected 'data:image/<type>;base64,...')")
    if not m.group("mime"):
        raise InputError("data URI has no image/<type> media type")
    payload = re.sub(r"\s+", "", m.group("data"))
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as e:
        raise InputError(f"bad base64 in data URI: {e}") from None
    if not data:
        raise InputError("data URI is empty")
    return data


def ref_label(ref: ImageRef) -> str:
    """A short, printable name for an image reference (data URIs are abbreviated)."""
    if isinstance(ref, bytes):
        return f"<{len(ref)} bytes>"
    if is_data_uri(ref):
        return ref[:30] + "..." if len(ref) > 33 else ref
    return ref


def read_image_bytes(ref: ImageRef, root: str | Path | None) -> bytes:
    """The file bytes behind a reference. Paths resolve under `root` and may neither be absolute nor
    escape it. Errors are InputErrors whose message starts with "image '<ref>'"."""
    if isinstance(ref, bytes):
        return ref
    label = ref_label(ref)
    if is_data_uri(ref):
        try:
            return parse_data_uri(ref)
        except InputError as e:
            raise InputError(f"image {label!r}: {e.detail}") from None
    if not ref.strip():
        raise InputError("image '': empty path")
    if os.path.isabs(ref) or ref.startswith("~") or re.match(r"^[A-Za-z]:[\\/]", ref):
        raise InputError(
            f"image {label!r}: absolute paths are not allowed; give a path relative to the "
            "predictions file's folder"
        )
    if root is None:
        raise InputError(f"image {label!r}: no folder to resolve relative paths against")
    try:  # the shared check: NUL, over-long names, escapes (.. or symlinks), loops, folders
        path = resolve_inside(root, ref, what="image", must="file", root_name="the predictions file's folder")
    except PathRefused as e:
        shown = path_label(ref)
        if e.reason == "escapes":
            raise InputError(f"image {shown}: path escapes the predictions file's folder") from None
        if e.reason == "missing":
            raise InputError(f"image {shown} not found") from None
        raise InputError(f"image {shown}: {e.why}") from None
    try:
        return path.read_bytes()
    except OSError as e:
        raise InputError(f"image {label!r} cannot be read: {e.strerror or e}") from None


def open_checked(data: bytes, label: str = "<bytes>") -> Image.Image:
    """Open image bytes lazily (header only) and refuse more than MAX_PIXELS before any decoding."""
    from PIL import Image, UnidentifiedImageError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError:
            raise InputError(f"image {label!r}: over {MAX_PIXELS / 1e6:.0f} megapixels") from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
            # no object addresses ("<_io.BytesIO object at 0x...>"): the same input gives the same line
            why = re.sub(r" <[^<>]* at 0x[0-9a-fA-F]+>", "", str(e))
            raise InputError(f"image {label!r}: not a readable image ({why})") from None
    w, h = img.size
    if w <= 0 or h <= 0:
        raise InputError(f"image {label!r}: empty size {w}x{h}")
    if w * h > MAX_PIXELS:
        raise InputError(
            f"image {label!r}: {w}x{h} = {w * h / 1e6:.1f} megapixels, over the limit of "
            f"{MAX_PIXELS / 1e6:.0f}"
        )
    return img


def check_image(ref: ImageRef, root: str | Path | None) -> tuple[str, tuple[int, int]]:
    """Validate one image without decoding its pixels: (sha256 of the bytes, (width, height)).

    Reads the header (format, size) and lets Pillow verify the container structure (chunk CRCs for
    PNG); raises InputError naming the problem.
    """
    data = read_image_bytes(ref, root)
    label = ref_label(ref)
    img = open_checked(data, label)
    size = img.size
    try:
        img.verify()
    except Exception as e:  # Pillow raises assorted types for corrupt containers
        raise InputError(f"image {label!r}: corrupt ({type(e).__name__}: {e})") from None
    return sha256_bytes(data), size


def to_rgb(img: Image.Image, alpha: str = "white") -> Image.Image:
    """RGB under the alpha policy: 'white' composites transparency onto white (the training policy of
    the release); 'paper' is the released scorers' plain `convert("RGB")`."""
    from PIL import Image

    if alpha not in ALPHA_POLICIES:
        raise InputError(f"unknown alpha policy {alpha!r} (use 'white' or 'paper')")
    if alpha == "paper":
        return img.convert("RGB")
    has_alpha = (
        img.mode in ("RGBA", "LA", "PA", "RGBa", "La")
        or (img.mode == "P" and "transparency" in img.info)
        or (img.mode in ("L", "RGB", "I", "I;16") and "transparency" in img.info)
    )
    if not has_alpha:
        return img.convert("RGB")
    rgba = img.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("RGB")


def load_image(ref: ImageRef, root: str | Path | None = None, alpha: str = "white") -> Image.Image:
    """Decode one image (path, data URI or bytes) to RGB, refusing oversized ones before decoding."""
    label = ref_label(ref)
    img = open_checked(read_image_bytes(ref, root), label)
    try:
        img.load()
    except Exception as e:
        raise InputError(f"image {label!r}: cannot be decoded ({type(e).__name__}: {e})") from None
    return to_rgb(img, alpha)


class _ImageDataset:
    """Map-style dataset over references, decoded in DataLoader workers (picklable, no torch import)."""

    def __init__(self, refs: Sequence[ImageRef], root: str | Path | None, alpha: str):
        self.refs = list(refs)
        self.root = str(root) if root is not None else None
        self.alpha = alpha

    def __len__(self) -> int:
        return len(self.refs)

    def __getitem__(self, i: int) -> Any:
        try:
            return load_image(self.refs[i], self.root, self.alpha)
        except InputError as e:
            return e  # re-raised in the main process, in order


def _identity(batch: list[Any]) -> Any:
    return batch[0]


def decode_images(
    refs: Sequence[ImageRef], root: str | Path | None = None, workers: int = 0, alpha: str = "white"
) -> Iterator[Image.Image]:
    """Decode references to RGB PIL images, in order. `workers > 0` decodes in a torch DataLoader's
    worker processes so the main thread only feeds the encoders; `workers == 0` decodes inline."""
    ds = _ImageDataset(refs, root, alpha)
    if workers <= 0 or len(ds) <= 1:
        for i in range(len(ds)):
            yield _raise_or(ds[i])
        return
    try:
        from torch.utils.data import DataLoader
    except ImportError:
        for i in range(len(ds)):
            yield _raise_or(ds[i])
        return
    loader: Any = DataLoader(
        ds,  # type: ignore[arg-type]
        batch_size=1,
        shuffle=False,
        num_workers=min(workers, len(ds)),  # type: ignore[arg-type]
        collate_fn=_identity,
        prefetch_factor=4,
    )
    for item in loader:
        yield _raise_or(item)


def _raise_or(item: Any) -> Any:
    if isinstance(item, BaseException):
        raise item
    return item


def prediction_images(batch: ItemBatch, ctx: ScoreContext) -> list[list[Image.Image]]:
    """The decoded RGB images of every prediction in `batch` (one list per item, possibly empty).

    Decoded once per chunk and kept on the batch, so families sharing a chunk do not decode twice.
    Callers that already hold PIL images (the rewards API) set `batch.images` themselves.
    """
    if batch.images is not None:
        return [list(x) for x in batch.images]
    refs: list[ImageRef] = []
    counts: list[int] = []
    for pred in batch.predictions:
        r = pred.image_refs()
        refs.extend(r)
        counts.append(len(r))
    decoded = list(decode_images(refs, ctx.predictions_root, ctx.num_workers, ctx.alpha))
    out: list[list[Image.Image]] = []
    pos = 0
    for n in counts:
        out.append(decoded[pos : pos + n])
        pos += n
    batch.images = out
    return [list(x) for x in out]
