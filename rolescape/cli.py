"""The `rolescape` command line: thin wiring over library functions, errors as one red line + exit 2."""

from __future__ import annotations

import importlib
import sys

import typer
from rich.console import Console

from rolescape import __version__
from rolescape.errors import RolescapeError

app = typer.Typer(
    name="rolescape",
    help="Audited RoleScape-20 data, reproducible metrics and leaderboards for multimodal role-play.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

# Each module registers its own commands (`register(app)`); every one of them must import.
COMMAND_MODULES = (
    "rolescape.commands.build",  # build, validate, push, schema
    "rolescape.commands.score",  # score, merge-runs, validate-predictions, shuffle-options
    "rolescape.commands.baseline",  # baseline
    "rolescape.commands.leaderboard",  # leaderboard, push-results
    "rolescape.commands.metaeval",  # meta-eval
    "rolescape.commands.generate",  # generate, merge-predictions
    "rolescape.commands.train",  # train sft, train grpo
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"rolescape {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """rolescape: build, score and compare Customized Multimodal Role-Play benchmarks."""


for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning RolescapeError into one red line and exit code 2."""
    try:
        app(args=argv, standalone_mode=False)
    except RolescapeError as e:
        msg = str(e).replace("[", "\\[")
        first, *rest = msg.splitlines() or [""]
        err_console.print(f"[bold red]error:[/] {first}")
        for line in rest:
            err_console.print(f"  {line}")
        return e.exit_code
    except typer.Exit as e:
        return e.exit_code
    except typer.Abort:
        err_console.print("[red]aborted[/]")
        return 130
    except KeyboardInterrupt:
        err_console.print("[red]interrupted[/]: partial outputs were not moved into place")
        return 130
    except Exception as e:  # click usage errors come through here in non-standalone mode
        if isinstance(e, _click_errors()):
            e.show()  # type: ignore[attr-defined]
            return 2
        raise
    return 0


def _click_errors() -> tuple[type[Exception], ...]:
    """Usage-error classes: click's, and those of the copy of click that newer typer releases carry
    (`typer._click`), whose errors are not click's (an unknown option was a traceback)."""
    kinds: list[type[Exception]] = []
    for module in ("click.exceptions", "typer._click.exceptions"):
        try:
            kinds.append(importlib.import_module(module).ClickException)
        except (ImportError, AttributeError):
            continue
    return tuple(kinds)


if __name__ == "__main__":
    sys.exit(main())
