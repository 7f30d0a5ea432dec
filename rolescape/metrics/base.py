"""The contract between the scoring engine and the metric families.

A family computes one group of metrics (e.g. image identity, MCQ accuracy, text similarity) for the
tasks it supports. The engine validates predictions, groups items per task, asks every family that
supports the task for per-item scores, appends them to items.jsonl as they come, and aggregates.

A family reads its items through `batch.typed`: each row as its task's `TaskItem` model
(`rolescape.schemas.tasks.TASK_MODELS`), so `item.reference_response` is a checked str, not a
`.get()` on a dict; `task_item` says how partial rows (the rewards API's) are read.

Families are registered lazily in `rolescape.metrics.registry.FAMILIES` as "module:Class" strings.
A family whose model cannot be loaded raises `ModelUnavailable` from `prepare`; the engine records
its metrics as skipped with the reason, and the other families still run.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, get_origin

from pydantic import ValidationError

from rolescape.errors import InputError
from rolescape.schemas.predictions import Prediction
from rolescape.schemas.results import ModelInfo
from rolescape.schemas.stored import decode_row
from rolescape.schemas.tasks import TASK_MODELS, TaskItem

if TYPE_CHECKING:
    from rolescape.dataset import BuiltDataset

Scores = dict[str, float | None]
# The one progress protocol of the library: progress(stage, done, total). Only rolescape/commands draws.
ProgressFn = Callable[[str, int, int], None]


@dataclass
class ScoreContext:
    """What a family may use: the built dataset, the run options, shared caches."""

    data: BuiltDataset | None  # None only for a reward built without a dataset (rewards.make_reward)
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

    def dataset(self, who: str) -> BuiltDataset:
        """The built dataset, for a family (`who`) that cannot work without one."""
        if self.data is None:
            raise InputError(f"{who} needs the built dataset (make_reward(..., data=BUILT_FOLDER))")
        return self.data


# ------------------------------------------------------------------------------------ typed items


@functools.cache
def _required_blanks(model: type[TaskItem]) -> tuple[frozenset[str], dict[str, Any]]:
    """The required fields of a task item model, and the blank each reads as in a partial row."""
    blanks: dict[str, Any] = {}
    for name, f in model.model_fields.items():
        if f.is_required():
            blanks[name] = [] if get_origin(f.annotation) is list else "" if f.annotation is str else None
    return frozenset(blanks), blanks


def task_item(task: str, row: Mapping[str, Any]) -> TaskItem:
    """One task-config row as its task's item model (`rolescape.schemas.tasks.TASK_MODELS`).

    A row with every field of the model (each row of a built dataset) is decoded from its stored form
    (`rolescape.schemas.stored`) and validated: a wrong value is one InputError naming the item id.
    A partial row (the rewards API assembles items from trl's dataset columns; callers of a family
    may pass only what it reads) is taken as it is, unvalidated, with each missing field read as a
    blank ("" / [] / None) and unknown keys left out, as the families' `.get(field) or ""` reads did.
    """
    model = TASK_MODELS.get(task, TaskItem)
    required, blanks = _required_blanks(model)
    if required.issubset(row.keys()):
        try:
            return model.model_validate(decode_row(model, row))
        except ValidationError as e:
            err = e.errors()[0]
            loc = ".".join(str(x) for x in err["loc"]) or "item"
            raise InputError(
                f"not a valid {task} item: {loc}: {err['msg']}", where=str(row.get("id"))
            ) from None
    known = {k: v for k, v in row.items() if k in model.model_fields}
    return model.model_construct(**{**blanks, "task": task, **known})


def task_items(task: str, rows: Sequence[Mapping[str, Any]]) -> list[TaskItem]:
    """`task_item` of every row, in order."""
    return [task_item(task, r) for r in rows]


@dataclass
class ItemBatch:
    """Items of one task with their predictions, in a fixed order.

    `items` are the task-config rows as read (the engine keys its log by their ids); families read
    `typed`, the same items as the task's item model (`task_items`), built once per batch and shared
    by every family that scores it.
    """

    task: str
    items: Sequence[Mapping[str, Any]]
    predictions: Sequence[Prediction]
    # Decoded RGB images per item, filled on first use by `images_io.prediction_images(batch, ctx)`
    # (shared by the families scoring this chunk) or given directly by the rewards API.
    images: list[list[Any]] | None = None
    # One dict per item for diagnostics a family wants in items.jsonl `info` (str/int/float/bool/None).
    info: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.info:
            self.info = [{} for _ in self.items]

    @functools.cached_property
    def typed(self) -> list[TaskItem]:
        """The items as their task's item model, in order (see `task_item`)."""
        return task_items(self.task, self.items)


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
