"""The leaderboard as format-independent tables: overall, per task, per character.

Each cell keeps its number, interval, rank, best flag and paired-bootstrap result; the renderers in
`render.py` only format. Nothing here depends on file paths or time, so outputs are deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from rolescape.leaderboard.load import Run, RunSet
from rolescape.leaderboard.reported import ReportedNumber, ReportedSet
from rolescape.leaderboard.significance import PairedResult, comparison_seed, paired_bootstrap
from rolescape.metrics.declared import declaration, headline_eligible, headline_preference, higher_is_better
from rolescape.schemas.results import MetricSummary
from rolescape.schemas.tasks import TASKS

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

# The metric that represents a task in the overall table and the per-character breakdown: the first
# one present in any run wins; otherwise the alphabetically first metric with a value.
HEADLINE_PREFERENCE: dict[str, tuple[str, ...]] = {t: headline_preference(t) for t in TASKS}
NOT_ELIGIBLE_MARK = "‡"

_LOWER_BETTER_SUFFIXES = ("no_face", "_unparsed", "_unparseable", "_failures")


def lower_is_better(metric: str) -> bool:
    """The declared direction (rolescape.metrics.declared); an undeclared metric of a third-party
    family falls back to the naming rule (failure rates are better low)."""
    if declaration(metric) is not None:
        return not higher_is_better(metric)
    return metric.startswith("no_") or metric.endswith(_LOWER_BETTER_SUFFIXES) or metric == "missing"


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


def _mean(run: Run, task: str, metric: str) -> float | None:
    s = _summary(run, task, metric)
    return None if s is None else s.mean


def task_metrics(runs: Iterable[Run], task: str) -> list[str]:
    names: set[str] = set()
    for r in runs:
        tr = r.results.tasks.get(task)
        if tr:
            names.update(m for m, s in tr.metrics.items() if s.mean is not None)
    return sorted(names)


def pick_headline(runs: list[Run], task: str, overrides: dict[str, str] | None = None) -> str | None:
    present = task_metrics(runs, task)
    if overrides and task in overrides:
        return overrides[task]
    for m in HEADLINE_PREFERENCE.get(task, ()):
        if m in present:
            return m
    eligible = [m for m in present if headline_eligible(task, m)]
    return eligible[0] if eligible else (present[0] if present else None)


def column_digits(values: Iterable[float | None]) -> int:
    vals = [abs(v) for v in values if v is not None]
    return 3 if not vals or max(vals) <= 1.5 else 2


def competition_ranks(values: dict[str, float | None], lower_better: bool) -> dict[str, int]:
    """1 = best; ties share the better rank ("1, 1, 3")."""
    present = {k: v for k, v in values.items() if v is not None}
    out: dict[str, int] = {}
    for k, v in present.items():
        out[k] = 1 + sum(1 for w in present.values() if (w < v if lower_better else w > v))
    return out


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
        self.rs = runset
        self.runs = runset.runs
        self.reported = reported
        self.n_resamples = n_resamples
        self.seed = seed
        self.alpha = alpha
        self.tests: dict[tuple[str, str, str], PairedResult | None] = {}
        self.best: dict[tuple[str, str], str] = {}
        self.tasks = [t for t in TASKS if any(t in r.results.tasks for r in self.runs)]
        extra = sorted({t for r in self.runs for t in r.results.tasks} - set(TASKS))
        self.tasks += extra
        self.headline = {t: h for t in self.tasks if (h := pick_headline(self.runs, t, headline_overrides))}
        self.reported_shown: list[ReportedNumber] = []

    # -- one metric column over all runs ---------------------------------------------------------------
    def metric_cells(self, task: str, metric: str) -> dict[str, Cell]:
        lower = lower_is_better(metric)
        means = {r.label: _mean(r, task, metric) for r in self.runs}
        ranks = competition_ranks(means, lower)
        rep = self.reported.lookup(task, metric) if self.reported else None
        digits = column_digits([*means.values(), rep.value if rep else None])
        cells: dict[str, Cell] = {}
        for r in self.runs:
            s = _summary(r, task, metric)
            if s is None or s.mean is None:
                cells[r.label] = Cell(digits=digits, n=s.n if s else None)
                continue
            cells[r.label] = Cell(
                value=s.mean,
                lo=s.ci_low,
                hi=s.ci_high,
                digits=digits,
                n=s.n,
                rank=ranks.get(r.label),
                best=ranks.get(r.label) == 1,
            )
        if ranks:
            best_label = sorted(k for k, v in ranks.items() if v == 1)[0]
            self.best[(task, metric)] = best_label
            best_run = next(r for r in self.runs if r.label == best_label)
            for r in self.runs:
                c = cells[r.label]
                if r.label == best_label or c.value is None:
                    continue
                c.test = self.test(task, metric, best_run, r)
                c.significant = c.test is not None and c.test.p_value < self.alpha
        return cells

    def test(self, task: str, metric: str, best: Run, other: Run) -> PairedResult | None:
        key = (task, metric, other.label)
        if key not in self.tests:
            res = None
            if best.items is not None and other.items is not None:
                chars = {iid: s.character for (t, iid), s in (best.items | other.items).items() if t == task}
                res = paired_bootstrap(
                    best.item_values(task, metric),
                    other.item_values(task, metric),
                    chars,
                    n_resamples=self.n_resamples,
                    seed=comparison_seed(self.seed, task, metric, best.label, other.label),
                )
            self.tests[key] = res
        return self.tests[key]

    def reported_cell(self, task: str, metric: str, digits: int) -> Cell:
        rep = self.reported.lookup(task, metric) if self.reported else None
        if rep is None:
            return Cell(digits=digits)
        if rep not in self.reported_shown:
            self.reported_shown.append(rep)
        return Cell(value=rep.value, digits=digits)

    def reported_row(self, columns: list[Column], stub_width: int, lead: list[Cell]) -> Row | None:
        if self.reported is None:
            return None
        cells = list(lead)
        any_value = False
        for col in columns[len(lead) :]:
            if col.task is None or col.metric is None:
                cells.append(Cell())
                continue
            digits = column_digits(
                [_mean(r, col.task, col.metric) for r in self.runs]
                + [rep.value if (rep := self.reported.lookup(col.task, col.metric)) else None]
            )
            c = self.reported_cell(col.task, col.metric, digits)
            any_value |= c.value is not None
            cells.append(c)
        if not any_value:
            return None
        stub = ["—"] * (stub_width - 1) + [self.reported.label]
        return Row(key="__reported__", stub=stub, cells=cells, reported=True)

    # -- tables ----------------------------------------------------------------------------------------
    def overall(self) -> Table:
        cols = [
            Column(title=t, sub=m if headline_eligible(t, m) else f"{m} {NOT_ELIGIBLE_MARK}", task=t, metric=m)
            for t, m in self.headline.items()
        ]
        per_col = {
            (c.task, c.metric): self.metric_cells(c.task, c.metric) for c in cols if c.task and c.metric
        }
        # Overall rule: rank every run on the tasks that all runs were scored on (the shared tasks), so
        # a run is never left unranked just because it skips a task others answered; columns outside
        # the shared set are shown but do not count. No shared task -> no overall rank.
        shared = [
            c for c in cols if all(per_col[(c.task, c.metric)][r.label].rank is not None for r in self.runs)
        ]
        mean_rank: dict[str, float | None] = {}
        n_tasks: dict[str, int] = {}
        for r in self.runs:
            n_tasks[r.label] = sum(per_col[(c.task, c.metric)][r.label].rank is not None for c in cols)
            got = [x for c in shared if (x := per_col[(c.task, c.metric)][r.label].rank) is not None]
            mean_rank[r.label] = sum(got) / len(got) if got else None
        overall_rank = competition_ranks(mean_rank, lower_better=True)
        rows: list[Row] = []
        for r in self.runs:
            cells = [per_col[(c.task, c.metric)][r.label] for c in cols]
            mr = mean_rank[r.label]
            cells.append(Cell(value=mr, digits=2, best=overall_rank.get(r.label) == 1))
            rk = overall_rank.get(r.label)
            rows.append(Row(key=r.label, stub=[str(rk) if rk else "—", r.label], cells=cells))
        rows.sort(
            key=lambda row: (
                overall_rank.get(row.key) is None,
                overall_rank.get(row.key, 0),
                mean_rank[row.key] if mean_rank[row.key] is not None else 1e9,
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
        if any(c.task and c.metric and not headline_eligible(c.task, c.metric) for c in cols):
            notes.append(
                f"{NOT_ELIGIBLE_MARK}: not eligible as a headline under protocol v2 (copying the training data "
                "can win it, or it does not order the baselines; `rolescape meta-eval`)."
            )
        partial = sorted(k for k, n in n_tasks.items() if n < len(cols))
        if partial and shared:
            left_out = [c.title for c in cols if c not in shared]
            notes.append(
                "Runs cover different tasks, so rank and mean rank use only the tasks every run was "
                f"scored on: {', '.join(str(c.title) for c in shared)}; "
                f"{', '.join(str(t) for t in left_out)} are shown but not counted. "
                "Runs missing a task: "
                + ", ".join(f"{k} ({n_tasks[k]}/{len(cols)} tasks)" for k in partial)
                + "."
            )
        elif partial:
            notes.append(
                "No task was scored for every run, so there is no overall rank; compare runs per task. "
                "Runs missing a task: "
                + ", ".join(f"{k} ({n_tasks[k]}/{len(cols)} tasks)" for k in partial)
                + "."
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
        metrics = task_metrics(self.runs, task)
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
            rows.append(
                Row(
                    key=r.label,
                    stub=[str(rk) if rk else "—", r.label],
                    cells=[cov] + [per_metric[m][r.label] for m in metrics],
                )
            )
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
        skipped: dict[tuple[str, str], set[str]] = {}
        for r in self.runs:
            for sk in r.results.skipped:
                if sk.task in (task, "*"):
                    skipped.setdefault((sk.metric, sk.reason), set()).add(r.label)
        grouped: dict[tuple[str, tuple[str, ...]], list[str]] = {}
        for (metric, reason), labels in sorted(skipped.items()):
            grouped.setdefault((reason, tuple(sorted(labels))), []).append(metric)
        for (reason, labels), names in sorted(grouped.items(), key=lambda kv: kv[1]):
            notes.append(f"Skipped {', '.join(names)} ({', '.join(labels)}): {reason}")
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

    def character_table(self, task: str, order: list[str]) -> Table | None:
        metric = self.headline.get(task)
        if metric is None:
            return None
        runs = sorted((r for r in self.runs if task in r.results.tasks), key=lambda r: order.index(r.label))
        summaries = {r.label: _summary(r, task, metric) for r in runs}
        chars = sorted({c for s in summaries.values() if s for c in s.per_character})
        if not chars:
            return None
        lower = lower_is_better(metric)
        digits = column_digits(v for s in summaries.values() if s for v in s.per_character.values())
        rows: list[Row] = []
        for ch in [*chars, "__mean__"]:
            vals = {}
            for r in runs:
                s = summaries[r.label]
                if s is None:
                    vals[r.label] = None
                else:
                    vals[r.label] = s.mean if ch == "__mean__" else s.per_character.get(ch)
            ranks = competition_ranks(vals, lower)
            cells = [
                Cell(
                    value=vals[r.label], digits=digits, rank=ranks.get(r.label), best=ranks.get(r.label) == 1
                )
                for r in runs
            ]
            rows.append(Row(key=ch, stub=["Macro mean" if ch == "__mean__" else ch], cells=cells))
        cols = [Column(title=r.label, task=task, metric=metric) for r in runs]
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
