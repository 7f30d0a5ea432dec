"""Helpers the bench scripts share (imported as `_shared`: a script's own folder is on sys.path)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def build_demo(out: Path) -> Path:
    """The embedded demo, built once into `out` (kept between bench runs) with the installed CLI."""
    if not (out / "manifest.json").is_file():
        subprocess.run(
            [sys.executable, "-m", "rolescape", "build", "--source", "demo", "--out", str(out)],
            check=True,
            capture_output=True,
        )
    return out
