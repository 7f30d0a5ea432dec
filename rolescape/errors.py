"""Errors a user can cause. The CLI prints each as one red line and exits with code 2."""

from __future__ import annotations

from pathlib import Path


class RolescapeError(Exception):
    """Base class for user-facing errors: the message names the file, line or id at fault."""

    exit_code = 2


class InputError(RolescapeError):
    """Bad input data: a file, a line, a JSON path or an item id is named in the message."""

    def __init__(self, message: str, *, path: str | Path | None = None, where: str | None = None):
        self.path = str(path) if path is not None else None
        self.where = where
        prefix = ""
        if self.path:
            prefix = self.path + (f":{where}" if where else "") + ": "
        elif where:
            prefix = f"{where}: "
        super().__init__(prefix + message)
        self.detail = message


class SourceError(RolescapeError):
    """The build source cannot be used (missing, not the release, hub unreachable)."""


class OutputError(RolescapeError):
    """The output location cannot be written, or holds something we must not overwrite."""


class ValidationFailed(RolescapeError):
    """A built folder or a predictions file failed validation; the message lists the problems."""

    def __init__(self, problems: list[str], header: str = ""):
        self.problems = problems
        lines = ([header] if header else []) + problems
        super().__init__("\n".join(lines))


class UnknownNameError(RolescapeError, KeyError):
    """A registry lookup for a name that does not exist."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ModelUnavailable(RolescapeError):
    """A metric's model cannot be loaded; the metric is reported as skipped with this reason."""
