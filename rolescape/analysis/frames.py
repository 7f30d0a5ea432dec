"""Results and per-item scores as polars frames, for the leaderboard and for notebooks.

Importing this module imports no polars; each function does, when a frame is asked for. `runs` is a
`RunSet`, a list of `Run`s, or a list of results.json paths / run folders (loaded with mixed
protocols and partial runs allowed: a frame describes, it does not rank).

Schemas (every column typed, nulls only where stated):

`items_frame`: one row per (run, item, metric) of the per-item logs, the last line of an item winning.
    run str (the label the leaderboard shows), model str, profile str, protocol str,
    manifest_sha256 str, partial bool, task str, character str, item_id str, metric str,
    value f64 (null where the metric does not apply to the item)

`skipped_frame`: one row per metric a run skipped: run str, task str ("*" = every task), metric str,
    reason str.

`results_frame`: one row per (run, task, metric) and per (run, task, metric, character).
    run, model, profile, protocol, manifest_sha256 str, partial bool, task str, metric str,
    character str (null on the macro row), mean f64 (null when nothing was scored), ci_low f64,
    ci_high f64 (null on per-character rows), n i64 (items with a value; null on per-character rows),
    coverage f64, n_items i64 (of the task)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rolescape.leaderboard.load import ITEM_FRAME_SCHEMA, Run, RunSet, load_runs

if TYPE_CHECKING:
    import polars as pl

    from rolescape.leaderboard.tables import Leaderboard

RUN_COLUMNS: dict[str, str] = {
    "run": "String",
    "model": "String",
    "profile": "String",
    "protocol": "String",
    "manifest_sha256": "String",
    "partial": "Boolean",
}
ITEMS_SCHEMA: dict[str, str] = {**RUN_COLUMNS, **ITEM_FRAME_SCHEMA}
RESULTS_SCHEMA: dict[str, str] = {
    **RUN_COLUMNS,
    "task": "String",
    "metric": "String",
    "character": "String",
    "mean": "Float64",
    "ci_low": "Float64",
    "ci_high": "Float64",
    "n": "Int64",
    "coverage": "Float64",
    "n_items": "Int64",
}


def _schema(names: dict[str, str]) -> pl.Schema:
    """A documented schema (column -> dtype name) as a polars schema."""
    import polars as pl

    return pl.Schema({k: getattr(pl, v) for k, v in names.items()})


def as_runs(runs: RunSet | Sequence[Run | str | Path]) -> list[Run]:
    """Runs as given, or loaded (with their per-item frames) from paths."""
    if isinstance(runs, RunSet):
        return runs.runs
    loaded = [r for r in runs if isinstance(r, Run)]
    paths = [r for r in runs if not isinstance(r, Run)]
    if paths:
        loaded += load_runs(list(paths), allow_mixed=True, allow_partial_runs=True).runs
    return loaded


def _run_values(r: Run) -> dict[str, Any]:
    res = r.results
    return {
        "run": r.label,
        "model": res.model_name,
        "profile": res.config.profile,
        "protocol": res.provenance.protocol_version,
        "manifest_sha256": res.dataset.manifest_sha256,
        "partial": r.partial,
    }


def items_frame(runs: RunSet | Sequence[Run | str | Path]) -> pl.DataFrame:
    """Every per-item score of every run with a per-item log (runs without one add no rows)."""
    import polars as pl

    parts = [
        r.item_frame.with_columns(
            [pl.lit(v, dtype=getattr(pl, RUN_COLUMNS[k])).alias(k) for k, v in _run_values(r).items()]
        ).select(list(ITEMS_SCHEMA))
        for r in as_runs(runs)
        if r.item_frame is not None
    ]
    if not parts:
        return pl.DataFrame(schema=_schema(ITEMS_SCHEMA))
    return pl.concat(parts, how="vertical")


def results_frame(runs: RunSet | Sequence[Run | str | Path]) -> pl.DataFrame:
    """The aggregates of every results.json: macro rows (character null) and per-character rows."""
    import polars as pl

    rows: list[dict[str, Any]] = []
    for r in as_runs(runs):
        head = _run_values(r)
        for task, tr in r.results.tasks.items():
            common = {**head, "task": task, "coverage": tr.coverage, "n_items": tr.n_items}
            for metric, s in tr.metrics.items():
                base = {**common, "metric": metric}
                rows.append({**base, "character": None, "mean": s.mean, "ci_low": s.ci_low,
                             "ci_high": s.ci_high, "n": s.n})  # fmt: skip
                rows += [
                    {**base, "character": ch, "mean": v, "ci_low": None, "ci_high": None, "n": None}
                    for ch, v in s.per_character.items()
                ]
    return pl.DataFrame(rows, schema=_schema(RESULTS_SCHEMA))


SKIPPED_SCHEMA: dict[str, str] = {"run": "String", "task": "String", "metric": "String", "reason": "String"}


def skipped_frame(runs: RunSet | Sequence[Run | str | Path]) -> pl.DataFrame:
    """The metrics each run skipped, and why (a skipped metric has no rows in the other frames)."""
    import polars as pl

    rows = [(r.label, s.task, s.metric, s.reason) for r in as_runs(runs) for s in r.results.skipped]
    return pl.DataFrame(rows, schema=_schema(SKIPPED_SCHEMA), orient="row")


LONG_SCHEMA: dict[str, str] = {  # the long table of a leaderboard: leaderboard.csv and leaderboard.parquet
    "section": "String",
    "task": "String",
    "metric": "String",
    "model": "String",
    "reported": "Boolean",
    "character": "String",
    "mean": "Float64",
    "ci_low": "Float64",
    "ci_high": "Float64",
    "n": "Int64",
    "rank": "Int64",
    "best": "Boolean",
    "p_value_vs_best": "Float64",
    "significant": "Boolean",
    "coverage": "Float64",
    "source": "String",
    "partial": "Boolean",
}


def long_frame(lb: Leaderboard) -> pl.DataFrame:
    """One row per (run, overall mean rank), per (run, task, metric) cell of the task tables (reported
    rows included), and per (run, task, metric, character), in the order of leaderboard.csv."""
    import polars as pl

    by_label = {r.label: r for r in lb.runs}
    rows: list[dict[str, Any]] = []
    for row in lb.overall.rows:
        if not row.reported:
            rank = int(row.stub[0]) if row.stub[0] != "—" else None
            rows.append({"section": "overall", "metric": "mean_rank", "model": row.key, "reported": False,
                         "mean": row.cells[-1].value, "rank": rank, "partial": by_label[row.key].partial})  # fmt: skip
    for t in lb.tasks:
        for row in t.rows:
            run = None if row.reported else by_label.get(row.key)
            tr = run.results.tasks.get(t.task or "") if run else None
            for col, c in zip(t.columns[1:], row.cells[1:], strict=True):
                if row.reported and c.value is None:
                    continue
                rows.append({
                    "section": "reported" if row.reported else "task", "task": col.task, "metric": col.metric,
                    "model": row.stub[-1], "reported": row.reported, "mean": c.value, "ci_low": c.lo,
                    "ci_high": c.hi, "n": c.n, "rank": c.rank, "best": c.best,
                    "p_value_vs_best": None if c.test is None else c.test.p_value,
                    "significant": c.significant, "coverage": None if tr is None else tr.coverage,
                    "source": lb.reported.source if row.reported and lb.reported else None,
                    "partial": bool(run and run.partial),
                })  # fmt: skip
    chars = results_frame(lb.runs).filter(pl.col("character").is_not_null())
    order = pl.DataFrame({"run": [r.label for r in lb.runs], "pos": list(range(len(lb.runs)))})
    chars = chars.join(order, on="run").sort("pos", "task", "metric", "character")
    head = pl.DataFrame(rows, schema=_schema(LONG_SCHEMA))
    tail = chars.select(
        section=pl.lit("character"), task="task", metric="metric", model="run", reported=pl.lit(False),
        character="character", mean="mean", partial="partial",
    )  # fmt: skip
    return (
        pl.concat([head, tail], how="diagonal_relaxed").select(list(LONG_SCHEMA)).cast(_schema(LONG_SCHEMA))
    )


__all__ = [
    "ITEMS_SCHEMA",
    "LONG_SCHEMA",
    "RESULTS_SCHEMA",
    "SKIPPED_SCHEMA",
    "as_runs",
    "items_frame",
    "long_frame",
    "results_frame",
    "skipped_frame",
]
