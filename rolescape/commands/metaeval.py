"""`rolescape meta-eval`: run the baselines through the scorer and check every metric (protocol v2)."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("meta-eval")
    def meta_eval_cmd(
        data: Path = typer.Option(..., "--data", help="A folder written by `rolescape build`."),
        out: Path = typer.Option(
            ..., "--out", help="Output folder: meta_eval.json/.md/.png, baselines/, runs/."
        ),
        profile: str = typer.Option("offline", "--profile", help="Metric profile: offline or paper."),
        tasks: list[str] = typer.Option(
            None, "--tasks", help="Tasks (repeatable or comma list); default all."
        ),
        seed: int = typer.Option(0, "--seed", help="Seed of the shuffled baseline and of the bootstrap."),
        bootstrap: int = typer.Option(1000, "--bootstrap", help="Paired-bootstrap resamples."),
        batch_size: int = typer.Option(32, "--batch-size"),
        cache_dir: Path = typer.Option(None, "--cache-dir", help="Embedding cache root."),
    ) -> None:
        """Discriminability, copy-robustness, ordering and MCQ floor gaps of every metric."""
        from rich.console import Console

        from rolescape.baselines.metaeval import MD_FILE, meta_eval
        from rolescape.commands._progress import stage_progress
        from rolescape.commands.score import _split_list
        from rolescape.errors import InputError

        if bootstrap < 1:
            raise InputError(f"--bootstrap must be at least 1 (got {bootstrap})")
        err = Console(stderr=True, highlight=False)
        with stage_progress(err, unit="items", enabled=err.is_terminal) as progress:
            doc = meta_eval(
                data,
                out,
                profile=profile,
                tasks=_split_list(tasks),
                seed=seed,
                n_resamples=bootstrap,
                batch_size=batch_size,
                cache_dir=cache_dir,
                progress=progress,
                on_stage=lambda s: err.print(f"[dim]meta-eval: {s}[/]"),
            )
        n = sum(len(m) for m in doc["tasks"].values())
        bad = sorted(
            f"{t}/{m}"
            for t, ms in doc["tasks"].items()
            for m, r in ms.items()
            if r["declared_headline"] and r["eligible"] is False
        )
        con = Console(highlight=False, soft_wrap=True)
        con.print(f"meta-eval of {n} task metrics -> {Path(out) / MD_FILE}")
        if bad:
            con.print(
                "[yellow]declared headline metrics that fail copy-robustness or ordering:[/] "
                + ", ".join(bad)
            )
