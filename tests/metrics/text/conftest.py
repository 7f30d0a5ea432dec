"""Fixtures of the text-metric tests: the packaged MiniLM, a built release, tiny in-memory datasets."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest


@pytest.fixture(scope="session")
def minilm():
    """The packaged all-MiniLM-L6-v2 (loaded once per session), or skip."""
    from rolescape.errors import ModelUnavailable
    from rolescape.metrics.text.encoders import load_encoder

    try:
        return load_encoder("minilm", "cpu", None)
    except ModelUnavailable as e:
        pytest.skip(f"packaged MiniLM unavailable: {e}")


@pytest.fixture(scope="session")
def built_release(raw_release: Path, tmp_path_factory: pytest.TempPathFactory):
    """The release copy built once per session into a temporary folder (rolescape build)."""
    try:
        from rolescape.builders.build import build
    except ImportError as e:  # pragma: no cover - builder not there yet
        pytest.skip(f"rolescape build is unavailable: {e}")
    from rolescape.dataset import BuiltDataset

    out = tmp_path_factory.mktemp("built") / "rolescape20"
    build(raw_release, out)
    return BuiltDataset(out)


class HashEncoder:
    """A deterministic stand-in for a sentence encoder: normalised bag of hashed words (fast tests)."""

    model_id = "test/hash-encoder"
    revision = "1"
    dim = 64

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts, batch_size: int = 32, **_: Any) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().split():
                h = int(hashlib.md5(w.encode()).hexdigest(), 16)
                out[i, h % self.dim] += 1.0 if (h >> 8) % 2 else -1.0
            n = np.linalg.norm(out[i])
            out[i] = out[i] / n if n else out[i]
        return out

    def key(self) -> str:
        return f"{self.model_id}@{self.revision}"


@pytest.fixture
def hash_encoder() -> HashEncoder:
    return HashEncoder()


class TinyData:
    """Just enough of BuiltDataset for the text families: read(), characters(), manifest_sha256."""

    def __init__(self, rows: dict[tuple[str, str], list[dict[str, Any]]], characters: list[dict[str, Any]]):
        self._rows = rows
        self._characters = characters
        self.manifest_sha256 = hashlib.sha256(repr(sorted(rows.items())).encode()).hexdigest()

    def read(self, config: str, split: str) -> list[dict[str, Any]]:
        return self._rows.get((config, split), [])

    def characters(self) -> list[dict[str, Any]]:
        return self._characters

    def task_items(self, task: str) -> list[dict[str, Any]]:
        return self._rows.get((task, "test"), [])
