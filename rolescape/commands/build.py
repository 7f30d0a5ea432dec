"""build, validate, push, schema: the dataset half of the CLI."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

console = Console()
LEGACY_NOTE = (
    "built by an older rolescape (data files not named by content): `datasets.load_dataset` may serve "
    "a stale cached copy after a rebuild; rebuild it with `rolescape build --overwrite`"
)


def register(app: typer.Typer) -> None:
    @app.command("build")
    def build_cmd(
        source: str = typer.Option(
            ...,
            "--source",
            "-s",
            help="Release root or its data/personalized_data folder, "
            "hf://datasets/Tangc03/RoleScape20, or 'demo'.",
        ),
        out: Path = typer.Option(..., "--out", "-o", help="Output folder (a Hugging Face dataset folder)."),
        strict: bool = typer.Option(
            False, "--strict", help="Fail on any error-level audit finding instead of repairing."
        ),
        overwrite: bool = typer.Option(
            False, "--overwrite", help="Replace an existing, different build at --out."
        ),
    ) -> None:
        """Build an audited, typed, Hub-ready dataset from the raw release (or your own character)."""
        import time

        from rolescape.builders.build import build
        from rolescape.commands._progress import stage_progress

        t0 = time.perf_counter()
        with stage_progress() as progress:
            res = build(source, out, strict=strict, overwrite=overwrite, progress=progress)
        m = res.manifest
        if res.unchanged:
            console.print(f"[green]up to date[/]: {out} already holds build {m['build_id'][:12]}")
            return
        sev = res.n_findings
        console.print(
            f"[green]built[/] {out}  (build {m['build_id'][:12]}, source {m['source']['identity']}, "
            f"{time.perf_counter() - t0:.1f}s)"
        )
        console.print(
            f"audit: {sev.get('error', 0)} errors, {sev.get('warning', 0)} warnings, "
            f"{sev.get('info', 0)} info — repaired and recorded in {out / 'audit.jsonl'}"
        )
        t = Table("task config", "items", box=None)
        from rolescape.schemas import TASKS

        for task in TASKS:
            t.add_row(task, str(m["counts"].get(f"{task}/test", 0)))
        console.print(t)

    @app.command("validate")
    def validate_cmd(path: Path = typer.Argument(..., help="A folder written by `rolescape build`.")) -> None:
        """Check a built folder against its manifest and schemas; name every changed/missing/corrupt file."""
        from rolescape.builders.validate import validate_or_raise

        m = validate_or_raise(path)
        console.print(
            f"[green]ok[/]: {path} matches its manifest ({len(m['files'])} files, build {m['build_id'][:12]})"
        )
        if "data_files" not in m:
            console.print(f"[yellow]note[/]: {LEGACY_NOTE}")

    @app.command("push")
    def push_cmd(
        path: Path = typer.Argument(..., help="A folder written by `rolescape build`."),
        repo_id: str = typer.Option(..., "--repo-id", help="<owner>/<name> of the dataset repo."),
        private: bool = typer.Option(False, "--private"),
        revision: str | None = typer.Option(None, "--revision", help="Branch to push to."),
        create_pr: bool = typer.Option(
            False, "--create-pr", help="Open a pull request instead of committing."
        ),
        dry_run: bool = typer.Option(
            False, "--dry-run", help="List exactly what would be uploaded; no network."
        ),
        token_env: str | None = typer.Option(
            None,
            "--token-env",
            help="Read the token from this environment variable (default: HF_TOKEN or huggingface_hub's stored token).",
        ),
    ) -> None:
        """Upload a built folder to the Hugging Face Hub (token from HF_TOKEN or huggingface-cli login)."""
        from rolescape.builders.hub import plan_upload, push
        from rolescape.hub import report_lines, resolve_token

        plan = plan_upload(path, repo_id, revision=revision, private=private, create_pr=create_pr)
        if dry_run:
            lines = report_lines(plan, resolve_token(token_env)[1], dry_run=True)
        else:
            url, where = push(path, plan, token_env=token_env)
            lines = report_lines(plan, where, dry_run=False, commit_url=url)
        for line in lines:
            console.print(line, markup=False, highlight=False, soft_wrap=True)

    @app.command("schema")
    def schema_cmd(
        out: Path = typer.Option(Path("schemas"), "--out", "-o", help="Folder for *.schema.json."),
    ) -> None:
        """Export the JSON Schemas of every record rolescape reads or writes."""
        from rolescape.schemas import export_json_schemas

        paths = export_json_schemas(out)
        console.print(f"wrote {len(paths)} JSON Schemas to {out}")
