"""PNG plots of a leaderboard (matplotlib, Agg backend): bars with 95% intervals, per-character heatmaps.

Figures are rendered to bytes without the "Software" metadata chunk, so the same leaderboard gives
the same PNG bytes with the same matplotlib version.
"""

from __future__ import annotations

import io
import math
from typing import Any

from rolescape.errors import RolescapeError
from rolescape.leaderboard.tables import TASK_TITLES, Leaderboard, Table, _summary

PALETTE = (
    "#4c72b0",
    "#dd8452",
    "#55a868",
    "#c44e52",
    "#8172b3",
    "#937860",
    "#da8bc3",
    "#8c8c8c",
    "#ccb974",
    "#64b5cd",
)


def mpl_text(s: str) -> str:
    """Text for a matplotlib label or title: a `$` is literal, never the start of mathtext (a model
    called `a$b$` would otherwise be parsed as math, and `$\\x$` would crash the plot)."""
    return s.replace("$", r"\$")


def _plt() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise RolescapeError(
            "plots need matplotlib: pip install 'rolescape[plots]' (or use --no-plots)"
        ) from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "rolescape", "font.size": 9})
    return plt


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def _bars(ax: Any, lb: Leaderboard, task: str, metric: str, labels: list[str]) -> None:
    runs = {r.label: r for r in lb.runs}
    for i, label in enumerate(labels):
        s = _summary(runs[label], task, metric)
        if s is None or s.mean is None:
            continue
        err = None
        if s.ci_low is not None and s.ci_high is not None:
            err = [[max(0.0, s.mean - s.ci_low)], [max(0.0, s.ci_high - s.mean)]]
        ax.bar(
            i,
            s.mean,
            color=PALETTE[i % len(PALETTE)],
            yerr=err,
            capsize=3,
            width=0.7,
            error_kw={"elinewidth": 1},
        )
    rep = lb.reported.lookup(task, metric) if lb.reported else None
    if rep is not None:
        ax.axhline(rep.value, color="#333333", linestyle="--", linewidth=1)
        ax.text(
            -0.45,
            rep.value,
            f"reported {rep.reported}{' %' if rep.unit == '%' else ''}",
            ha="left",
            va="bottom",
            fontsize=7,
            color="#333333",
        )
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels([mpl_text(x) for x in labels], rotation=30, ha="right", fontsize=7)
    ax.set_title(mpl_text(f"{TASK_TITLES.get(task, task)}\n{metric}"), fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)


def overview(lb: Leaderboard, labels: list[str]) -> bytes:
    plt = _plt()
    items = list(lb.headline.items())
    ncols = min(4, max(1, len(items)))
    nrows = max(1, math.ceil(len(items) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 2.9 * nrows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k < len(items):
            _bars(ax, lb, items[k][0], items[k][1], labels)
        else:
            ax.axis("off")
    fig.suptitle("Headline metric per task (95% bootstrap interval)", fontsize=10)
    fig.tight_layout()
    return _png(fig)


def task_plot(lb: Leaderboard, table: Table, labels: list[str]) -> bytes:
    plt = _plt()
    metrics = [c.metric for c in table.columns if c.metric]
    task = next(c.task for c in table.columns if c.task)
    ncols = min(4, max(1, len(metrics)))
    nrows = max(1, math.ceil(len(metrics) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.0 * ncols, 2.7 * nrows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k < len(metrics):
            _bars(ax, lb, task, metrics[k], labels)
            ax.set_title(mpl_text(metrics[k]), fontsize=8)
        else:
            ax.axis("off")
    fig.suptitle(
        mpl_text(f"{TASK_TITLES.get(task, task)}: every metric (95% bootstrap interval)"), fontsize=10
    )
    fig.tight_layout()
    return _png(fig)


def character_heatmap(lb: Leaderboard, table: Table) -> bytes:
    plt = _plt()
    import numpy as np

    rows = [r for r in table.rows if r.key != "__mean__"]
    labels = [c.title for c in table.columns]
    data = np.array(
        [[c.value if c.value is not None else np.nan for c in r.cells] for r in rows], dtype=float
    )
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(labels), 0.8 + 0.28 * len(rows)))
    masked = np.ma.masked_invalid(data)
    im = ax.imshow(masked, aspect="auto", cmap="viridis")
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels([mpl_text(x) for x in labels], rotation=30, ha="right", fontsize=7)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([mpl_text(r.stub[0]) for r in rows], fontsize=7)
    finite = data[np.isfinite(data)]
    mid = float(finite.mean()) if finite.size else 0.0
    for i in range(data.shape[0]):
        for j in range(data.shape[1]):
            if np.isfinite(data[i, j]):
                ax.text(
                    j,
                    i,
                    f"{data[i, j]:.2f}",
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="white" if data[i, j] < mid else "black",
                )
    fig.colorbar(im, ax=ax, fraction=0.04)
    metric = table.columns[0].metric if table.columns else ""
    task = table.columns[0].task if table.columns else ""
    ax.set_title(mpl_text(f"{TASK_TITLES.get(task or '', task)}: {metric} per character"), fontsize=9)
    fig.tight_layout()
    return _png(fig)


def make_plots(lb: Leaderboard) -> dict[str, bytes]:
    """File name -> PNG bytes for every plot the tables refer to."""
    labels = [row.key for row in lb.overall.rows if not row.reported]
    out: dict[str, bytes] = {}
    if lb.headline:
        out["overview.png"] = overview(lb, labels)
    for t in lb.tasks:
        if t.plot and any(c.metric for c in t.columns):
            out[t.plot] = task_plot(lb, t, labels)
    for t in lb.characters:
        if t.plot:
            out[t.plot] = character_heatmap(lb, t)
    return out


__all__ = ["character_heatmap", "make_plots", "mpl_text", "overview", "task_plot"]
