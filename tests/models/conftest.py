from __future__ import annotations

from pathlib import Path

import pytest

from rolescape.builders.build import build


@pytest.fixture(scope="session")
def demo_built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded demo characters, built once per session (3 characters, every task)."""
    out = tmp_path_factory.mktemp("models-built") / "demo"
    build("demo", out)
    return out
