"""`rolescape train sft|grpo --config FILE.yaml [--resume]`: the reference trainer."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    train = typer.Typer(
        help="Train a character into a unified model: Unified-SFT, then Character-GRPO.", no_args_is_help=True
    )

    def _run(stage: str, config: Path, resume: bool) -> None:
        from rich.console import Console

        from rolescape.commands._progress import stage_progress
        from rolescape.trainer.config import load_config

        cfg = load_config(config, stage)
        con = Console(highlight=False, soft_wrap=True)
        with stage_progress() as progress:
            if stage == "sft":
                from rolescape.trainer.sft import train_sft

                res = train_sft(cfg, resume=resume, progress=progress)  # type: ignore[arg-type]
                last = f"final loss {res.losses[-1]:.4f}" if res.losses else "nothing left to do"
            else:
                from rolescape.trainer.grpo import train_grpo

                res2 = train_grpo(cfg, resume=resume, progress=progress)  # type: ignore[arg-type]
                res = res2  # type: ignore[assignment]
                last = f"last mean reward {res2.rewards[-1]:.4f}" if res2.rewards else "nothing left to do"
        start = f" (resumed from step {res.resumed_from})" if res.resumed_from is not None else ""
        con.print(
            f"[bold]{stage}[/]: {res.steps} steps{start}, {last}; model -> {res.final}; log -> {Path(res.out) / 'log.jsonl'}"
        )

    @train.command("sft")
    def sft(
        config: Path = typer.Option(..., "--config", help="Trainer YAML (stage: sft)."),
        resume: bool = typer.Option(False, "--resume", help="Continue from the last checkpoint in `out`."),
    ) -> None:
        """Stage 1, Unified-SFT on one character's train split."""
        _run("sft", config, resume)

    @train.command("grpo")
    def grpo(
        config: Path = typer.Option(..., "--config", help="Trainer YAML (stage: grpo)."),
        resume: bool = typer.Option(False, "--resume", help="Continue from the last checkpoint in `out`."),
    ) -> None:
        """Stage 2, Character-GRPO with rewards from rolescape's metrics."""
        _run("grpo", config, resume)

    app.add_typer(train, name="train")
