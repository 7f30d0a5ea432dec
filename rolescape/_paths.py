"""Where the package's own data lives, resolved without importing the subpackages that hold it.

The lowest layer: it imports nothing of rolescape, so any module (the builders included) can find the
demo release without an import that runs up a layer.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def package_dir() -> Path:
    """The installed ``rolescape`` package folder."""
    root = resources.files("rolescape")
    if isinstance(root, Path):
        return root
    return Path(__file__).resolve().parent  # a zip or other loader: fall back to this file's folder


def demo_release_root() -> Path:
    """The packaged demo release: the root that holds ``data/`` and ``flow_grpo/`` (rolescape/demo/release)."""
    return package_dir() / "demo" / "release"


__all__ = ["package_dir", "demo_release_root"]
