"""The embedding cache: bit-identical hits, keys that change with anything that changes an embedding,
no pickle, atomic files, and the batched pipeline encoding each image once."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from rolescape.metrics.base import ScoreContext
from rolescape.metrics.cache import ArtifactStore, EmbeddingCache
from tests.metrics.image import png

KEY = {"model_id": "m", "revision": "r1", "dtype": "fp32", "preprocessing": "resize 224; alpha=white"}


def test_hit_is_bit_identical_and_survives_a_new_process_view(tmp_path: Path):
    rng = np.random.default_rng(0)
    vec = rng.standard_normal(1280).astype(np.float32)
    vec[3] = np.float32(1e-38)  # a denormal, to be sure nothing rounds on the way
    sha = hashlib.sha256(b"image").hexdigest()
    c1 = EmbeddingCache("effnet", KEY, tmp_path)
    assert c1.get(sha) is None
    c1.put(sha, vec)
    c2 = EmbeddingCache("effnet", dict(KEY), tmp_path)  # a fresh instance reads the disk
    got = c2.get(sha)
    assert got is not None and got.dtype == vec.dtype and got.shape == vec.shape
    assert got.tobytes() == vec.tobytes()
    files = list(tmp_path.rglob("*.npy"))
    assert len(files) == 1 and not list(tmp_path.rglob("*.tmp"))
    # a plain .npy without pickled objects
    assert np.load(files[0], allow_pickle=False).tobytes() == vec.tobytes()


@pytest.mark.parametrize("field", ["model_id", "revision", "dtype", "preprocessing"])
def test_any_key_field_changes_the_key(tmp_path: Path, field: str):
    sha = hashlib.sha256(b"x").hexdigest()
    EmbeddingCache("clip", KEY, tmp_path).put(sha, np.ones(4, np.float32))
    other = EmbeddingCache("clip", {**KEY, field: KEY[field] + "-changed"}, tmp_path)
    assert other.get(sha) is None
    assert EmbeddingCache("clip", KEY, tmp_path).get(sha) is not None
    assert EmbeddingCache("dino", KEY, tmp_path).get(sha) is None  # another encoder's namespace


def test_empty_vector_is_a_valid_entry_and_corrupt_files_are_misses(tmp_path: Path):
    c = EmbeddingCache("dlib_face", KEY, tmp_path)
    a, b = hashlib.sha256(b"a").hexdigest(), hashlib.sha256(b"b").hexdigest()
    c.put(a, np.zeros((0,), np.float32))  # "no face"
    got = c.get(a)
    assert got is not None and got.size == 0
    c.put(b, np.ones(3, np.float32))
    f = next(p for p in tmp_path.rglob(f"{b}.npy"))
    f.write_bytes(b"\x93NUMPY garbage")
    fresh = EmbeddingCache("dlib_face", KEY, tmp_path)  # a new run: nothing in memory
    assert fresh.get(b) is None
    fresh.put(b, np.ones(3, np.float32))  # rewritten whole
    assert np.load(f, allow_pickle=False).tolist() == [1.0, 1.0, 1.0]


def test_key_must_be_complete():
    with pytest.raises(ValueError):
        EmbeddingCache("clip", {"model_id": "m"}, None)


def test_pipeline_encodes_once_then_hits(tmp_path: Path, tiny_openclip_dir: Path):
    """Second pass over the same images: zero model calls, identical arrays; the alpha policy and the
    preprocessing variant are part of the key."""
    from rolescape.metrics.encoders import get_encoder
    from rolescape.metrics.encoders.pipeline import Embedding, source_from_bytes

    imgs = [png(40, 30, s, mode="RGBA", alpha_hole=True) for s in range(5)]
    srcs = [source_from_bytes(b) for b in imgs] + [source_from_bytes(imgs[0])]  # a duplicate
    ctx = ScoreContext(
        data=None, model_paths={"clip": str(tiny_openclip_dir)}, cache_dir=tmp_path, batch_size=2
    )
    enc = get_encoder("clip", ctx)
    e1 = Embedding(enc.image, ctx)
    assert type(e1.cache) is ArtifactStore  # the one store the text encoders and style also use
    first = e1(srcs)
    assert e1.encoded == 5
    e2 = Embedding(enc.image, ctx)
    second = e2(srcs)
    assert e2.encoded == 0
    assert all(a.tobytes() == b.tobytes() for a, b in zip(first, second, strict=True))
    assert first[0].tobytes() == first[5].tobytes()

    paper = Embedding(enc.paper_image, ctx)  # another preprocessing string: misses
    paper(srcs)
    assert paper.encoded == 5
    ctx_paper_alpha = ScoreContext(
        data=None, model_paths={"clip": str(tiny_openclip_dir)}, cache_dir=tmp_path, alpha="paper"
    )
    e3 = Embedding(enc.image, ctx_paper_alpha)
    third = e3(srcs)
    assert e3.encoded == 5
    # the transparent corner is white under 'white' and black under 'paper': different pixels
    assert third[0].tobytes() != first[0].tobytes()


def test_persist_false_keeps_predictions_out_of_the_disk_cache(tmp_path: Path, tiny_openclip_dir: Path):
    from rolescape.metrics.encoders import get_encoder
    from rolescape.metrics.encoders.pipeline import Embedding, source_from_bytes

    ctx = ScoreContext(data=None, model_paths={"clip": str(tiny_openclip_dir)}, cache_dir=tmp_path)
    emb = Embedding(get_encoder("clip", ctx).image, ctx)
    emb([source_from_bytes(png(20, 20, 1))], persist=False)
    assert not list(tmp_path.rglob("*.npy"))


def test_worker_threads_give_the_same_vectors(tmp_path: Path, tiny_openclip_dir: Path):
    """Decoding in threads, overlapped with the model, changes nothing but the speed."""
    from rolescape.metrics.encoders import get_encoder
    from rolescape.metrics.encoders.pipeline import Embedding, source_from_bytes

    srcs = [source_from_bytes(png(30 + s, 28, s, mode="RGBA", alpha_hole=True)) for s in range(11)]
    out = []
    for workers in (0, 3):
        ctx = ScoreContext(
            data=None,
            model_paths={"clip": str(tiny_openclip_dir)},
            batch_size=4,
            num_workers=workers,
            options={"embedding_cache": False},
        )
        emb = Embedding(get_encoder("clip", ctx).image, ctx)
        out.append(emb(srcs))
        assert emb.encoded == 11
    assert all(np.allclose(a, b, atol=1e-6) for a, b in zip(out[0], out[1], strict=True))
