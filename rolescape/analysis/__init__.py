"""Results and per-item scores as polars frames (polars is imported only when a frame is built).

    from rolescape.analysis import items_frame, results_frame
    items = items_frame(["runs/a", "runs/b"])      # one row per (run, item, metric)

Schemas: `rolescape.analysis.frames`.
"""

from __future__ import annotations

from rolescape.analysis.frames import (
    ITEMS_SCHEMA,
    LONG_SCHEMA,
    RESULTS_SCHEMA,
    SKIPPED_SCHEMA,
    items_frame,
    long_frame,
    results_frame,
    skipped_frame,
)

__all__ = [
    "ITEMS_SCHEMA",
    "LONG_SCHEMA",
    "RESULTS_SCHEMA",
    "SKIPPED_SCHEMA",
    "items_frame",
    "long_frame",
    "results_frame",
    "skipped_frame",
]
