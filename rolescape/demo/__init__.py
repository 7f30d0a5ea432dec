"""The embedded demo release: three original characters laid out exactly like the raw RoleScape-20 release.

``release_root()`` is a release repository root (``data/personalized_data/...`` and
``flow_grpo/dataset/personalized_t2i/...``) that ``rolescape build`` can read without the real data.
Its content is original and carries deliberate defects, listed in ``DEFECTS.md`` next to this file;
``python -m rolescape.demo._generate`` rewrites it deterministically.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def release_root() -> Path:
    """Path of the packaged demo release folder (the root that holds ``data/`` and ``flow_grpo/``)."""
    root = resources.files(__name__).joinpath("release")
    if isinstance(root, Path):
        return root
    return Path(__file__).resolve().parent / "release"
