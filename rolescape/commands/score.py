"""score, validate-predictions, shuffle-options: the metrics half of the CLI (thin wiring over
rolescape.metrics). Heavy modules are imported inside the commands, so `rolescape --help` stays light."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from rich.table import Table

    from rolescape.schemas.results import Results


def _split_list(values: list[str] | None) -> list[str] | None:
    """Repeated options and comma lists alike: --tasks a,b --tasks c -> [a, b, c]."""
    if not values:
        return None
    out = [v.strip() for raw in values for v in raw.split(",") if v.strip()]
    return out or None


def _parse_models(values: list[str] | None) -> dict[str, str]:
    from rolescape.errors import InputError

    out: dict[str, str] = {}
    for v in values or []:
        name, sep, path = v.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise InputError(f"--model {v!r}: expected NAME=PATH (e.g. clip=/models/clip-vit-large-patch14)")
        out[name.strip()] = path.strip()
    return out


def _fmt(v: float | None, digits: int = 4) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def _floors_text(floors: dict[str, float] | None) -> str:
    if not floors:
        return ""
    short = {"always_A": "A", "always_B": "B", "always_C": "C", "always_D": "D", "longest_option": "longest"}
    return " ".join(f"{short.get(k, k)} {v:.3f}" for k, v in floors.items())


def summary_table(results: Results) -> Table:
    """task x metric: mean [95% CI], n, coverage, and the floors printed beside MCQ scores."""
    from rich.table import Table

    t = Table(
        title=f"{results.model_name} ({results.config.profile} profile, {results.config.device})",
        show_lines=False,
        header_style="bold",
    )
    for col, justify, wrap in (
        ("task", "left", False),
        ("metric", "left", False),
        ("mean", "right", False),
        ("95% CI", "right", False),
        ("n", "right", False),
        ("coverage", "right", False),
        ("floors", "left", True),
    ):
        t.add_column(
            col,
            justify=justify,
            no_wrap=not wrap,
            overflow="fold",  # type: ignore[arg-type]
            min_width=24 if wrap else None,
        )
    for task, tr in results.tasks.items():
        cov = f"{tr.n_predicted}/{tr.n_items} ({tr.coverage:.0%})"
        if not tr.metrics:
            t.add_row(task, "[dim](no metric ran)[/]", "", "", str(tr.n_scored), cov, "")
        for i, (metric, ms) in enumerate(tr.metrics.items()):
            ci = f"[{_fmt(ms.ci_low)}, {_fmt(ms.ci_high)}]" if ms.ci_low is not None else ""
            t.add_row(
                task if i == 0 else "",
                metric,
                _fmt(ms.mean),
                ci,
                str(ms.n),
                cov if i == 0 else "",
                _floors_text(ms.floors),
            )
        t.add_section()
    return t


def _out_console() -> Any:
    """stdout console; when piped (no terminal) wide enough for the summary table not to be squeezed."""
    from rich.console import Console

    con = Console(highlight=False, soft_wrap=True)
    if not con.is_terminal:
        con = Console(highlight=False, soft_wrap=True, width=max(con.width, 160))
    return con


def skipped_lines(results: Results) -> list[str]:
    """Skipped metrics grouped by reason: one line per reason."""
    by_reason: dict[str, list[str]] = {}
    for s in results.skipped:
        what = s.metric if s.task == "*" else f"{s.task}/{s.metric}"
        by_reason.setdefault(s.reason, []).append(what)
    return [f"skipped {', '.join(whats)}: {reason}" for reason, whats in by_reason.items()]


def register(app: typer.Typer) -> None:
    @app.command("score")
    def score_cmd(
        predictions: Path = typer.Argument(
            ..., help="predictions.jsonl: one {id, text|image|images|choice} per line."
        ),
        data: Path = typer.Option(..., "--data", help="A folder written by `rolescape build`."),
        tasks: list[str] = typer.Option(
            None,
            "--tasks",
            help="Tasks to score (repeatable or comma list); default: every task with a prediction.",
        ),
        profile: str = typer.Option(
            "paper", "--profile", help="paper (pinned hub models) or offline (packaged models)."
        ),
        model: list[str] = typer.Option(
            None, "--model", help="NAME=PATH: load a model from a local folder (repeatable)."
        ),
        device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or cuda:N."),
        batch_size: int = typer.Option(
            32, "--batch-size", help="Items per chunk (scores do not depend on it)."
        ),
        out: Path = typer.Option(
            None,
            "--out",
            help="Run folder (items.jsonl, results.json); rerun with the "
            "same --out to resume. Default runs/<name>-<timestamp>.",
        ),
        allow_partial: bool = typer.Option(
            False, "--allow-partial", help="Score the valid lines, report the invalid ones."
        ),
        alpha: str = typer.Option(
            "white", "--alpha", help="white: composite transparency on white; paper: convert('RGB')."
        ),
        judge_url: str = typer.Option(
            None, "--judge-url", help="OpenAI-compatible endpoint for the judge_* metrics."
        ),
        judge_model: str = typer.Option(None, "--judge-model", help="Judge model id at --judge-url."),
        judge_key_env: str = typer.Option(
            "ROLESCAPE_JUDGE_API_KEY",
            "--judge-key-env",
            help="Environment variable holding the judge's API key (the key itself is never printed).",
        ),
        judge_concurrency: int = typer.Option(4, "--judge-concurrency", help="Parallel judge requests."),
        judge_timeout: float = typer.Option(60.0, "--judge-timeout", help="Seconds per judge request."),
        name: str = typer.Option(
            None, "--name", help="Name of the system scored (default: the predictions folder)."
        ),
        families: list[str] = typer.Option(
            None, "--families", help="Metric families to run (repeatable or comma list)."
        ),
        options_permutation: Path = typer.Option(
            None, "--options-permutation", help="A `shuffle-options` export: map shuffled MCQ letters back."
        ),
        limit: int = typer.Option(
            None, "--limit", help="Score only the first N items of each task (debugging)."
        ),
        seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap interval."),
        bootstrap: int = typer.Option(1000, "--bootstrap", help="Bootstrap resamples (0: no interval)."),
        workers: int = typer.Option(0, "--workers", help="Image-decoding worker processes."),
        cache_dir: Path = typer.Option(None, "--cache-dir", help="Embedding cache folder."),
        no_progress: bool = typer.Option(False, "--no-progress", help="No progress bars."),
    ) -> None:
        """Score predictions against a built dataset: per-item scores, macro means, bootstrap intervals."""
        from rich.console import Console

        from rolescape.io import check_out_dir
        from rolescape.metrics.engine import default_run_dir, score
        from rolescape.metrics.mcq import load_permutations

        con = _out_console()
        err = Console(stderr=True, highlight=False, soft_wrap=True)
        options: dict[str, Any] = {}
        if judge_url:
            options["judge_url"] = judge_url
        if judge_model:
            options["judge_model"] = judge_model
        if judge_url:
            options["judge_key_env"] = judge_key_env
            options["judge_concurrency"] = judge_concurrency
            options["judge_timeout"] = judge_timeout
        if options_permutation is not None:
            options["options_permutation"] = load_permutations(options_permutation)
        run_name = name or predictions.resolve().parent.name or predictions.stem
        run_dir = check_out_dir(out if out is not None else default_run_dir(run_name))

        def warn(problems: list[str]) -> None:
            err.print(
                f"[yellow]warning:[/] {len(problems)} invalid prediction line(s) left out (--allow-partial):"
            )
            for p in problems[:50]:
                err.print(f"  {p}")
            if len(problems) > 50:
                err.print(f"  ... and {len(problems) - 50} more (all listed in results.json 'problems')")

        res = score(
            predictions,
            data,
            tasks=_split_list(tasks),
            profile=profile,
            model_paths=_parse_models(model),
            device=device,
            batch_size=batch_size,
            out_dir=run_dir,
            allow_partial=allow_partial,
            alpha=alpha,
            families=_split_list(families),
            options=options,
            limit=limit,
            name=run_name,
            seed=seed,
            bootstrap=bootstrap,
            num_workers=workers,
            cache_dir=cache_dir,
            progress=not no_progress,
            console=err,
            on_problems=warn,
        )
        con.print(summary_table(res))
        for line in skipped_lines(res):
            con.print(f"[dim]{line}[/]", soft_wrap=False, overflow="fold")  # wrap, never crop the reason
        partial = [t for t, tr in res.tasks.items() if tr.coverage < 1]
        if partial:
            con.print(
                f"[yellow]partial coverage[/]: {', '.join(partial)} (missing items are not in the means)"
            )
        con.print(f"[green]results[/]: {run_dir / 'results.json'}  (per item: {run_dir / 'items.jsonl'})")

    @app.command("validate-predictions")
    def validate_predictions_cmd(
        predictions: Path = typer.Argument(..., help="predictions.jsonl to check."),
        data: Path = typer.Option(..., "--data", help="A folder written by `rolescape build`."),
        tasks: list[str] = typer.Option(None, "--tasks", help="Report coverage of these tasks only."),
    ) -> None:
        """Check a predictions file (every line, every image header) without loading any model."""
        from rich.console import Console
        from rich.table import Table

        from rolescape.dataset import BuiltDataset
        from rolescape.metrics.predictions import available_tasks, check_predictions, coverage

        ds = BuiltDataset(data)
        sel = _split_list(tasks)
        if sel is not None:
            from rolescape.metrics.engine import resolve_tasks

            sel = resolve_tasks(sel, ds)
        rep = check_predictions(predictions, ds, sel)
        n = len(rep.problems)
        rep.raise_if_problems(f"{predictions}: {n} problem{'s' if n != 1 else ''}")
        con = Console(highlight=False, soft_wrap=True)
        cov = coverage(
            rep,
            ds,
            sel if sel is not None else [t for t in available_tasks(ds) if t in set(rep.task_of.values())],
        )
        con.print(f"[green]ok[/]: {predictions}: {len(rep.predictions)} valid predictions")
        t = Table("task", "predicted", "items", "coverage", box=None)
        for task, (have, total) in cov.items():
            t.add_row(task, str(have), str(total), f"{have / total:.0%}" if total else "n/a")
        con.print(t)

    @app.command("shuffle-options")
    def shuffle_options_cmd(
        data: Path = typer.Option(..., "--data", help="A folder written by `rolescape build`."),
        task: str = typer.Option("knowledge_mcq", "--task", help="knowledge_mcq or visual_mcq."),
        seed: int = typer.Option(0, "--seed", help="Seed of the per-item permutations."),
        out: Path = typer.Option(
            ..., "--out", help="JSONL to write: items with permuted options + permutation."
        ),
    ) -> None:
        """Export MCQ items with options permuted by a seeded RNG (answer keys remapped, permutation recorded)."""
        from collections import Counter

        from rich.console import Console

        from rolescape.metrics.mcq import shuffle_options, write_shuffled

        rows = shuffle_options(data, task, seed)
        write_shuffled(rows, out)
        keys = Counter(r["answer_key"] for r in rows)
        Console(highlight=False, soft_wrap=True).print(
            f"[green]wrote[/] {out}: {len(rows)} {task} items, seed {seed}; answer keys now "
            + " ".join(f"{k}{keys.get(k, 0)}" for k in "ABCD")
            + f"\nscore answers with: rolescape score PRED --data {data} --options-permutation {out}"
        )
