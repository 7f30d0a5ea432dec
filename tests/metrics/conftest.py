"""Fixtures of the engine tests (v1 behaviour and v2 spec): the tiny dataset and a small run; a test
module that defines its own `ds` or `preds` keeps it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.tiny import make_tiny_dataset, mcq_ids, write_predictions


@pytest.fixture(scope="module")
def ds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_dataset(tmp_path_factory.mktemp("tiny"))


@pytest.fixture()
def preds(tmp_path: Path) -> Path:
    rows: list[dict[str, Any]] = [
        {"id": i, "choice": k if n % 3 else "B"} for n, (i, k) in enumerate(mcq_ids())
    ]
    rows += [{"id": f"dialogue/{c}/0", "text": f"hello from {c}"} for c in ("bo", "chandler", "gao-qiqiang")]
    return write_predictions(tmp_path / "model" / "predictions.jsonl", rows)
