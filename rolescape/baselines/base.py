"""What every baseline shares: the context it reads, the prediction it returns, and the writer.

A baseline turns the items of one task into predictions without a trained model. It never sees
anything a real system would not have, except where its README entry says so (`reference` and
`prior` read the answers on purpose: they are the ceiling and the answer-key floor).
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

from rolescape.dataset import BuiltDataset
from rolescape.errors import InputError, OutputError
from rolescape.io import dumps_canonical, sha256_bytes, write_text_atomic
from rolescape.schemas.predictions import Prediction
from rolescape.schemas.tasks import TASKS


@dataclass
class BaselinePrediction:
    """One prediction before it is written: images as raw bytes, provenance in `source`."""

    id: str
    text: str | None = None
    image: bytes | None = None
    images: list[bytes] | None = None
    choice: str | None = None
    source: str | None = None  # where the answer came from (an id or key), kept as metadata

    def empty(self) -> bool:
        return self.text is None and self.image is None and self.images is None and self.choice is None


@dataclass
class BaselineContext:
    """The built dataset plus per-character views that several baselines need."""

    data: BuiltDataset
    seed: int = 0

    def has_config(self, config: str) -> bool:
        return config in self.data.configs()

    @cached_property
    def character_ids(self) -> list[str]:
        return sorted(c["id"] for c in self.data.characters())

    @cached_property
    def train_image_bytes(self) -> dict[str, bytes]:
        """Train image key -> original bytes."""
        return {r["key"]: r["image"]["bytes"] for r in self.data.images("train")}

    def _by_character(self, config: str, split: str, order: str) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = defaultdict(list)
        if not self.has_config(config):
            return {}
        for row in self.data.read(config, split):
            out[row["character"]].append(row)
        for rows in out.values():
            rows.sort(key=lambda r: _natural(r.get(order)))
        return dict(out)

    @cached_property
    def train_scenes(self) -> dict[str, list[dict[str, Any]]]:
        """Annotated train scenes (user text -> response + image) per character, in scene order."""
        return self._by_character("scenes", "train", "scene_id")

    @cached_property
    def train_dialogues(self) -> dict[str, list[dict[str, Any]]]:
        """Dialogue-extension train scenes (text only) per character, in index order."""
        return self._by_character("dialogues", "train", "index")

    @cached_property
    def train_knowledge_qa(self) -> dict[str, list[dict[str, Any]]]:
        """Train knowledge QA pairs per character, in id order."""
        return self._by_character("knowledge_qa", "train", "id")

    def items(self, task: str) -> list[dict[str, Any]]:
        return self.data.task_items(task)


class Baseline:
    """Base class: `name`, the tasks it answers, and `predict` for one task's items."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    tasks: ClassVar[tuple[str, ...]] = ()
    # Tasks the baseline deliberately leaves out, with the reason printed and documented.
    not_answered: ClassVar[dict[str, str]] = {}

    def skip_reason(self, task: str, ctx: BaselineContext) -> str | None:
        """Why this task cannot be answered on this build (None = it can)."""
        if task in self.not_answered:
            return self.not_answered[task]
        if task not in self.tasks:
            return f"{self.name} does not answer {task}"
        return None

    def predict(
        self, task: str, items: Sequence[dict[str, Any]], ctx: BaselineContext
    ) -> list[BaselinePrediction]:
        raise NotImplementedError


@dataclass
class BaselineReport:
    name: str
    seed: int
    out: Path
    images_dir: Path | None
    written: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    unanswered: dict[str, int] = field(default_factory=dict)  # items left out: no material to answer
    n_images: int = 0


def _natural(v: Any) -> tuple[int, Any]:
    """Sort key putting decimal strings in numeric order ("2" before "10")."""
    if isinstance(v, int):
        return (0, v)
    s = str(v)
    return (0, int(s)) if s.isdigit() else (1, s)


_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", ".png"),
    (b"\xff\xd8\xff", ".jpg"),
    (b"GIF87a", ".gif"),
    (b"GIF89a", ".gif"),
    (b"BM", ".bmp"),
)


def image_extension(data: bytes) -> str:
    """The extension the bytes really are (several release files named .png hold JPEG)."""
    for magic, ext in _MAGIC:
        if data.startswith(magic):
            return ext
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    return ".bin"


def images_dir_for(out: Path) -> Path:
    return out.with_name(f"{out.stem}_images")


class _ImageSink:
    """Content-addressed image files in a temporary folder that becomes `<out-stem>_images/`."""

    def __init__(self, out: Path):
        self.final = images_dir_for(out)
        self.tmp = out.with_name(f".{self.final.name}.partial")
        self.names: set[str] = set()

    def add(self, data: bytes) -> str:
        name = sha256_bytes(data)[:20] + image_extension(data)
        if name not in self.names:
            if not self.names:
                shutil.rmtree(self.tmp, ignore_errors=True)
                self.tmp.mkdir(parents=True)
            (self.tmp / name).write_bytes(data)
            self.names.add(name)
        return f"{self.final.name}/{name}"

    def commit(self) -> Path | None:
        """Move the images into place, replacing an older folder; None when there were no images."""
        old = self.final.with_name(f".{self.final.name}.old")
        if self.final.exists():
            shutil.rmtree(old, ignore_errors=True)
            self.final.rename(old)
        if self.names:
            self.tmp.rename(self.final)
        shutil.rmtree(old, ignore_errors=True)
        return self.final if self.names else None

    def discard(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def _line(p: BaselinePrediction, name: str, sink: _ImageSink) -> dict[str, Any]:
    row: dict[str, Any] = {"id": p.id, "baseline": name}
    if p.text is not None:
        row["text"] = p.text
    if p.image is not None:
        row["image"] = sink.add(p.image)
    if p.images is not None:
        row["images"] = [sink.add(b) for b in p.images]
    if p.choice is not None:
        row["choice"] = p.choice
    if p.source is not None:
        row["source"] = p.source
    Prediction.model_validate(row)  # a baseline bug must not produce an invalid file
    return row


def resolve_tasks(requested: Iterable[str] | None) -> list[str]:
    if not requested:
        return list(TASKS)
    out: list[str] = []
    for part in requested:
        for t in (s.strip() for s in part.split(",")):
            if not t:
                continue
            if t not in TASKS:
                raise InputError(f"unknown task {t!r} (known: {', '.join(TASKS)})", where="--tasks")
            if t not in out:
                out.append(t)
    return [t for t in TASKS if t in out]


def run_baseline(
    name: str,
    data: str | Path | BuiltDataset,
    out: str | Path,
    *,
    seed: int = 0,
    tasks: Iterable[str] | None = None,
) -> BaselineReport:
    """Write the predictions of baseline `name` on a built dataset to `out` (JSONL, atomically).

    Images go to `<out-stem>_images/` next to `out`, named by content hash; predictions refer to them
    by paths relative to the predictions file's folder. Same inputs and seed -> identical bytes.
    """
    from rolescape.baselines import BASELINES

    cls = BASELINES.get(name)
    baseline = cls()
    ds = data if isinstance(data, BuiltDataset) else BuiltDataset(data)
    ctx = BaselineContext(ds, seed=seed)
    out = Path(out)
    if out.is_dir():
        raise OutputError(f"{out}: is a folder; --out names the predictions file (e.g. predictions.jsonl)")
    out.parent.mkdir(parents=True, exist_ok=True)
    report = BaselineReport(name=name, seed=seed, out=out, images_dir=None)
    sink = _ImageSink(out)
    rows: list[dict[str, Any]] = []
    try:
        for task in resolve_tasks(tasks):
            reason = baseline.skip_reason(task, ctx)
            if reason is None and not ctx.has_config(task):
                reason = "this build has no such config"
            if reason is not None:
                report.skipped[task] = reason
                continue
            items = ctx.items(task)
            preds = baseline.predict(task, items, ctx)
            if [p.id for p in preds] != [it["id"] for it in items]:
                raise AssertionError(f"{name}: predictions for {task} do not match its items one to one")
            answered = [p for p in preds if not p.empty()]
            rows.extend(_line(p, name, sink) for p in answered)
            report.written[task] = len(answered)
            if len(answered) < len(preds):
                report.unanswered[task] = len(preds) - len(answered)
        if not rows:
            raise InputError(
                f"baseline {name!r} answers none of the selected tasks in this build", path=ds.path
            )
        report.images_dir = sink.commit()
        report.n_images = len(sink.names)
        write_text_atomic(out, "".join(dumps_canonical(r) + "\n" for r in rows))
    finally:
        sink.discard()
    return report
