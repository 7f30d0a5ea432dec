"""Leaderboards from results files: tables (Markdown, LaTeX, CSV, parquet, HTML), plots, and Hub upload.

From Python:

    from rolescape.leaderboard import make_leaderboard
    make_leaderboard(["runs/a", "runs/b/results.json"], "board/", formats=["md", "html"])

Heavy imports (polars, matplotlib, huggingface_hub) happen only when a leaderboard, plots or a push
are made; the frames behind the tables are `rolescape.analysis`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rolescape.errors import InputError
from rolescape.io import write_bytes_atomic, write_text_atomic
from rolescape.leaderboard.load import Run, RunSet, load_run, load_runs
from rolescape.leaderboard.reported import ReportedSet, load_reported
from rolescape.leaderboard.tables import Leaderboard, build_leaderboard

FORMATS: dict[str, tuple[str, str]] = {  # name -> (canonical, file name)
    "md": ("md", "leaderboard.md"),
    "markdown": ("md", "leaderboard.md"),
    "latex": ("latex", "leaderboard.tex"),
    "tex": ("latex", "leaderboard.tex"),
    "csv": ("csv", "leaderboard.csv"),
    "html": ("html", "leaderboard.html"),
    "parquet": ("parquet", "leaderboard.parquet"),
}


def parse_formats(values: Iterable[str] | None) -> list[str]:
    """`["md,latex", "html"]` -> `["md", "latex", "html"]` (repeatable or comma list, order kept)."""
    out: list[str] = []
    for v in values or ["md"]:
        for part in (p.strip().lower() for p in v.split(",")):
            if not part:
                continue
            if part not in FORMATS:
                raise InputError(
                    f"unknown format {part!r} (known: md, latex, csv, html, parquet)", where="--format"
                )
            canon = FORMATS[part][0]
            if canon not in out:
                out.append(canon)
    if not out:
        raise InputError("no format given", where="--format")
    return out


def parse_headline(values: Iterable[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for v in values or []:
        for part in (p.strip() for p in v.split(",")):
            if not part:
                continue
            task, sep, metric = part.partition("=")
            if not sep or not task or not metric:
                raise InputError(f"expected TASK=METRIC, got {part!r}", where="--headline")
            out[task.strip()] = metric.strip()
    return out


@dataclass
class LeaderboardOutput:
    leaderboard: Leaderboard
    files: list[Path] = field(default_factory=list)


def make_leaderboard(
    results: list[str | Path],
    out_dir: str | Path,
    *,
    formats: Iterable[str] | None = None,
    allow_mixed: bool = False,
    allow_partial_runs: bool = False,
    reported: bool = True,
    plots: bool = True,
    n_resamples: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    headline: dict[str, str] | None = None,
    threads: int | None = None,
) -> LeaderboardOutput:
    """Load, compare and write: `leaderboard.{md,tex,csv,html,parquet}` and `plots/*.png` under `out_dir`.

    A partial run (`--limit` / `--shard`) beside full runs is refused unless `allow_partial_runs`.
    `threads`: for the paired bootstraps (default $ROLESCAPE_THREADS, else 1);
    the files are byte-identical for any value."""
    from rolescape.leaderboard import render

    fmts = parse_formats(formats)
    runset = load_runs(list(results), allow_mixed=allow_mixed, allow_partial_runs=allow_partial_runs)
    lb = build_leaderboard(
        runset,
        reported=load_reported() if reported else None,
        n_resamples=n_resamples,
        seed=seed,
        alpha=alpha,
        headline_overrides=headline,
        threads=threads,
    )
    out = Path(out_dir)
    written: list[Path] = []
    pngs: dict[str, bytes] = {}
    if plots or "html" in fmts:
        from rolescape.leaderboard.plots import make_plots

        pngs = make_plots(lb)
        if plots:
            for name, data in sorted(pngs.items()):
                write_bytes_atomic(out / "plots" / name, data)
                written.append(out / "plots" / name)
    renderers = {
        "md": render.render_markdown,
        "latex": render.render_latex,
        "csv": render.render_csv,
        "html": lambda board: render.render_html(board, pngs),
    }
    for f in fmts:
        path = out / _file_name(f)
        if f == "parquet":
            write_bytes_atomic(path, render.render_parquet(lb))
        else:
            write_text_atomic(path, renderers[f](lb))
        written.append(path)
    return LeaderboardOutput(lb, written)


def _file_name(fmt: str) -> str:
    return next(name for canon, name in FORMATS.values() if canon == fmt)


__all__ = [
    "FORMATS",
    "Leaderboard",
    "LeaderboardOutput",
    "ReportedSet",
    "Run",
    "RunSet",
    "build_leaderboard",
    "load_reported",
    "load_run",
    "load_runs",
    "make_leaderboard",
    "parse_formats",
    "parse_headline",
]
