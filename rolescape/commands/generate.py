"""`rolescape generate` and `rolescape merge-predictions`: run a model adapter over a built dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer


def register(app: typer.Typer) -> None:
    @app.command("generate")
    def generate(
        adapter: str = typer.Option(
            ..., "--adapter", help="Model adapter: openai, hf, diffusers, compose, janus."
        ),
        model: str = typer.Option(..., "--model", help="Model id or path (what the adapter loads or names)."),
        data: Path = typer.Option(..., "--data", help="A folder written by `rolescape build`."),
        out: Path = typer.Option(
            ..., "--out", help="Output folder: predictions.jsonl, images/, generation.json."
        ),
        tasks: list[str] = typer.Option(
            None, "--tasks", help="Tasks (repeatable or comma list); default all."
        ),
        prompt_style: str = typer.Option(
            "release", "--prompt-style", help="release (SFT templates) or chat."
        ),
        k: int = typer.Option(4, "--k", min=1, help="Images per prompt for t2i_vqa."),
        seed: int = typer.Option(
            0, "--seed", help="Run seed; each item's seed is derived from it and its id."
        ),
        max_new_tokens: int = typer.Option(256, "--max-new-tokens", min=1, help="Text tokens per reply."),
        temperature: float = typer.Option(0.0, "--temperature", min=0.0, help="0 = greedy (default)."),
        top_p: float = typer.Option(1.0, "--top-p", min=0.0, max=1.0),
        steps: int = typer.Option(30, "--steps", min=1, help="Denoising steps (diffusers)."),
        guidance: float = typer.Option(5.0, "--guidance", help="Classifier-free guidance scale (images)."),
        shard: str = typer.Option(
            None, "--shard", help="i/n: generate every n-th batch starting at i (0-based)."
        ),
        adapter_option: list[str] = typer.Option(
            None, "--adapter-option", help="KEY=VALUE passed to the adapter (repeatable)."
        ),
        per_character: list[str] = typer.Option(
            None, "--per-character", help="TASK=N: only the first N items of each character (a partial run)."
        ),
        overwrite: bool = typer.Option(False, "--overwrite", help="Start again if --out holds another run."),
    ) -> None:
        """Generate predictions with a model; resumable, appends as it goes, records generation.json."""
        from rich.console import Console

        from rolescape.models.base import Sampling
        from rolescape.models.generate import GenerateSpec, parse_per_character, parse_shard, run_generate

        spec = GenerateSpec(
            adapter=adapter,
            model=model,
            data=data,
            out=out,
            tasks=tuple(tasks or ()),
            prompt_style=prompt_style,
            sampling=Sampling(
                max_new_tokens=max_new_tokens,
                temperature=temperature,
                top_p=top_p,
                seed=seed,
                k=k,
                num_inference_steps=steps,
                guidance_scale=guidance,
            ),
            shard=parse_shard(shard),
            options=tuple(adapter_option or ()),
            overwrite=overwrite,
            per_character=parse_per_character(per_character),
        )
        con = Console(stderr=True, highlight=False, soft_wrap=True)
        with _generate_progress(con) as progress:
            rep = run_generate(spec, progress=progress)
        out_con = Console(highlight=False, soft_wrap=True)
        new = sum(rep.written.values())
        state = "complete" if rep.complete else "PARTIAL"
        out_con.print(
            f"[bold]{adapter}[/] {model}: {new} new predictions -> {rep.out / 'predictions.jsonl'} ({state})"
        )
        for task, n in rep.total.items():
            out_con.print(f"  {task}: {n}")
        for task, why in rep.skipped.items():
            out_con.print(f"  [dim]{task}: skipped - {why}[/]")

    @app.command("merge-predictions")
    def merge(
        dirs: list[Path] = typer.Argument(..., help="The shard folders of one generate run."),
        out: Path = typer.Option(..., "--out", help="Folder for the merged predictions."),
        data: Path = typer.Option(
            None, "--data", help="The built dataset (default: the one the run recorded)."
        ),
        overwrite: bool = typer.Option(False, "--overwrite"),
    ) -> None:
        """Join `generate --shard` outputs; refuses missing or duplicated ids and mixed runs."""
        from rich.console import Console

        from rolescape.models.generate import merge_predictions

        rep = merge_predictions(dirs, out, data=data, overwrite=overwrite)
        Console(highlight=False).print(
            f"merged {rep.shards} shards: {rep.lines} predictions, {rep.images} images -> {rep.out}"
        )


class _generate_progress:  # noqa: N801 - used as a context manager
    """A rich bar with items/s and tokens/s (or images/s), fed by run_generate's progress events."""

    def __init__(self, console: Any):
        self.console = console

    def __enter__(self) -> Any:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(
            TextColumn("{task.description:<14}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            console=self.console,
            disable=not self.console.is_terminal,
        )
        self.bar.__enter__()
        self.task_id: Any = None
        return self.update

    def update(self, ev: dict[str, Any]) -> None:
        el = max(ev["elapsed"], 1e-9)
        parts = [f"{ev['new'] / el:.2f} items/s"]
        if ev.get("tokens"):
            parts.append(f"{ev['tokens'] / el:.1f} tok/s")
        if ev.get("images"):
            parts.append(f"{ev['images'] / el:.2f} img/s")
        rate = " ".join(parts)
        if self.task_id is None:
            self.task_id = self.bar.add_task("generate", total=ev["total"], rate=rate)
        self.bar.update(
            self.task_id, completed=ev["done"], total=ev["total"], description=ev["task"], rate=rate
        )

    def __exit__(self, *exc: Any) -> None:
        self.bar.__exit__(*exc)
