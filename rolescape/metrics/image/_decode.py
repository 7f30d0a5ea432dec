"""Image sources of one chunk for the image families: generated images, references, GT images.

Decoding itself is `rolescape.metrics.images_io` (pixel limit, alpha policy); here images are only
identified (sha256 of the file bytes, or of the pixels for in-memory images) so the embedding cache
can answer before anything is decoded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rolescape.errors import InputError
from rolescape.metrics.base import ItemBatch, ScoreContext
from rolescape.metrics.encoders.pipeline import (
    ImageSource,
    decode_source,
    source_from_bytes,
    source_from_image,
)
from rolescape.schemas.base import ImageData
from rolescape.schemas.tasks import RoleplayItem, T2IItem, TaskItem

IN_MEMORY = "<in-memory>"  # the rewards API's placeholder for images passed as PIL objects

__all__ = [
    "ImageSource",
    "decode_source",
    "gt_source",
    "prediction_sources",
    "reference_sources",
]


def prediction_sources(batch: ItemBatch, ctx: ScoreContext) -> list[list[ImageSource]]:
    """Per item, one source per generated image (possibly none), in the prediction's order."""
    from rolescape.metrics.images_io import read_image_bytes, ref_label

    out: list[list[ImageSource]] = []
    for n, pred in enumerate(batch.predictions):
        refs = pred.image_refs()
        decoded = batch.images[n] if batch.images is not None else None
        srcs: list[ImageSource] = []
        if decoded is not None:
            for k, img in enumerate(decoded):
                ref = refs[k] if k < len(refs) else IN_MEMORY
                if ref == IN_MEMORY:
                    srcs.append(source_from_image(img))
                    continue
                try:
                    data = read_image_bytes(ref, ctx.predictions_root)
                except InputError:
                    srcs.append(source_from_image(img))
                else:
                    srcs.append(source_from_bytes(data, ref_label(ref), image=img))
        else:
            for ref in refs:
                try:
                    data = read_image_bytes(ref, ctx.predictions_root)
                except InputError as e:
                    raise InputError(f"{pred.id}: {e.detail}") from None
                srcs.append(source_from_bytes(data, ref_label(ref)))
        out.append(srcs)
    return out


def reference_sources(ctx: ScoreContext, slug: str, split: str = "train") -> list[ImageSource]:
    """The character's reference images from the built dataset (none without a dataset)."""
    data = ctx.data
    if data is None or not hasattr(data, "reference_images") or not slug:
        return []
    try:
        refs = data.reference_images(slug, split)
    except InputError:
        return []
    return [source_from_bytes(b, str(key)) for key, b in refs]


def gt_source(item: TaskItem) -> ImageSource | None:
    """The item's ground-truth image (roleplay and t2i items carry `reference_image`)."""
    if not isinstance(item, (RoleplayItem, T2IItem)):
        return None
    ref: Any = item.reference_image  # ImageData; a partial row's unvalidated value may be a dict or bytes
    data: Any
    if isinstance(ref, ImageData):
        data, path = ref.bytes, ref.path
    elif isinstance(ref, Mapping):
        data, path = ref.get("bytes"), ref.get("path")
    else:
        data, path = ref, None
    if not data:
        return None
    return source_from_bytes(bytes(data), str(path or item.reference_image_key or "gt"))
