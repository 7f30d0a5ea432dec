from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.runs import three_runs


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return three_runs(tmp_path_factory.mktemp("runs"))
