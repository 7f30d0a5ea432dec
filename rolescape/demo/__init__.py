"""The embedded demo release: three original characters laid out exactly like the raw RoleScape-20 release.

``release_root()`` is a release repository root (``data/personalized_data/...`` and
``flow_grpo/dataset/personalized_t2i/...``) that ``rolescape build`` can read without the real data.
Its content is original and carries deliberate defects, listed in ``DEFECTS.md`` next to this file.
The package ships only the generated folder; ``python scripts/demo/make_demo.py`` (in the repository,
characters in ``scripts/demo/characters/*.yaml``) rewrites it deterministically.
"""

from __future__ import annotations

from pathlib import Path

from rolescape._paths import demo_release_root


def release_root() -> Path:
    """Path of the packaged demo release folder (the root that holds ``data/`` and ``flow_grpo/``)."""
    return demo_release_root()
