"""Trainer fixtures: config writers and the CLI runner (the built demo is `demo_built` of tests/conftest.py)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    def write(cfg: dict[str, Any], name: str = "cfg.yaml") -> Path:
        p = tmp_path / name
        p.write_text(yaml.safe_dump(cfg, sort_keys=True))
        return p

    return write


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`rolescape ...` in a subprocess (the error path is checked as a user sees it)."""
    code = "import sys; from rolescape.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout
    )
