"""Load results files (or run folders) and their per-item logs, refusing what cannot be compared.

Every problem a user can cause is an `InputError` naming the file: malformed JSON with line:col, the
first schema field that fails, a NaN or infinite number (with its field path), a truncated
items.jsonl line, an empty set, runs from different protocol versions / dataset manifests (unless
`allow_mixed`), or a partial run (`--limit` / `--shard`) beside full runs (unless
`allow_partial_runs`).

For the leaderboard, items.jsonl is validated in one pass by pydantic-core against the same schema as
`ItemScore` and kept as a small long polars frame (task, character, item_id, metric, value); only
when that pass fails is the file re-read line by line, to name the line and field at fault.
"""

from __future__ import annotations

import gc
import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NotRequired

from pydantic import ConfigDict, TypeAdapter, ValidationError, with_config
from typing_extensions import TypedDict  # pydantic needs this one on Python 3.11

from rolescape.errors import InputError
from rolescape.io import read_jsonl, resolve_inside
from rolescape.schemas.results import ItemScore, Results

if TYPE_CHECKING:
    import polars as pl

RESULTS_NAME = "results.json"
PARTIAL_MARK = " (partial)"  # appended to the label of a run scored under --limit or --shard


@dataclass
class Run:
    """One scored system: its results, and per-item scores keyed by (task, item id) when available."""

    label: str
    path: Path
    results: Results
    items: dict[tuple[str, str], ItemScore] | None = None
    items_note: str | None = None
    # the leaderboard's form of the same log: (task, character, item_id, metric, value), last line wins
    item_frame: pl.DataFrame | None = None

    @property
    def has_items(self) -> bool:
        return self.items is not None or self.item_frame is not None

    @property
    def partial(self) -> bool:
        """Scored on a subset of the items (`--limit` or `--shard`): not comparable to a full run."""
        r = self.results
        return bool(r.partial) or r.limit is not None or r.shard is not None

    def partial_reason(self) -> str:
        r = self.results
        parts = [f"--limit {r.limit}" if r.limit is not None else "", f"--shard {r.shard}" if r.shard else ""]
        return ", ".join(p for p in parts if p) or "a subset of the items"

    @property
    def protocol_version(self) -> str:
        return self.results.provenance.protocol_version

    @property
    def manifest_sha256(self) -> str:
        return self.results.dataset.manifest_sha256

    def item_values(self, task: str, metric: str) -> dict[str, float]:
        """Item id -> value of `metric` on `task` (items where it does not apply are left out)."""
        if self.item_frame is not None:
            import polars as pl

            f = self.item_frame.filter(
                (pl.col("task") == task) & (pl.col("metric") == metric) & pl.col("value").is_not_null()
            )
            return dict(zip(f["item_id"].to_list(), f["value"].to_list(), strict=True))
        if self.items is None:
            return {}
        return {
            iid: float(v)
            for (t, iid), s in self.items.items()
            if t == task and (v := s.metrics.get(metric)) is not None
        }


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

    @property
    def partial_runs(self) -> list[Run]:
        return [r for r in self.runs if r.partial]


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


def non_finite_path(obj: Any, prefix: str = "") -> str | None:
    """The dotted path of the first NaN or +-Infinity in a parsed JSON value (json.loads accepts them)."""
    if isinstance(obj, float):
        return None if math.isfinite(obj) else (prefix or "(top level)")
    if isinstance(obj, dict):
        items: Any = obj.items()
    elif isinstance(obj, list):
        items = enumerate(obj)
    else:
        return None
    for k, v in items:
        if (found := non_finite_path(v, f"{prefix}.{k}" if prefix else str(k))) is not None:
            return found
    return None


def _refuse_non_finite(obj: Any, path: Path, where: str | None = None) -> None:
    bad = non_finite_path(obj)
    if bad is not None:
        raise InputError(
            f"schema: field {bad}: NaN or infinite number (only finite numbers can be ranked)",
            path=path,
            where=where,
        )


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
    _refuse_non_finite(obj, path)
    try:
        return Results.model_validate(obj)
    except ValidationError as e:
        raise InputError(_schema_error(e), path=path) from None


def load_items(path: Path) -> dict[tuple[str, str], ItemScore]:
    """Per-item scores; a later line for the same (task, id) replaces an earlier one (resumed runs)."""
    out: dict[tuple[str, str], ItemScore] = {}
    try:
        for lineno, obj in read_jsonl(path):
            _refuse_non_finite(obj, path, str(lineno))
            try:
                s = ItemScore.model_validate(obj)
            except ValidationError as e:
                raise InputError(_schema_error(e), path=path, where=str(lineno)) from None
            out[(s.task, s.id)] = s
    except UnicodeDecodeError as e:
        raise InputError(f"not UTF-8 text (byte {e.start})", path=path) from None
    return out


@with_config(ConfigDict(extra="forbid", allow_inf_nan=False))
class _FamilyLine(TypedDict):
    """FamilyScore's fields and types (one family's part of a line)."""

    key: str
    metrics: dict[str, float | None]
    info: NotRequired[dict[str, str | int | float | bool | None]]


@with_config(ConfigDict(extra="forbid", allow_inf_nan=False))
class _ItemLine(TypedDict):
    """ItemScore's fields and types, for one-pass validation of a whole log by pydantic-core (a line
    the engine writes carries `families` and `check`: without them here, every real log would take
    the line-by-line path)."""

    id: str
    task: str
    character: str
    key: str
    metrics: dict[str, float | None]
    info: NotRequired[dict[str, str | int | float | bool | None]]
    families: NotRequired[dict[str, _FamilyLine]]
    check: NotRequired[str | None]


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a log's rows are built: they are acyclic dicts and lists
    (reference counting frees them), and a collection every few hundred thousand of them is a third
    of the load time."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@cache
def _lines_adapter() -> TypeAdapter[list[_ItemLine]]:
    return TypeAdapter(list[_ItemLine])


ITEM_FRAME_SCHEMA: dict[str, str] = {  # column -> polars dtype name, documented in rolescape.analysis
    "task": "String",
    "character": "String",
    "item_id": "String",
    "metric": "String",
    "value": "Float64",
}


def load_item_frame(path: Path) -> pl.DataFrame:
    """items.jsonl as a long frame, one row per (item, metric); a later line for an item replaces an
    earlier one (in the place of the first). `value` is null where the metric does not apply. Any
    problem is reported by `load_items`, which names the line."""
    with _gc_paused():
        return _item_frame(path, path.read_bytes())


def _item_frame(path: Path, raw: bytes) -> pl.DataFrame:
    from itertools import chain
    from operator import itemgetter

    import numpy as np
    import polars as pl

    lines = [ln for ln in map(bytes.strip, raw.split(b"\n")) if ln]
    joined = b"\n".join(lines)
    # one object per line, exactly: joining lines with commas must not let a line hold two items
    one_each = not lines or (
        joined[:1] == b"{" and joined[-1:] == b"}" and joined.count(b"\n") == joined.count(b"}\n{")
    )
    try:
        rows: list[Any] = list(_lines_adapter().validate_json(b"[" + b",".join(lines) + b"]"))
    except ValidationError:
        rows = []
    if not one_each or len(rows) != len(lines):
        rows = [s.model_dump() for s in load_items(path).values()]  # raises, naming the line
    cols = {"task": "task", "character": "character", "item_id": "id"}
    base = pl.DataFrame(
        {c: list(map(itemgetter(k), rows)) for c, k in cols.items()}, schema=dict.fromkeys(cols, pl.String)
    ).with_row_index("line")
    if base.select(pl.struct("task", "item_id").n_unique()).item() < base.height:  # resumed: last wins
        last = base.group_by("task", "item_id", maintain_order=True).agg(pl.col("line").last())["line"]
        rows = list(map(rows.__getitem__, last.to_list()))
        base = base[last]
    metrics = list(map(itemgetter("metrics"), rows))
    repeat = np.repeat(np.arange(len(rows)), list(map(len, metrics)))
    return base.drop("line")[repeat].with_columns(
        metric=pl.Series(list(chain.from_iterable(metrics)), dtype=pl.String),
        value=pl.Series(list(chain.from_iterable(map(dict.values, metrics))), dtype=pl.Float64),
    )


def load_run(path: str | Path, *, with_items: bool = True, as_frame: bool = False) -> Run:
    """One run; its per-item log as `ItemScore`s (`items`), or with `as_frame` as a polars frame."""
    rpath = resolve_results_path(path)
    res = load_results(rpath)
    run = Run(label=res.model_name, path=rpath, results=res)
    if with_items:
        ipath = resolve_inside(
            rpath.parent, res.items_file, what="items_file", path=rpath, root_name="its run folder"
        )
        if ipath.is_file():
            if as_frame:
                run.item_frame = load_item_frame(ipath)
            else:
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


def load_runs(
    paths: list[str | Path],
    *,
    allow_mixed: bool = False,
    with_items: bool = True,
    allow_partial_runs: bool = False,
) -> RunSet:
    """Load and check that the runs can be ranked together; partial runs get `PARTIAL_MARK` in their label."""
    if not paths:
        raise InputError("no results given: pass one or more results.json files or run folders")
    runs = [load_run(p, with_items=with_items, as_frame=True) for p in paths]
    partial = [r for r in runs if r.partial]
    if partial and len(partial) < len(runs) and not allow_partial_runs:
        r = partial[0]
        more = f" (and {len(partial) - 1} more)" if len(partial) > 1 else ""
        raise InputError(
            f"partial run ({r.partial_reason()}){more} cannot be ranked beside full runs; "
            "pass --allow-partial-runs to rank it anyway (it is marked partial)",
            path=r.path,
        )
    _unique_labels(runs)
    for r in partial:
        r.label += PARTIAL_MARK
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
