"""The paper's reported numbers (`reported.json`), mapped to our (task, metric) columns with caveats."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class ReportedNumber:
    name: str
    reported: str
    unit: str
    task: str
    metric: str
    value: float
    comparable: bool
    note: str

    def describe(self) -> str:
        unit = " %" if self.unit == "%" else (f" ({self.unit})" if self.unit else "")
        scale = f" -> {self.value:g}" if self.unit == "%" else ""
        return f"{self.name}: reported {self.reported}{unit}{scale} as {self.task}/{self.metric}"


@dataclass(frozen=True)
class ReportedSet:
    label: str
    source: str
    source_doc: str
    entries: tuple[ReportedNumber, ...]

    def lookup(self, task: str, metric: str) -> ReportedNumber | None:
        for e in self.entries:
            if e.task == task and e.metric == metric:
                return e
        return None


def load_reported() -> ReportedSet:
    raw = json.loads(resources.files("rolescape.leaderboard").joinpath("reported.json").read_text("utf-8"))
    return ReportedSet(
        label=raw["label"],
        source=raw["source"],
        source_doc=raw["source_doc"],
        entries=tuple(ReportedNumber(**e) for e in raw["entries"]),
    )
