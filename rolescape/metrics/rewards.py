"""rolescape metrics as trl-style GRPO reward functions: `reward(completions, **kwargs) -> list[float | None]`.

    from rolescape.metrics.rewards import make_reward
    mcq = make_reward("mcq_acc", data="built/")            # any metric a family declares
    mcq(["B", "Answer: C"], ids=["knowledge_mcq/bo/mcq_001", "knowledge_mcq/bo/mcq_002"])
    clip = make_reward("clip_t", data="built/", device="cuda")
    clip([pil_a, pil_b], prompts=[...], character=["Gao_Qiqiang", ...])

Completions may be PIL images, lists of PIL images, strings, trl conversational message lists, or
dicts with "image"/"images"/"text"/"choice". The items come either from the built dataset (kwargs
`ids` / `item_ids` / `id`, one per completion) or are assembled from the kwargs: every list kwarg of
the completions' length becomes a field of the item (trl passes dataset columns this way), with
`prompts` -> `prompt` and `character` mapped to the character slug (any spelling of the release).
None means the metric does not apply to that completion.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rolescape.errors import InputError, UnknownNameError
from rolescape.metrics.base import ItemBatch, MetricFamily, ScoreContext
from rolescape.schemas.predictions import Prediction

_ID_KWARGS = ("ids", "item_ids", "id")
_RENAMES = {"prompts": "prompt", "characters": "character"}
_IGNORED = {"completions", "completion_ids", "trainer_state", "log_extra", "log_metric"}
IN_MEMORY = "<in-memory>"


def _is_image(x: Any) -> bool:
    return hasattr(x, "convert") and hasattr(x, "size") and hasattr(x, "mode")


def find_metric(metric: str, task: str | None = None) -> tuple[type[MetricFamily], str]:
    """(family class, task) for a metric name, trying the family of the same name first."""
    import difflib

    from rolescape.metrics.registry import FAMILIES

    order = ([metric] if metric in FAMILIES else []) + [n for n in FAMILIES.names() if n != metric]
    known: set[str] = set()
    for fname in order:
        try:
            cls = FAMILIES.get(fname)
            fam = cls()
        except Exception:  # an unavailable family cannot provide the metric; keep looking
            continue
        for t in fam.tasks:
            if task is not None and t != task:
                continue
            names = fam.metric_names(t)
            known.update(names)
            if metric in names:
                return cls, t
    close = difflib.get_close_matches(metric, sorted(known), n=3)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    where = f" for task {task!r}" if task else ""
    raise UnknownNameError(f"no available metric family provides {metric!r}{where}{hint}")


class RewardFunction:
    """A callable reward built from metric families (trl's reward signature; `__name__` = the metric)."""

    def __init__(
        self,
        metric: str,
        families: Sequence[MetricFamily],
        ctx: ScoreContext,
        task: str,
        batch_size: int = 32,
    ):
        self.__name__ = metric
        self.metric = metric
        self.families = list(families)
        self.ctx = ctx
        self.task = task
        self.batch_size = batch_size
        self._rows: dict[str, dict[str, Any]] | None = None
        self._slugs: dict[str, str] | None = None

    def __repr__(self) -> str:
        return f"RewardFunction({self.metric!r}, task={self.task!r})"

    # items ------------------------------------------------------------------------------------------
    def _row_by_id(self, ident: str) -> dict[str, Any]:
        data = self.ctx.data
        if data is None:
            raise InputError(f"item id {ident!r} given but the reward has no built dataset (pass data=...)")
        if self._rows is None:
            from rolescape.metrics.predictions import available_tasks

            self._rows = {}
            for t in available_tasks(data):
                for r in data.task_items(t):
                    self._rows[r["id"]] = r
        if ident not in self._rows:
            raise InputError(f"unknown item id {ident!r} for metric {self.metric!r}")
        return self._rows[ident]

    def _slug(self, name: Any) -> str:
        from rolescape.schemas.base import slugify

        if self._slugs is None:
            self._slugs = {}
            data = self.ctx.data
            if data is not None:
                try:
                    chars = data.characters()
                except Exception:  # a dataset without the characters config: fall back to slugify
                    chars = []
                for c in chars:
                    spellings = [
                        c.get("id"),
                        c.get("prefix"),
                        c.get("grpo_name"),
                        c.get("grpo_character_field"),
                        c.get("folder"),
                        *(c.get("aliases") or []),
                    ]
                    for s in spellings:
                        if s:
                            self._slugs[str(s).lower()] = c["id"]
                            self._slugs[slugify(str(s))] = c["id"]
        s = str(name)
        return self._slugs.get(s.lower()) or self._slugs.get(slugify(s)) or slugify(s)

    def _rows_for(self, n: int, kwargs: Mapping[str, Any]) -> list[dict[str, Any]]:
        for k in _ID_KWARGS:
            ids = kwargs.get(k)
            if isinstance(ids, (list, tuple)):
                if len(ids) != n:
                    raise InputError(f"{k}: {len(ids)} ids for {n} completions")
                return [self._row_by_id(str(i)) for i in ids]
        task_col = kwargs.get("task")
        rows: list[dict[str, Any]] = []
        for i in range(n):
            row: dict[str, Any] = {"id": f"reward/{i}", "item": str(i), "character": "", "task": self.task}
            for k, v in kwargs.items():
                if k in _IGNORED or not isinstance(v, (list, tuple)) or len(v) != n:
                    continue
                row[_RENAMES.get(k, k)] = v[i]
            if isinstance(task_col, str):
                row["task"] = task_col
            row["character"] = self._slug(row["character"]) if row.get("character") else ""
            rows.append(row)
        return rows

    # completions ------------------------------------------------------------------------------------
    def _prediction(self, ident: str, c: Any) -> tuple[Prediction, list[Any]]:
        from rolescape.metrics.images_io import to_rgb

        alpha = self.ctx.alpha
        if _is_image(c):
            return Prediction(id=ident, image=IN_MEMORY), [to_rgb(c, alpha)]  # type: ignore[call-arg]
        if isinstance(c, str):
            return Prediction(id=ident, text=c), []  # type: ignore[call-arg]
        if isinstance(c, (list, tuple)) and c and all(_is_image(x) for x in c):
            return Prediction(id=ident, images=[IN_MEMORY] * len(c)), [to_rgb(x, alpha) for x in c]  # type: ignore[call-arg]
        if isinstance(c, (list, tuple)) and c and all(isinstance(x, Mapping) for x in c):
            return Prediction(id=ident, text=str(c[-1].get("content", ""))), []  # trl conversational
        if isinstance(c, Mapping):
            imgs = list(c.get("images") or ([c["image"]] if c.get("image") is not None else []))
            if not all(_is_image(x) for x in imgs):
                raise InputError("reward completions carry images as PIL images")
            fields: dict[str, Any] = {"id": ident}
            if c.get("text") is not None or c.get("content") is not None:
                fields["text"] = str(c.get("text") if c.get("text") is not None else c.get("content"))
            if c.get("choice") is not None:
                fields["choice"] = str(c["choice"]).strip().upper()
            if imgs:
                fields["images"] = [IN_MEMORY] * len(imgs)
            return Prediction.model_validate(fields), [to_rgb(x, alpha) for x in imgs]
        raise InputError(f"cannot use a completion of type {type(c).__name__} as a prediction")

    def __call__(self, completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        from rolescape.metrics.engine import score_batch

        n = len(completions)
        rows = self._rows_for(n, kwargs)
        preds, images = [], []
        for row, c in zip(rows, completions, strict=True):
            p, im = self._prediction(str(row["id"]), c)
            preds.append(p)
            images.append(im)
        out: list[float | None] = [None] * n
        by_task: dict[str, list[int]] = {}
        for i, row in enumerate(rows):
            by_task.setdefault(str(row.get("task") or self.task), []).append(i)
        for task, idx in by_task.items():
            fams = [f for f in self.families if task in f.tasks]
            if not fams:
                continue
            for s in range(0, len(idx), self.batch_size):
                part = idx[s : s + self.batch_size]
                batch = ItemBatch(
                    task=task,
                    items=[rows[i] for i in part],
                    predictions=[preds[i] for i in part],
                    images=[images[i] for i in part],
                )
                for i, scores in zip(part, score_batch(fams, batch, self.ctx), strict=True):
                    out[i] = scores.get(self.metric)
        return out


def _with_dependencies(cls: type[MetricFamily]) -> list[type[MetricFamily]]:
    from rolescape.metrics.registry import FAMILIES

    order: list[type[MetricFamily]] = []

    def visit(c: type[MetricFamily]) -> None:
        for dep in c.depends_on:
            visit(FAMILIES.get(dep))
        if c not in order:
            order.append(c)

    visit(cls)
    return order


def make_reward(
    metric: str,
    *,
    data: Any = None,
    profile: str = "paper",
    device: str = "auto",
    task: str | None = None,
    model_paths: Mapping[str, str] | None = None,
    alpha: str = "white",
    options: Mapping[str, Any] | None = None,
    batch_size: int = 32,
    cache_dir: str | Path | None = None,
) -> RewardFunction:
    """A reward function for one metric (e.g. "paper_reward", "clip_t", "dino_max", "mcq_acc").

    Loads the family that provides the metric, and the families it derives from, once; a model that
    is unavailable raises ModelUnavailable (a reward cannot be skipped).
    """
    from rolescape.metrics.engine import resolve_device

    if isinstance(data, (str, Path)):
        from rolescape.dataset import BuiltDataset

        data = BuiltDataset(data)
    cls, default_task = find_metric(metric, task)
    task = task or default_task
    ctx = ScoreContext(
        data=data,
        profile=profile,
        device=resolve_device(device),
        batch_size=batch_size,
        alpha=alpha,
        model_paths=dict(model_paths or {}),
        options=dict(options or {}),
        cache_dir=Path(cache_dir) if cache_dir else None,
    )
    fams = [c() for c in _with_dependencies(cls)]
    for f in fams:
        ftasks = [t for t in f.tasks if t == task] or list(f.tasks)
        f.prepare(ctx, ftasks)
    return RewardFunction(metric, fams, ctx, task, batch_size=batch_size)
