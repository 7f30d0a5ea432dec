"""The leaderboard as format-independent tables: overall, per task, per character.

Each cell keeps its number, interval, rank, best flag and paired-bootstrap result; the renderers in
`render.py` only format. Ranks, best marks, mean ranks and the inputs of the paired bootstrap are
computed on the polars frames of `rolescape.analysis` (rank over a window, group-by, pivot). Nothing
here depends on file paths or time, so outputs are deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rolescape.leaderboard.load import Run, RunSet
from rolescape.leaderboard.metricinfo import (  # noqa: F401
    HEADLINE_PREFERENCE,
    NOT_ELIGIBLE_MARK,
    NOT_ELIGIBLE_NOTE,
    eligible,
    headline_metric,
    lower_is_better,
)
from rolescape.leaderboard.reported import ReportedNumber, ReportedSet
from rolescape.leaderboard.significance import PairedResult, comparison_seed, tests_against_best
from rolescape.schemas.results import MetricSummary
from rolescape.schemas.tasks import TASKS

if TYPE_CHECKING:
    import polars as pl

TASK_TITLES: dict[str, str] = {
    "roleplay": "Role-play (T2T2I)",
    "t2i": "T2I",
    "t2i_vqa": "T2I-VQA (train-time prompts)",
    "knowledge_mcq": "Knowledge MCQ",
    "visual_mcq": "Visual MCQ",
    "dialogue": "Dialogue",
    "memorization": "Memorization",
    "personality": "Personality",
}


def fmt_num(v: float, digits: int) -> str:
    s = f"{v:.{digits}f}"
    if s.startswith("-") and float(s) == 0.0:
        s = s[1:]
    return s


@dataclass
class Cell:
    value: float | None = None
    lo: float | None = None
    hi: float | None = None
    digits: int = 3
    best: bool = False
    rank: int | None = None
    n: int | None = None
    test: PairedResult | None = None
    significant: bool = False
    text: str | None = None  # replaces the number (e.g. a coverage percentage)

    def number(self) -> str:
        if self.text is not None:
            return self.text
        return "—" if self.value is None else fmt_num(self.value, self.digits)

    def interval(self) -> str | None:
        if self.value is None or self.lo is None or self.hi is None:
            return None
        return f"[{fmt_num(self.lo, self.digits)}, {fmt_num(self.hi, self.digits)}]"


@dataclass
class Column:
    title: str
    sub: str = ""
    task: str | None = None
    metric: str | None = None


@dataclass
class Row:
    key: str
    stub: list[str]
    cells: list[Cell]
    reported: bool = False


@dataclass
class Table:
    key: str
    title: str
    stub_headers: list[str]
    columns: list[Column]
    rows: list[Row]
    notes: list[str] = field(default_factory=list)
    plot: str | None = None  # name of the PNG that goes with this table
    task: str | None = None  # the task of a per-task or per-character table


@dataclass
class Leaderboard:
    runset: RunSet
    headline: dict[str, str]
    overall: Table
    tasks: list[Table]
    characters: list[Table]
    notes: list[str]
    reported: ReportedSet | None
    reported_shown: list[ReportedNumber]
    reported_hidden: list[ReportedNumber]
    alpha: float
    n_resamples: int
    seed: int
    tests: dict[tuple[str, str, str], PairedResult | None] = field(default_factory=dict)
    best: dict[tuple[str, str], str] = field(default_factory=dict)

    @property
    def runs(self) -> list[Run]:
        return self.runset.runs


def _summary(run: Run, task: str, metric: str) -> MetricSummary | None:
    tr = run.results.tasks.get(task)
    return tr.metrics.get(metric) if tr else None


def task_metrics(runs: Iterable[Run], task: str) -> list[str]:
    names: set[str] = set()
    for r in runs:
        tr = r.results.tasks.get(task)
        if tr:
            names.update(m for m, s in tr.metrics.items() if s.mean is not None)
    return sorted(names)


def pick_headline(runs: list[Run], task: str, overrides: dict[str, str] | None = None) -> str | None:
    if overrides and task in overrides:
        return overrides[task]
    return headline_metric(task, task_metrics(runs, task))


def column_digits(values: Iterable[float | None]) -> int:
    vals = [abs(v) for v in values if v is not None]
    return 3 if not vals or max(vals) <= 1.5 else 2


def _signed(col: str, lower: pl.Expr | bool) -> pl.Expr:
    """A column where smaller is better, so that every rank is ascending ("min": ties share the better)."""
    import polars as pl

    return pl.when(lower).then(pl.col(col)).otherwise(-pl.col(col))


def competition_ranks(values: dict[str, float | None], lower_better: bool) -> dict[str, int]:
    """1 = best; ties share the better rank ("1, 1, 3")."""
    import polars as pl

    f = pl.DataFrame(
        {"k": list(values), "v": list(values.values())}, schema={"k": pl.String, "v": pl.Float64}
    )
    f = f.drop_nulls("v").with_columns(r=_signed("v", lower_better).rank("min").cast(pl.Int64))
    return dict(zip(f["k"].to_list(), f["r"].to_list(), strict=True))


class _Builder:
    def __init__(
        self,
        runset: RunSet,
        *,
        reported: ReportedSet | None,
        n_resamples: int,
        seed: int,
        alpha: float,
        headline_overrides: dict[str, str] | None,
    ):
        import polars as pl

        from rolescape.analysis.frames import items_frame, results_frame, skipped_frame

        self.runs = runset.runs
        self.reported = reported
        self.n_resamples = n_resamples
        self.seed = seed
        self.alpha = alpha
        self.tests: dict[tuple[str, str, str], PairedResult | None] = {}
        self.best: dict[tuple[str, str], str] = {}
        present = {t for r in self.runs for t in r.results.tasks}
        self.tasks = [t for t in TASKS if t in present] + sorted(present - set(TASKS))
        frame = results_frame(self.runs)
        self.per_char = frame.filter(pl.col("character").is_not_null())
        macro = frame.filter(pl.col("character").is_null())
        metrics = sorted(set(macro["metric"].to_list()))
        lower = pl.DataFrame({"metric": metrics, "lower": [lower_is_better(m) for m in metrics]})
        # one rank per (task, metric) column over all runs: 1 = best, ties share the better rank
        self.ranked = macro.join(lower, on="metric", how="left").with_columns(
            rank=_signed("mean", pl.col("lower")).rank("min").over("task", "metric").cast(pl.Int64)
        )
        valued = self.ranked.drop_nulls("mean").group_by("task").agg(pl.col("metric").unique())
        self.metrics = {t: sorted(ms) for t, ms in valued.iter_rows()}
        overrides = headline_overrides or {}
        self.headline = {
            t: h
            for t in self.tasks
            if (h := overrides.get(t) or headline_metric(t, self.metrics.get(t, ()))) is not None
        }
        self.largest = {
            (t, m): v
            for t, m, v in self.ranked.group_by("task", "metric").agg(pl.col("mean").abs().max()).iter_rows()
        }
        self.columns: dict[tuple[str, str], dict[str, Cell]] = {}
        self.items = items_frame(self.runs)
        self.skipped = skipped_frame(self.runs)
        self.reported_shown: list[ReportedNumber] = []

    def digits(self, task: str, metric: str) -> int:
        rep = self.reported.lookup(task, metric) if self.reported else None
        return column_digits([self.largest.get((task, metric)), rep.value if rep else None])

    # -- one metric column over all runs ---------------------------------------------------------------
    def metric_cells(self, task: str, metric: str) -> dict[str, Cell]:
        if (task, metric) in self.columns:
            return self.columns[(task, metric)]
        import polars as pl

        digits = self.digits(task, metric)
        col = self.ranked.filter((pl.col("task") == task) & (pl.col("metric") == metric))
        cells = {r.label: Cell(digits=digits) for r in self.runs}
        valued = pl.col("mean").is_not_null()  # an interval only beside a number
        shown = col.select("n", "rank", value="mean", lo=pl.when(valued).then("ci_low"),
                           hi=pl.when(valued).then("ci_high"))  # fmt: skip
        for label, rec in zip(col["run"], shown.iter_rows(named=True), strict=True):
            cells[label] = Cell(**rec, digits=digits, best=rec["rank"] == 1)
        best = col.filter(pl.col("rank") == 1)["run"].min()
        if best is not None:
            self.best[(task, metric)] = str(best)
            self.significance(task, metric, str(best), cells)
        self.columns[(task, metric)] = cells
        return cells

    def significance(self, task: str, metric: str, best: str, cells: dict[str, Cell]) -> None:
        """Paired bootstrap of the best run against every other run with a value."""
        import polars as pl

        part = self.items.filter(
            (pl.col("task") == task) & (pl.col("metric") == metric) & pl.col("value").is_not_null()
        ).select("run", "character", "item_id", "value")
        others = [label for label, c in cells.items() if label != best and c.value is not None]
        seeds = {o: comparison_seed(self.seed, task, metric, best, o) for o in others}
        for label, res in tests_against_best(part, best, seeds, n_resamples=self.n_resamples).items():
            self.tests[(task, metric, label)] = cells[label].test = res
            cells[label].significant = res is not None and res.p_value < self.alpha

    def reported_row(self, columns: list[Column], stub_width: int, lead: list[Cell]) -> Row | None:
        if self.reported is None:
            return None
        cells = list(lead)
        for col in columns[len(lead) :]:
            rep = self.reported.lookup(col.task, col.metric) if col.task and col.metric else None
            if rep is not None and col.task and col.metric:
                if rep not in self.reported_shown:
                    self.reported_shown.append(rep)
                cells.append(Cell(value=rep.value, digits=self.digits(col.task, col.metric)))
            else:
                cells.append(Cell())
        if all(c.value is None for c in cells[len(lead) :]):
            return None
        stub = ["—"] * (stub_width - 1) + [self.reported.label]
        return Row(key="__reported__", stub=stub, cells=cells, reported=True)

    # -- tables ----------------------------------------------------------------------------------------
    def overall(self) -> Table:
        import polars as pl

        cols = [
            Column(title=t, sub=m if eligible(t, m) else f"{m} {NOT_ELIGIBLE_MARK}", task=t, metric=m)
            for t, m in self.headline.items()
        ]
        per_col = {(t, m): self.metric_cells(t, m) for t, m in self.headline.items()}
        # Overall rule: rank every run on the tasks that all runs were scored on (the shared tasks), so
        # a run is never left unranked just because it skips a task others answered; columns outside
        # the shared set are shown but do not count. No shared task -> no overall rank.
        heads = pl.DataFrame(
            {"task": list(self.headline), "metric": list(self.headline.values())},
            schema={"task": pl.String, "metric": pl.String},
        )
        ranked = self.ranked.join(heads, on=["task", "metric"]).drop_nulls("rank")
        ranked = ranked.with_columns(shared=pl.len().over("task", "metric") == len(self.runs))
        shared_keys = set(ranked.filter("shared").select("task", "metric").unique().iter_rows())
        shared = [c for c in cols if (c.task, c.metric) in shared_keys]
        per_run = ranked.group_by("run").agg(
            n_tasks=pl.len(), mean_rank=pl.col("rank").filter(pl.col("shared")).mean()
        )
        n_tasks = {r.label: 0 for r in self.runs} | dict(per_run.select("run", "n_tasks").iter_rows())
        mean_rank: dict[str, float | None] = {r.label: None for r in self.runs}
        mean_rank |= dict(per_run.select("run", "mean_rank").iter_rows())
        overall_rank = competition_ranks(mean_rank, lower_better=True)
        rows: list[Row] = []
        for r in self.runs:
            cells = [per_col[(c.task, c.metric)][r.label] for c in cols if c.task and c.metric]
            cells.append(Cell(value=mean_rank[r.label], digits=2, best=overall_rank.get(r.label) == 1))
            rk = overall_rank.get(r.label)
            rows.append(Row(key=r.label, stub=[str(rk) if rk else "—", r.label], cells=cells))
        rows.sort(
            key=lambda row: (
                overall_rank.get(row.key) is None,
                overall_rank.get(row.key, 0),
                mr if (mr := mean_rank[row.key]) is not None else 1e9,
                row.key,
            )
        )
        all_cols = [*cols, Column(title="Mean rank")]
        rep = self.reported_row(all_cols[:-1], 2, [])
        if rep is not None:
            rep.cells.append(Cell())
            rows.append(rep)
        notes = [
            "Each task column shows its headline metric: macro mean over characters with its 95% bootstrap "
            "interval; rank 1 (bold) is the best run."
        ]
        if any(not eligible(t, m) for t, m in self.headline.items()):
            notes.append(NOT_ELIGIBLE_NOTE)
        partial = sorted(k for k, n in n_tasks.items() if n < len(cols))
        missing = ", ".join(f"{k} ({n_tasks[k]}/{len(cols)} tasks)" for k in partial)
        if partial:
            left_out = ", ".join(str(c.title) for c in cols if c not in shared)
            notes.append(
                (
                    "Runs cover different tasks, so rank and mean rank use only the tasks every run was "
                    f"scored on: {', '.join(str(c.title) for c in shared)}; {left_out} are shown but not counted. "
                    if shared
                    else "No task was scored for every run, so there is no overall rank; compare runs per task. "
                )
                + f"Runs missing a task: {missing}."
            )
        return Table(
            key="overall",
            title="Overall",
            stub_headers=["Rank", "Model"],
            columns=all_cols,
            rows=rows,
            notes=notes,
            plot="overview.png",
        )

    def task_table(self, task: str) -> Table:
        head = self.headline.get(task)
        metrics = self.metrics.get(task, [])
        if head in metrics:
            metrics = [head] + [m for m in metrics if m != head]
        per_metric = {m: self.metric_cells(task, m) for m in metrics}
        cols = [Column(title="Coverage")] + [
            Column(title=m, sub="headline" if m == head else "", task=task, metric=m) for m in metrics
        ]
        rows: list[Row] = []
        head_rank = {r.label: per_metric[head][r.label].rank for r in self.runs} if head else {}
        for r in self.runs:
            tr = r.results.tasks.get(task)
            if tr is None:  # runs without this task are in the overall table only
                continue
            cov = Cell(text=f"{100 * tr.coverage:.0f}%")
            rk = head_rank.get(r.label)
            cells = [cov] + [per_metric[m][r.label] for m in metrics]
            rows.append(Row(key=r.label, stub=[str(rk) if rk else "—", r.label], cells=cells))
        rows.sort(key=lambda row: (head_rank.get(row.key) is None, head_rank.get(row.key) or 0, row.key))
        rep = self.reported_row(cols, 2, [Cell()])
        if rep is not None:
            rows.append(rep)
        notes = [f"Ranked by the headline metric {head}." if head else "No metric has a value."]
        lower = [m for m in metrics if lower_is_better(m)]
        if lower:
            notes.append(f"Lower is better for {', '.join(lower)}.")
        for m in metrics:
            floors = {
                tuple(sorted(s.floors.items()))
                for r in self.runs
                if (s := _summary(r, task, m)) is not None and s.floors
            }
            for f in sorted(floors):
                shown = ", ".join(f"{k} {fmt_num(v, 3)}" for k, v in f)
                notes.append(f"Floors of {m} (answering without reading the question): {shown}.")
        notes += self.skipped_notes(task)
        return Table(
            key=f"task-{task}",
            title=TASK_TITLES.get(task, task),
            stub_headers=["Rank", "Model"],
            columns=cols,
            rows=rows,
            notes=notes,
            plot=f"task_{task}.png",
            task=task,
        )

    def skipped_notes(self, task: str) -> list[str]:
        """One note per (reason, runs): the metrics skipped for that reason by exactly those runs."""
        import polars as pl

        sk = self.skipped.filter(pl.col("task").is_in([task, "*"]))
        by_metric = sk.group_by("metric", "reason").agg(pl.col("run").unique().sort())
        groups = by_metric.group_by("reason", "run").agg(pl.col("metric").sort())
        out = sorted(groups.iter_rows(), key=lambda g: (g[2], g[0]))
        return [f"Skipped {', '.join(m)} ({', '.join(runs)}): {why}" for why, runs, m in out]

    def character_table(self, task: str, order: list[str]) -> Table | None:
        import polars as pl

        metric = self.headline.get(task)
        if metric is None:
            return None
        runs = sorted((r.label for r in self.runs if task in r.results.tasks), key=order.index)
        pc = self.per_char.filter((pl.col("task") == task) & (pl.col("metric") == metric))
        if pc.is_empty():
            return None
        digits = column_digits(pc["mean"].to_list())
        rank = _signed("mean", lower_is_better(metric)).rank("min").over("character").cast(pl.Int64)
        # one row per character, a mean_<run> and a rank_<run> column per run (prefixes: no label clashes)
        wide = pc.with_columns(rank=rank).pivot(on="run", index="character", values=["mean", "rank"])
        macro = self.metric_cells(task, metric)
        rows = [
            Row(key=rec["character"], stub=[rec["character"]], cells=[
                Cell(value=rec.get(f"mean_{r}"), digits=digits, rank=rec.get(f"rank_{r}"),
                     best=rec.get(f"rank_{r}") == 1) for r in runs])
            for rec in wide.sort("character").iter_rows(named=True)
        ]  # fmt: skip
        mean_cells = [Cell(value=macro[r].value, digits=digits, rank=macro[r].rank, best=macro[r].rank == 1)
                      for r in runs]  # fmt: skip
        rows.append(Row(key="__mean__", stub=["Macro mean"], cells=mean_cells))
        cols = [Column(title=r, task=task, metric=metric) for r in runs]
        return Table(
            key=f"chars-{task}",
            title=f"{TASK_TITLES.get(task, task)} - {metric} per character",
            stub_headers=["Character"],
            columns=cols,
            rows=rows,
            notes=[f"Per-character mean of {metric}; bold: the best run for that character."],
            plot=f"characters_{task}.png",
            task=task,
        )


def build_leaderboard(
    runset: RunSet,
    *,
    reported: ReportedSet | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    headline_overrides: dict[str, str] | None = None,
) -> Leaderboard:
    b = _Builder(
        runset,
        reported=reported,
        n_resamples=n_resamples,
        seed=seed,
        alpha=alpha,
        headline_overrides=headline_overrides,
    )
    overall = b.overall()
    order = [row.key for row in overall.rows if not row.reported]
    tasks = [b.task_table(t) for t in b.tasks]
    chars = [t for task in b.tasks if (t := b.character_table(task, order)) is not None]
    notes = [
        f"† marks a run significantly different from the best run of its column: paired bootstrap over the items "
        f"both were scored on ({n_resamples} resamples within characters, seed {seed}, two-sided p < {alpha:g}).",
    ]
    if runset.mixed:
        notes += [f"Compared with --allow-mixed: {m}." for m in runset.mixed]
    if len(runset.profiles) > 1:
        notes.append(
            f"Runs use different profiles ({', '.join(runset.profiles)}): a metric name can mean a "
            "different model."
        )
    notes += [
        f"{r.label}: a partial run, scored on a subset of the items ({r.partial_reason()}): its numbers "
        "are not comparable to a full run's."
        for r in runset.partial_runs
    ]
    notes += [f"{r.label}: {r.items_note}." for r in runset.runs if r.items_note]
    hidden: list[ReportedNumber] = []
    if reported is not None:
        shown = b.reported_shown
        hidden = [e for e in reported.entries if e not in shown]
        notes.append(f"{reported.label}: {reported.source}. These numbers are reference rows, never ranked.")
        for e in reported.entries:
            where = "" if e in shown else " (not shown: no run reports this column)"
            comp = "" if e.comparable else " Not comparable."
            notes.append(f"{e.describe()}{where}.{comp} {e.note}")
    return Leaderboard(
        runset=runset,
        headline=b.headline,
        overall=overall,
        tasks=tasks,
        characters=chars,
        notes=notes,
        reported=reported,
        reported_shown=list(b.reported_shown),
        reported_hidden=hidden,
        alpha=alpha,
        n_resamples=n_resamples,
        seed=seed,
        tests=b.tests,
        best=b.best,
    )
