"""`rolescape baseline`: predictions that need no trained model (ceilings, floors, retrieval)."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    from rolescape.baselines import BASELINES

    names = ", ".join(BASELINES.names())

    @app.command("baseline")
    def baseline(
        name: str = typer.Argument(..., help=f"Baseline to run: {names}."),
        data: Path = typer.Option(..., "--data", help="A folder written by `rolescape build`."),
        out: Path = typer.Option(
            ..., "--out", help="Predictions file to write (JSONL); images go to <stem>_images/."
        ),
        seed: int = typer.Option(0, "--seed", help="Seed of the character derangement (`shuffled`)."),
        tasks: list[str] = typer.Option(
            None, "--tasks", help="Tasks to answer (repeatable or comma list); default all."
        ),
    ) -> None:
        """Write the predictions of a baseline on a built dataset (deterministic for a given seed)."""
        from rich.console import Console

        from rolescape.baselines import run_baseline

        rep = run_baseline(name, data, out, seed=seed, tasks=tasks)
        con = Console(highlight=False, soft_wrap=True)
        total = sum(rep.written.values())
        con.print(
            f"[bold]{rep.name}[/]: {total} predictions -> {rep.out}"
            + (f" ({rep.n_images} images in {rep.images_dir.name}/)" if rep.images_dir else "")
        )
        for task, n in rep.written.items():
            miss = rep.unanswered.get(task)
            con.print(f"  {task}: {n}" + (f" ({miss} left unanswered: no train material)" if miss else ""))
        for task, why in rep.skipped.items():
            con.print(f"  [dim]{task}: skipped - {why}[/]")
        if rep.skipped:
            con.print(
                "[dim]skipped tasks have no lines: `rolescape score` scores the tasks that have predictions[/]"
            )
