"""Batched, cached image embedding: content hash -> cache lookup -> decode + preprocess the misses ->
encode in batches under inference_mode -> store.

Images are identified by the sha256 of their file bytes (so a cache hit costs a hash, no decoding),
or, for images that only exist in memory (the rewards API), by the sha256 of their RGB pixels; those
are never written to disk. The alpha policy is part of the cache key. Misses are decoded and
preprocessed `batch_size` at a time (with `ctx.num_workers` > 0, in that many threads, overlapping
the model), so memory does not grow with the number of images.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rolescape.metrics.cache import EmbeddingCache, cache_root

if TYPE_CHECKING:
    import numpy as np

    from rolescape.metrics.base import ScoreContext
    from rolescape.metrics.encoders.base import ImageEmbedder

PIXEL_PREFIX = "px-"


@dataclass
class ImageSource:
    """One image to embed: its content key plus the file bytes or an already-decoded RGB image."""

    key: str
    data: bytes | None = None
    image: Any = None  # RGB PIL image, already under the run's alpha policy
    label: str = ""

    @property
    def persistent(self) -> bool:
        """Whether its embedding may go to the disk cache (file content, not transient pixels)."""
        return not self.key.startswith(PIXEL_PREFIX)


def source_from_bytes(data: bytes, label: str = "", image: Any = None) -> ImageSource:
    return ImageSource(hashlib.sha256(data).hexdigest(), data=data, image=image, label=label)


def source_from_image(img: Any, label: str = "<in-memory>") -> ImageSource:
    h = hashlib.sha256(f"{img.mode}:{img.size[0]}x{img.size[1]}:".encode())
    h.update(img.tobytes())
    return ImageSource(PIXEL_PREFIX + h.hexdigest(), image=img, label=label)


def decode_source(src: ImageSource, alpha: str) -> Any:
    """The RGB image of a source under the alpha policy (pixel limit checked before decoding)."""
    if src.image is not None:
        return src.image
    from rolescape.metrics.images_io import load_image

    assert src.data is not None
    return load_image(src.data, None, alpha)


class Embedding:
    """A run-scoped view of one embedder and its embedding cache."""

    def __init__(self, embedder: ImageEmbedder, ctx: ScoreContext):
        self.embedder = embedder
        self.ctx = ctx
        key = embedder.cache_key()
        key["preprocessing"] = f"{key['preprocessing']}; alpha={ctx.alpha}"
        self.cache = EmbeddingCache(embedder.name, key, cache_root(ctx))
        self.batch_size = max(1, int(ctx.batch_size))
        self.workers = max(0, int(ctx.num_workers or 0))
        self.encoded = 0  # images actually run through the model (for benchmarks and tests)

    def __call__(
        self,
        sources: Sequence[ImageSource],
        *,
        persist: bool = True,
        on_decoded: Callable[[ImageSource, Any], None] | None = None,
    ) -> list[np.ndarray]:
        """One embedding per source, in order. `persist=False` keeps new entries out of the disk cache
        (lookups still happen). `on_decoded(source, rgb_image)` is called for every source this call
        decodes (cache misses; possibly from a decode thread), so a caller that also needs the pixels
        (copy detection) uses them without decoding the file a second time or keeping the image."""
        found: dict[str, np.ndarray] = {}
        todo: list[ImageSource] = []
        seen: set[str] = set()
        for s in sources:
            if s.key in seen:
                continue
            seen.add(s.key)
            hit = self.cache.get(s.key) if s.persistent else None
            if hit is not None:
                found[s.key] = hit
            else:
                todo.append(s)
        for part, vecs in self._encode_parts(todo, on_decoded):
            self.encoded += len(part)
            for s, v in zip(part, vecs, strict=True):
                found[s.key] = v
                if s.persistent and persist:
                    self.cache.put(s.key, v)
        return [found[s.key] for s in sources]

    def _encode_parts(
        self, todo: Sequence[ImageSource], on_decoded: Callable[[ImageSource, Any], None] | None = None
    ) -> Iterator[tuple[Sequence[ImageSource], list[Any]]]:
        """(sources, vectors) per batch. With workers, images are decoded and preprocessed in a thread
        pool while the previous batch runs through the model (decoding and torch release the GIL);
        the work is then cut into at least four batches so there is something to overlap."""
        if not todo:
            return
        alpha, prep = self.ctx.alpha, self.embedder.prepare

        def one(s: ImageSource) -> Any:
            img = decode_source(s, alpha)
            if on_decoded is not None:
                on_decoded(s, img)
            return prep(img)

        if self.workers == 0:
            for start in range(0, len(todo), self.batch_size):
                part = todo[start : start + self.batch_size]
                yield part, self.embedder.encode([one(s) for s in part])
            return
        step = max(1, min(self.batch_size, -(-len(todo) // 4)))
        parts = [todo[i : i + step] for i in range(0, len(todo), step)]
        with ThreadPoolExecutor(max_workers=self.workers) as pool, ThreadPoolExecutor(max_workers=1) as ahead:

            def prepare(part: Sequence[ImageSource]) -> list[Any]:
                return list(pool.map(one, part))

            nxt = ahead.submit(prepare, parts[0])
            for k, part in enumerate(parts):
                prepared = nxt.result()
                if k + 1 < len(parts):
                    nxt = ahead.submit(prepare, parts[k + 1])
                yield part, self.embedder.encode(prepared)


def embedding_for(embedder: ImageEmbedder, ctx: ScoreContext, store: dict[str, Embedding]) -> Embedding:
    """The run-scoped Embedding of `embedder`, created once and kept in `store` (a family attribute)."""
    k = embedder.name + "\0" + repr(sorted(embedder.cache_key().items()))
    if k not in store:
        store[k] = Embedding(embedder, ctx)
    return store[k]
