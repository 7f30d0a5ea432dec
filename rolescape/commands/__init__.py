"""CLI command modules. Each module defines `register(app: typer.Typer) -> None`; cli.py wires them."""
