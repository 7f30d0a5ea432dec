"""The results file of `rolescape score` (a written-down schema; JSON Schema via `rolescape schema`).

Per-item scores live beside it in `items.jsonl` (one `ItemScore` per line, appended as computed).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

RESULTS_SCHEMA_VERSION = "1"


class _Open(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ItemScore(_Open):
    """One line of items.jsonl: every metric computed for one prediction (None = does not apply)."""

    id: str
    task: str
    character: str
    key: str = Field(description="hash of everything that determines these scores; resume skips known keys")
    metrics: dict[str, float | None]
    info: dict[str, str | int | float | bool | None] = Field(default_factory=dict)


class MetricSummary(_Open):
    mean: float | None = Field(description="macro mean over characters (each character weighs the same)")
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = Field(description="items with a value")
    per_character: dict[str, float] = Field(default_factory=dict)
    floors: dict[str, float] | None = Field(None, description="answer-key floors printed beside MCQ scores")


class TaskResult(_Open):
    n_items: int = Field(description="items in the dataset config (after --limit/--characters filters)")
    n_predicted: int
    n_scored: int
    coverage: float
    metrics: dict[str, MetricSummary]


class SkippedMetric(_Open):
    task: str
    metric: str
    reason: str


class ModelInfo(_Open):
    name: str = Field(description="registry name, e.g. 'clip'")
    id: str
    revision: str | None = None
    dtype: str
    preprocessing: str
    source: str = Field(description="'hub', 'local:<path>' or 'package:<name>'")


class DatasetInfo(_Open):
    path: str
    manifest_sha256: str
    source: str
    build_id: str | None = None


class RunConfig(_Open):
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


class Provenance(_Open):
    rolescape_version: str
    git_hash: str | None
    protocol_version: str
    python: str
    torch: str | None = None
    packages: dict[str, str] = Field(default_factory=dict)
    hostname_hash: str | None = None
    started_at: str
    finished_at: str
    wall_time_s: float


class Results(_Open):
    schema_version: str = RESULTS_SCHEMA_VERSION
    model_name: str = Field(description="the name of the system whose predictions were scored")
    dataset: DatasetInfo
    config: RunConfig
    provenance: Provenance
    models: dict[str, ModelInfo] = Field(default_factory=dict)
    tasks: dict[str, TaskResult]
    skipped: list[SkippedMetric] = Field(default_factory=list)
    items_file: str = "items.jsonl"
    # issue 15: a run restricted by --limit / --shard says so (old results files have none of these)
    limit: int | None = Field(None, description="--limit: items per task the run was restricted to")
    shard: str | None = Field(None, description="--shard i/n: the slice of the items this run scored")
    partial: bool = Field(False, description="true when --limit or --shard restricted the items")
    problems: list[str] = Field(default_factory=list,
                                description="invalid prediction lines left out under --allow-partial")
    generation: dict[str, Any] | None = Field(
        None, description="generation.json of the `rolescape generate` run that wrote the predictions"
    )
