"""The one place that draws progress: a rich adapter for the library's progress(stage, done, total).

The library (builders, the scoring engine) only calls the callback; bars are drawn here, on stderr,
and only when stderr is a terminal (or `force`), so logs and pipes get no control characters.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class _Speed(ProgressColumn):
    """Units per second of this session's work (resumed units are not counted as speed)."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Any) -> Text:
        s = task.finished_speed or task.speed
        if not s and task.elapsed:
            s = (task.completed - task.fields.get("resumed", 0)) / task.elapsed or None
        return Text(f"{s:.1f} {self.unit}/s" if s else f"- {self.unit}/s", style="progress.data.speed")


@contextlib.contextmanager
def stage_progress(
    console: Console | None = None, *, unit: str | None = None, enabled: bool = True
) -> Iterator[Callable[[str, int, int], None]]:
    """Yield a progress(stage, done, total) callback that draws one bar per stage.

    `unit` adds a speed column (e.g. "items"); `enabled=False` yields a callback that draws nothing.
    """
    console = console or Console(stderr=True)
    tasks: dict[str, TaskID] = {}
    columns: list[ProgressColumn] = [TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn()]
    if unit:
        columns.append(_Speed(unit))
    columns.append(TimeElapsedColumn())
    if unit:
        columns.append(TimeRemainingColumn())
    with Progress(
        *columns, console=console, transient=False, disable=not (enabled and console.is_terminal)
    ) as bar:

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total, completed=done, resumed=done)
            bar.update(tasks[stage], completed=done, total=total)

        yield update
