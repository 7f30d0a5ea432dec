"""The contract between the scoring engine and the metric families.

A family computes one group of metrics (e.g. image identity, MCQ accuracy, text similarity) for the
tasks it supports. The engine validates predictions, groups items per task, asks every family that
supports the task for per-item scores, appends them to items.jsonl as they come, and aggregates.

Families are registered lazily in `rolescape.metrics.registry.FAMILIES` as "module:Class" strings.
A family whose model cannot be loaded raises `ModelUnavailable` from `prepare`; the engine records
its metrics as skipped with the reason, and the other families still run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from rolescape.schemas.predictions import Prediction
from rolescape.schemas.results import ModelInfo

Scores = dict[str, float | None]
# The one progress protocol of the library: progress(stage, done, total). Only rolescape/commands draws.
ProgressFn = Callable[[str, int, int], None]


@dataclass
class ScoreContext:
    """What a family may use: the built dataset, the run options, shared caches."""

    data: Any  # rolescape.dataset.BuiltDataset
    profile: str = "paper"  # "paper" | "offline"
    device: str = "cpu"
    batch_size: int = 32
    alpha: str = "white"  # "white" (composite RGBA on white) | "paper" (convert("RGB"))
    model_paths: dict[str, str] = field(default_factory=dict)  # --model NAME=PATH overrides
    cache_dir: Path | None = None  # embedding cache root
    seed: int = 0
    num_workers: int = 0
    predictions_root: Path | None = None  # folder of predictions.jsonl (image paths resolve here)
    options: dict[str, Any] = field(default_factory=dict)  # family-specific (judge url, ...)
    progress: ProgressFn | None = None  # (stage, done, total)
    models: dict[str, ModelInfo] = field(default_factory=dict)  # filled by families as they load models
    # (task or "*", metric, reason): metrics a family cannot compute in this run (e.g. no face model
    # offline). Record them with `skip_metric`; they are reported as skipped, never as zero.
    skipped: list[tuple[str, str, str]] = field(default_factory=list)
    # family name -> its typed config (rolescape.schemas.spec); `options` is the flat view of them
    configs: dict[str, Any] = field(default_factory=dict)

    def skip_metric(self, metric: str, reason: str, task: str = "*") -> None:
        self.skipped.append((task, metric, reason))


@dataclass
class ItemBatch:
    """Items of one task with their predictions, in a fixed order. `items` are task-config rows."""

    task: str
    items: Sequence[dict[str, Any]]
    predictions: Sequence[Prediction]
    # Decoded RGB images per item, filled on first use by `images_io.prediction_images(batch, ctx)`
    # (shared by the families scoring this chunk) or given directly by the rewards API.
    images: list[list[Any]] | None = None
    # One dict per item for diagnostics a family wants in items.jsonl `info` (str/int/float/bool/None).
    info: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.info:
            self.info = [{} for _ in self.items]


class MetricFamily:
    """Base class. Subclasses set `name`, `tasks` and implement `metric_names`, `prepare`, `score`."""

    name: ClassVar[str] = ""
    tasks: ClassVar[tuple[str, ...]] = ()
    # Families whose scores `derive` reads (e.g. paper_reward needs vqa, image_text, ...); the rewards
    # API runs them too. The engine runs every requested family anyway.
    depends_on: ClassVar[tuple[str, ...]] = ()
    # False for families that never touch an accelerator (MCQ letters): when no family of a run uses
    # the device, `--device auto` resolves to cpu without importing torch.
    uses_device: ClassVar[bool] = True

    def metric_names(self, task: str) -> list[str]:
        raise NotImplementedError

    def prepare(self, ctx: ScoreContext, tasks: Sequence[str]) -> None:
        """Load models / fit classifiers once per run. Raise ModelUnavailable to be skipped."""

    def score(self, batch: ItemBatch, ctx: ScoreContext) -> list[Scores]:
        """Return one {metric: value|None} dict per item, in order. None = does not apply."""
        raise NotImplementedError

    def derive(self, scores: Scores) -> Scores:
        """Metrics computed from other families' scores of the same item (e.g. paper_reward).

        Called by the engine after every family scored an item; the default derives nothing.
        """
        return {}

    def floors(
        self,
        task: str,
        items: Sequence[dict[str, Any]],
        predictions: Mapping[str, Prediction],
        ctx: ScoreContext,
    ) -> dict[str, dict[str, float]]:
        """Reference floors printed beside a metric ({metric: {floor name: value}}), e.g. the MCQ
        answer-key priors. `items` are all task items in scope, `predictions` the valid ones by id."""
        return {}

    def version(self) -> str:
        """Anything that changes results (model ids, options) goes into the resume key via this."""
        return self.name
