"""The results file of `rolescape score` (a written-down schema; JSON Schema via `rolescape schema`).

Per-item scores live beside it in `items.jsonl` (one `ItemScore` per line, appended as computed).
Schema v2 adds the run's `spec` and the partial-run fields (`limit`, `shard`, `partial`); v1 files
still load (the new fields take their defaults). `provenance.hostname_hash` is retired: accepted on
read, never written. No number anywhere may be NaN or infinite: a file
holding one is refused with the field path named.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rolescape.schemas.spec import ScoreSpec

RESULTS_SCHEMA_VERSION = "2"


class _Record(BaseModel):
    """Base of every record in a results file: closed (an unknown key is refused, so a typo or a file
    of another tool cannot pass as one) and finite (NaN or infinity is refused)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class FamilyScore(_Record):
    """One family's part of an item's scores, with its own resume key."""

    key: str = Field(description="hash of the prediction, dataset, family version, config slice and models")
    metrics: dict[str, float | None]
    info: dict[str, str | int | float | bool | None] = Field(default_factory=dict)


class ItemScore(_Record):
    """One line of items.jsonl: every metric computed for one prediction (None = does not apply).

    `metrics` / `info` are the merged view (all families + derived metrics); `families` holds each
    family's own part and key, so a rerun rescores only the families whose key changed. `check` is the
    hash of the rest of the line: a line edited by hand no longer matches and is rescored. A later
    line for the same id replaces an earlier one.
    """

    id: str
    task: str
    character: str
    key: str = Field(description="hash of the families' keys; resume skips known keys")
    metrics: dict[str, float | None]
    info: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    families: dict[str, FamilyScore] = Field(default_factory=dict)
    check: str | None = Field(None, description="sha256 of the line without this field (tamper evidence)")


class MetricSummary(_Record):
    mean: float | None = Field(description="macro mean over characters (each character weighs the same)")
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = Field(description="items with a value")
    per_character: dict[str, float] = Field(default_factory=dict)
    floors: dict[str, float] | None = Field(None, description="answer-key floors printed beside MCQ scores")


class TaskResult(_Record):
    n_items: int = Field(
        description="items of the task in the dataset (a --limit/--shard slice does not change it)"
    )
    n_predicted: int = Field(description="valid predictions for the items in scope")
    n_scored: int
    coverage: float = Field(description="n_predicted / n_items: a partial run covers part of the task")
    n_in_scope: int | None = Field(None, description="items of the --limit/--shard slice (None: all)")
    metrics: dict[str, MetricSummary]


class SkippedMetric(_Record):
    task: str
    metric: str
    reason: str


class ModelInfo(_Record):
    name: str = Field(description="registry name, e.g. 'clip'")
    id: str
    revision: str | None = None
    dtype: str
    preprocessing: str
    source: str = Field(description="'hub', 'local:<path>' or 'package:<name>'")


class DatasetInfo(_Record):
    path: str
    manifest_sha256: str
    source: str
    build_id: str | None = None


class RunConfig(_Record):
    profile: str
    tasks: list[str]
    device: str
    batch_size: int
    alpha: str
    seed: int
    bootstrap: int
    allow_partial: bool
    predictions: str
    predictions_sha256: str


class Provenance(_Record):
    rolescape_version: str
    git_hash: str | None
    protocol_version: str
    python: str
    torch: str | None = None
    packages: dict[str, str] = Field(default_factory=dict)
    # Retired: it was never filled, and a machine identifier has no place in results that are pushed
    # to the Hub. Still accepted, so results files that carry it (as null) load; never written.
    hostname_hash: str | None = Field(
        None, exclude=True, description="retired; ignored on read, never written"
    )
    started_at: str
    finished_at: str
    wall_time_s: float


class Results(_Record):
    schema_version: str = RESULTS_SCHEMA_VERSION
    model_name: str = Field(description="the name of the system whose predictions were scored")
    dataset: DatasetInfo
    config: RunConfig
    spec: ScoreSpec | None = Field(None, description="the run as data (resolved); None in v1 files")
    limit: int | None = Field(None, description="--limit: only the first N items of each task were scored")
    shard: str | None = Field(None, description="--shard I/N: only every N-th item from I was scored")
    partial: bool = Field(False, description="true when --limit or --shard restricted the items")
    provenance: Provenance
    models: dict[str, ModelInfo] = Field(default_factory=dict)
    tasks: dict[str, TaskResult]
    skipped: list[SkippedMetric] = Field(default_factory=list)
    items_file: str = "items.jsonl"
    problems: list[str] = Field(
        default_factory=list, description="invalid prediction lines left out under --allow-partial"
    )
    generation: dict[str, Any] | None = Field(
        None, description="generation.json of the `rolescape generate` run that wrote the predictions"
    )
