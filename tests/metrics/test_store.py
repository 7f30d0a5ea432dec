"""The one artefact store: named array sets with JSON metadata, a bounded memory layer, atomic files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from rolescape.metrics.cache import ArtifactStore

KEY = {"version": "v1"}
ENTRY = hashlib.sha256(b"artefact").hexdigest()


def test_arrays_and_metadata_round_trip_bit_identical_in_a_fresh_view(tmp_path: Path) -> None:
    arrays = {"coef": np.arange(6, dtype=np.float64).reshape(2, 3) / 7, "idf": np.ones(4, np.float32)}
    meta = {"classes": ["a", "b"], "n": 3}
    ArtifactStore("fitted", KEY, tmp_path, required=()).put_arrays(ENTRY, arrays, meta)
    got = ArtifactStore("fitted", KEY, tmp_path, required=()).get_arrays(ENTRY)
    assert got is not None
    back, back_meta = got
    assert back_meta == meta and sorted(back) == ["coef", "idf"]
    assert all(back[k].dtype == arrays[k].dtype and back[k].tobytes() == arrays[k].tobytes() for k in arrays)
    files = list(tmp_path.rglob("*.npz"))
    assert len(files) == 1 and not list(tmp_path.rglob("*.tmp"))
    first = files[0].read_bytes()
    ArtifactStore("fitted", KEY, tmp_path, required=()).put_arrays(ENTRY, arrays, meta)
    assert files[0].read_bytes() == first  # deterministic bytes: no timestamps
    assert ArtifactStore("fitted", {"version": "v2"}, tmp_path, required=()).get_arrays(ENTRY) is None


def test_object_arrays_are_refused_and_nothing_is_kept(tmp_path: Path) -> None:
    st = ArtifactStore("fitted", KEY, tmp_path, required=())
    with pytest.raises(TypeError, match="pickle"):
        st.put_arrays(ENTRY, {"o": np.array([{"a": 1}], dtype=object)}, {})
    assert st.get_arrays(ENTRY) is None and not list(tmp_path.rglob("*.npz"))


@pytest.mark.parametrize("damage", [b"", b"PK\x03\x04 torn", b"\x93NUMPY not a zip"])
def test_a_torn_or_foreign_artefact_is_a_miss_then_rewritten(tmp_path: Path, damage: bytes) -> None:
    st = ArtifactStore("fitted", KEY, tmp_path, required=())
    st.put_arrays(ENTRY, {"x": np.ones(3)}, {"ok": True})
    path = st.path(ENTRY, ".npz")
    assert path is not None
    path.write_bytes(damage)
    fresh = ArtifactStore("fitted", KEY, tmp_path, required=())
    assert fresh.get_arrays(ENTRY) is None and fresh.misses == 1
    fresh.put_arrays(ENTRY, {"x": np.ones(3)}, {"ok": True})
    again = ArtifactStore("fitted", KEY, tmp_path, required=()).get_arrays(ENTRY)
    assert again is not None and again[1] == {"ok": True}


def test_memory_layer_is_bounded(tmp_path: Path) -> None:
    mem = ArtifactStore("e", {"model_id": "m", "revision": "r", "dtype": "f", "preprocessing": "p"}, None)
    disk = ArtifactStore("e", dict(mem.key), tmp_path, memory_entries=3)
    for i in range(50):
        sha = hashlib.sha256(str(i).encode()).hexdigest()
        mem.put(sha, np.full(2, i, np.float32))
        disk.put(sha, np.full(2, i, np.float32))
    assert len(disk._mem) == 3 and len(mem._mem) == 50  # 50 is under the no-disk bound
    first = hashlib.sha256(b"0").hexdigest()
    got = disk.get(first)  # evicted from memory, still on disk
    assert got is not None and got.tolist() == [0.0, 0.0]
