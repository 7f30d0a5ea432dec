"""score, validate-predictions, shuffle-options: the metrics half of the CLI (thin wiring over
rolescape.metrics). Heavy modules are imported inside the commands, so `rolescape --help` stays light."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import typer
from pydantic import ValidationError

if TYPE_CHECKING:
    from rich.table import Table

    from rolescape.schemas.results import Results
    from rolescape.schemas.spec import ScoreSpec


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


def partial_note(results: Results) -> str | None:
    """One line saying how a partial run was restricted (None for a full run)."""
    if not results.partial:
        return None
    how = []
    if results.limit is not None:
        how.append(f"--limit {results.limit}")
    if results.shard is not None:
        how.append(f"--shard {results.shard}")
    return (
        f"PARTIAL RUN ({', '.join(how) or 'restricted'}): the means cover a slice of each task; "
        "coverage counts the whole task; do not compare with full runs"
    )


def summary_table(results: Results) -> Table:
    """task x metric: mean [95% CI], n, coverage, and the floors printed beside MCQ scores."""
    from rich.table import Table

    mark = " [bold yellow]PARTIAL[/]" if results.partial else ""
    t = Table(
        title=f"{results.model_name} ({results.config.profile} profile, {results.config.device}){mark}",
        show_lines=False,
        header_style="bold",
    )
    columns: tuple[tuple[str, Literal["left", "right"], bool], ...] = (
        ("task", "left", False),
        ("metric", "left", False),
        ("mean", "right", False),
        ("95% CI", "right", False),
        ("n", "right", False),
        ("coverage", "right", False),
        ("floors", "left", True),
    )
    for col, justify, wrap in columns:
        t.add_column(col, justify=justify, no_wrap=not wrap, overflow="fold", min_width=24 if wrap else None)
    for task, tr in results.tasks.items():
        cov = f"{tr.n_predicted}/{tr.n_items} ({tr.coverage:.0%})"
        if tr.n_in_scope is not None:
            cov += f" [yellow]slice {tr.n_in_scope}[/]"
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


def load_spec(path: Path) -> ScoreSpec:
    """A ScoreSpec from a results.json (its `spec`), a run folder, or a spec JSON file."""
    import json

    from rolescape.errors import InputError
    from rolescape.metrics.engine import RESULTS_FILE, load_results, validation_message
    from rolescape.schemas.spec import ScoreSpec

    p = path / RESULTS_FILE if path.is_dir() else path
    try:
        obj = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("spec file not found", path=p) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"not a JSON file: {type(e).__name__}", path=p) from None
    if isinstance(obj, dict) and "spec" in obj and "tasks" in obj:
        res = load_results(p)
        if res.spec is None:
            raise InputError("this results file has no spec (schema v1): rerun with flags", path=p)
        return res.spec
    try:
        return ScoreSpec.model_validate(obj)
    except ValidationError as e:
        raise InputError(validation_message(e, "score spec: "), path=p) from None


def build_spec(
    predictions: Path,
    data: Path,
    *,
    families: list[str] | None,
    judge: dict[str, Any],
    options_permutation: Path | None,
    model_precision: list[str] | None,
    **fields: Any,
) -> ScoreSpec:
    """The ScoreSpec of a `rolescape score` command line (family configs filled from the flags)."""
    from rolescape.errors import InputError
    from rolescape.metrics.engine import make_spec
    from rolescape.metrics.registry import DEFAULT_FAMILIES

    names = list(families) if families else list(DEFAULT_FAMILIES)
    if not families and judge.get("url"):
        names.append("judge")
    cfgs: dict[str, dict[str, Any]] = {n: {} for n in names}
    if "judge" in cfgs:
        cfgs["judge"] = {k: v for k, v in judge.items() if v is not None}
    if options_permutation is not None:
        if "mcq" not in cfgs:
            raise InputError("--options-permutation needs the mcq family")
        cfgs["mcq"] = {"options_permutation": str(options_permutation)}
    precisions: dict[str, str] = {}
    for v in model_precision or []:
        enc, sep, prec = v.partition("=")
        if not sep or not enc.strip() or not prec.strip():
            raise InputError(f"--model-precision {v!r}: expected ENCODER=PRECISION (e.g. clip=fp16)")
        precisions[enc.strip()] = prec.strip().lower()
    return make_spec(
        predictions=str(predictions), data=str(data), families=cfgs, model_precision=precisions, **fields
    )


def register(app: typer.Typer) -> None:
    @app.command("score")
    def score_cmd(
        ctx: typer.Context,
        predictions: Path = typer.Argument(
            None, help="predictions.jsonl: one {id, text|image|images|choice} per line."
        ),
        data: Path = typer.Option(None, "--data", help="A folder written by `rolescape build`."),
        spec_file: Path = typer.Option(
            None,
            "--spec",
            help="Rerun a run written down as data: a results.json (or its folder) or a ScoreSpec JSON. "
            "No other scoring flag may be given with it.",
        ),
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
        precision: str = typer.Option("auto", "--precision", help="auto, fp32, bf16 or fp16 (CUDA only)."),
        model_precision: list[str] = typer.Option(
            None, "--model-precision", help="ENCODER=PRECISION for one encoder, e.g. clip=fp16 (repeatable)."
        ),
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
            None, "--limit", help="Score only the first N items of each task (a partial run, marked so)."
        ),
        shard: str = typer.Option(
            None,
            "--shard",
            help="I/N: score every N-th item from I (job arrays); join the folders with `rolescape merge-runs`.",
        ),
        seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap interval."),
        bootstrap: int = typer.Option(1000, "--bootstrap", help="Bootstrap resamples (0: no interval)."),
        workers: int = typer.Option(0, "--workers", help="Image-decoding worker processes."),
        cache_dir: Path = typer.Option(None, "--cache-dir", help="Embedding cache folder."),
        no_progress: bool = typer.Option(False, "--no-progress", help="No progress bars."),
    ) -> None:
        """Score predictions against a built dataset: per-item scores, macro means, bootstrap intervals."""
        from rich.console import Console

        from rolescape.commands._progress import stage_progress
        from rolescape.errors import InputError
        from rolescape.io import check_out_dir
        from rolescape.metrics.engine import default_run_dir, distributed_rank, score

        con = _out_console()
        err = Console(stderr=True, highlight=False, soft_wrap=True)
        if spec_file is not None:
            given = [
                p.name
                for p in ctx.command.params
                if p.name not in ("spec_file", "out", "no_progress", "cache_dir")
                and p.name is not None
                and getattr(ctx.get_parameter_source(p.name), "name", "") == "COMMANDLINE"
            ]
            if given:
                raise InputError(
                    f"--spec runs the spec as written; drop {', '.join('--' + g for g in given)}"
                )
            spec = load_spec(spec_file)
        else:
            if predictions is None or data is None:
                raise InputError("give PREDICTIONS and --data (or --spec results.json)")
            spec = build_spec(
                predictions,
                data,
                families=_split_list(families),
                judge={
                    "url": judge_url,
                    "model": judge_model,
                    "key_env": judge_key_env,
                    "concurrency": judge_concurrency,
                    "timeout": judge_timeout,
                },
                options_permutation=options_permutation,
                model_precision=model_precision,
                tasks=_split_list(tasks),
                profile=profile,
                model_paths=_parse_models(model),
                device=device,
                precision=precision.strip().lower(),
                batch_size=batch_size,
                allow_partial=allow_partial,
                alpha=alpha,
                limit=limit,
                shard=shard,
                name=name or predictions.resolve().parent.name or predictions.stem,
                seed=seed,
                bootstrap=bootstrap,
                num_workers=workers,
            )
        run_name = spec.name or Path(spec.predictions).resolve().parent.name
        run_dir = check_out_dir(out if out is not None else default_run_dir(run_name))
        dist = distributed_rank()

        def warn_problems(problems: list[str]) -> None:
            err.print(
                f"[yellow]warning:[/] {len(problems)} invalid prediction line(s) left out (--allow-partial):"
            )
            for p in problems[:50]:
                err.print(f"  {p}")
            if len(problems) > 50:
                err.print(f"  ... and {len(problems) - 50} more (all listed in results.json 'problems')")

        def warn(line: str) -> None:
            err.print(f"[yellow]warning:[/] {line}")

        show = not no_progress and (dist is None or dist[0] == 0)
        with stage_progress(err, unit="items", enabled=show) as progress:
            res = score(
                spec,
                out_dir=run_dir,
                cache_dir=cache_dir,
                progress=progress,
                on_problems=warn_problems,
                on_warning=warn,
            )
        if dist is not None and res.shard is not None:
            con.print(
                f"rank {dist[0]}/{dist[1]} done: its items are in {run_dir}; the last rank to finish "
                "merges every rank's log into results.json"
            )
            return
        con.print(summary_table(res))
        for line in skipped_lines(res):
            con.print(f"[dim]{line}[/]", soft_wrap=False, overflow="fold")  # wrap, never crop the reason
        note = partial_note(res)
        if note:
            con.print(f"[bold yellow]{note}[/]")
        partial = [t for t, tr in res.tasks.items() if tr.coverage < 1]
        if partial and not res.partial:
            con.print(
                f"[yellow]partial coverage[/]: {', '.join(partial)} (missing items are not in the means)"
            )
        con.print(f"[green]results[/]: {run_dir / 'results.json'}  (per item: {run_dir / 'items.jsonl'})")

    @app.command("merge-runs")
    def merge_runs_cmd(
        runs: list[Path] = typer.Argument(..., help="The run folders of every --shard I/N of one job array."),
        out: Path = typer.Option(..., "--out", help="New run folder for the merged run."),
        cache_dir: Path = typer.Option(None, "--cache-dir", help="Embedding cache folder."),
    ) -> None:
        """Join the run folders of a --shard job array into one run (refuses gaps, overlaps, other specs)."""
        from rich.console import Console

        from rolescape.metrics.engine import merge_runs

        err = Console(stderr=True, highlight=False, soft_wrap=True)
        res = merge_runs(
            runs, out, cache_dir=cache_dir, on_warning=lambda line: err.print(f"[yellow]warning:[/] {line}")
        )
        con = _out_console()
        con.print(summary_table(res))
        con.print(f"[green]merged[/] {len(runs)} shard(s) into {out / 'results.json'}")

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
