"""`rolescape leaderboard` (tables and plots from results files) and `rolescape push-results` (to the Hub)."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("leaderboard")
    def leaderboard(
        results: list[Path] = typer.Argument(None, help="results.json files or run folders holding one."),
        fmt: list[str] = typer.Option(
            ["md"], "--format", "-f", help="md, latex, csv, html, parquet (repeatable or comma list)."
        ),
        out: Path = typer.Option(..., "--out", help="Folder for leaderboard.* and plots/."),
        allow_mixed: bool = typer.Option(
            False, "--allow-mixed", help="Compare runs of different protocol versions or datasets anyway."
        ),
        allow_partial_runs: bool = typer.Option(
            False,
            "--allow-partial-runs",
            help="Rank runs scored under --limit/--shard beside full runs (they stay marked partial).",
        ),
        no_reported: bool = typer.Option(
            False, "--no-reported", help="Leave out the paper's reported numbers."
        ),
        no_plots: bool = typer.Option(
            False, "--no-plots", help="Write no PNG files (HTML still embeds plots)."
        ),
        headline: list[str] = typer.Option(
            None, "--headline", help="TASK=METRIC: the metric shown for a task in the overall table."
        ),
        bootstrap: int = typer.Option(1000, "--bootstrap", min=100, help="Paired-bootstrap resamples."),
        seed: int = typer.Option(0, "--seed", help="Seed of the paired bootstrap."),
        alpha: float = typer.Option(0.05, "--alpha", min=0.0, max=1.0, help="Significance level."),
    ) -> None:
        """Overall, per-task and per-character tables with 95% intervals, ranks and significance."""
        from rich.console import Console
        from rich.markup import escape

        from rolescape.io import check_out_dir
        from rolescape.leaderboard import make_leaderboard, parse_headline

        res = make_leaderboard(
            list(results or []),
            check_out_dir(out),
            formats=fmt,
            allow_mixed=allow_mixed,
            allow_partial_runs=allow_partial_runs,
            reported=not no_reported,
            plots=not no_plots,
            n_resamples=bootstrap,
            seed=seed,
            alpha=alpha,
            headline=parse_headline(headline),
        )
        con = Console(highlight=False, soft_wrap=True)
        lb = res.leaderboard
        con.print(f"{len(lb.runs)} runs, {len(lb.tasks)} tasks -> {out}", markup=False)
        for row in lb.overall.rows:
            if not row.reported:  # a model name is printed as text, one line, never as rich markup
                con.print(f"  {row.stub[0]:>2}  {' '.join(row.key.splitlines())}", markup=False)
        for p in res.files:
            if p.suffix != ".png":
                con.print(f"  wrote {p}", markup=False)
        n_png = sum(1 for p in res.files if p.suffix == ".png")
        if n_png:
            con.print(f"  wrote {n_png} plots in {out / 'plots'}", markup=False)
        for m in lb.runset.mixed:
            con.print("[yellow]warning:[/] " + escape(m))
        for r in lb.runset.partial_runs:
            con.print(
                "[yellow]warning:[/] "
                + escape(f"{' '.join(r.label.splitlines())} is a partial run ({r.partial_reason()})")
            )

    @app.command("push-results")
    def push_results_cmd(
        run_dir: Path = typer.Argument(
            ..., help="A run folder written by `rolescape score` (results.json + items.jsonl)."
        ),
        repo_id: str = typer.Option(..., "--repo-id", help="Hub dataset repository, owner/name."),
        dry_run: bool = typer.Option(
            False, "--dry-run", help="List exactly what would be uploaded; no network."
        ),
        private: bool = typer.Option(False, "--private", help="Create the repository private."),
        token_env: str = typer.Option(
            None,
            "--token-env",
            help="Read the token from this environment variable (default: HF_TOKEN or "
            "huggingface_hub's stored token).",
        ),
    ) -> None:
        """Upload a run's results and per-item scores to a Hub dataset repo, with a generated card."""
        from rich.console import Console

        from rolescape.hub import report_lines
        from rolescape.leaderboard.hub import push_results

        rep = push_results(run_dir, repo_id, dry_run=dry_run, private=private, token_env=token_env)
        con = Console(highlight=False, soft_wrap=True)
        for line in report_lines(rep.plan, rep.token_source, dry_run=rep.dry_run, commit_url=rep.commit_url):
            con.print(line, markup=False)
