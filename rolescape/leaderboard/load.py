"""Load results files (or run folders) and their per-item logs, refusing what cannot be compared.

Every problem a user can cause is an `InputError` naming the file: malformed JSON with line:col, the
first schema field that fails, a truncated items.jsonl line, an empty set, or runs from different
protocol versions / dataset manifests (unless `allow_mixed`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from rolescape.errors import InputError
from rolescape.io import read_jsonl, resolve_inside
from rolescape.schemas.results import ItemScore, Results

RESULTS_NAME = "results.json"


@dataclass
class Run:
    """One scored system: its results, and per-item scores keyed by (task, item id) when available."""

    label: str
    path: Path
    results: Results
    items: dict[tuple[str, str], ItemScore] | None = None
    items_note: str | None = None

    @property
    def protocol_version(self) -> str:
        return self.results.provenance.protocol_version

    @property
    def manifest_sha256(self) -> str:
        return self.results.dataset.manifest_sha256

    def item_values(self, task: str, metric: str) -> dict[str, float]:
        """Item id -> value of `metric` on `task` (items where it does not apply are left out)."""
        if self.items is None:
            return {}
        out: dict[str, float] = {}
        for (t, iid), s in self.items.items():
            if t == task:
                v = s.metrics.get(metric)
                if v is not None:
                    out[iid] = float(v)
        return out


@dataclass
class RunSet:
    runs: list[Run]
    mixed: list[str] = field(default_factory=list)  # what differs, when --allow-mixed let it through

    @property
    def protocol_versions(self) -> list[str]:
        return sorted({r.protocol_version for r in self.runs})

    @property
    def manifests(self) -> list[str]:
        return sorted({r.manifest_sha256 for r in self.runs})

    @property
    def profiles(self) -> list[str]:
        return sorted({r.results.config.profile for r in self.runs})


def resolve_results_path(p: str | Path) -> Path:
    path = Path(p)
    if path.is_dir():
        cand = path / RESULTS_NAME
        if not cand.is_file():
            raise InputError(f"run folder has no {RESULTS_NAME}", path=path)
        return cand
    if not path.is_file():
        raise InputError("no such results file or run folder", path=path)
    return path


def _schema_error(e: ValidationError) -> str:
    errs = e.errors()
    first = errs[0]
    loc = ".".join(str(x) for x in first["loc"]) or "(top level)"
    more = f" (and {len(errs) - 1} more problem{'s' if len(errs) > 2 else ''})" if len(errs) > 1 else ""
    return f"schema: field {loc}: {first['msg']}{more}"


def load_results(path: str | Path) -> Results:
    path = resolve_results_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"not UTF-8 text (byte {e.start})", path=path) from None
    if not text.strip():
        raise InputError("empty results file", path=path)
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        hint = " (truncated?)" if e.pos >= len(text.rstrip()) else ""
        raise InputError(f"malformed JSON: {e.msg}{hint}", path=path, where=f"{e.lineno}:{e.colno}") from None
    if not isinstance(obj, dict):
        raise InputError(f"schema: expected a JSON object, found {type(obj).__name__}", path=path)
    try:
        return Results.model_validate(obj)
    except ValidationError as e:
        raise InputError(_schema_error(e), path=path) from None


def load_items(path: Path) -> dict[tuple[str, str], ItemScore]:
    """Per-item scores; a later line for the same (task, id) replaces an earlier one (resumed runs)."""
    out: dict[tuple[str, str], ItemScore] = {}
    for lineno, obj in read_jsonl(path):
        try:
            s = ItemScore.model_validate(obj)
        except ValidationError as e:
            raise InputError(_schema_error(e), path=path, where=str(lineno)) from None
        out[(s.task, s.id)] = s
    return out


def load_run(path: str | Path, *, with_items: bool = True) -> Run:
    rpath = resolve_results_path(path)
    res = load_results(rpath)
    run = Run(label=res.model_name, path=rpath, results=res)
    if with_items:
        ipath = resolve_inside(rpath.parent, res.items_file, what="items_file", path=rpath, root_name="its run folder")
        if ipath.is_file():
            run.items = load_items(ipath)
        else:
            run.items_note = f"{ipath.name} not found beside {rpath.name}: no significance tests for this run"
    return run


def _unique_labels(runs: list[Run]) -> None:
    """Runs sharing a model name are labelled by the shortest tail of their folder path that tells them apart."""
    groups: dict[str, list[Run]] = {}
    for r in runs:
        groups.setdefault(r.label, []).append(r)
    for name, group in groups.items():
        if len(group) < 2:
            continue
        parts = [r.path.resolve().parent.parts for r in group]
        for k in range(1, max(len(p) for p in parts) + 1):
            tails = ["/".join(p[-k:]) for p in parts]
            if len(set(tails)) == len(tails):
                for r, tail in zip(group, tails, strict=True):
                    r.label = f"{name} [{tail}]"
                break
        else:
            for i, r in enumerate(group, 1):
                r.label = f"{name} #{i}"


def load_runs(paths: list[str | Path], *, allow_mixed: bool = False, with_items: bool = True) -> RunSet:
    if not paths:
        raise InputError("no results given: pass one or more results.json files or run folders")
    runs = [load_run(p, with_items=with_items) for p in paths]
    _unique_labels(runs)
    rs = RunSet(sorted(runs, key=lambda r: r.label))  # outputs do not depend on the order of arguments
    mixed: list[str] = []
    for what, values, get in (
        ("protocol versions", rs.protocol_versions, lambda r: r.protocol_version),
        ("dataset manifest hashes", rs.manifests, lambda r: r.manifest_sha256[:12]),
    ):
        if len(values) > 1:
            listing = "; ".join(f"{r.path}: {get(r)}" for r in runs)
            mixed.append(f"different {what}: {listing}")
    if mixed and not allow_mixed:
        raise InputError(
            "results are not comparable (" + " | ".join(mixed) + "); pass --allow-mixed to compare anyway"
        )
    rs.mixed = mixed
    return rs
