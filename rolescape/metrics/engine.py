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

import platform
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rolescape import PROTOCOL_VERSION, __version__
from rolescape.errors import InputError
from rolescape.io import hash_obj, sha256_file, write_json_atomic
from rolescape.metrics.aggregate import summarize_task
from rolescape.metrics.base import ItemBatch, MetricFamily, ProgressFn, ScoreContext
from rolescape.metrics.predictions import PredictionReport, check_predictions

# ----------------------------------------------------------------------------------------------------
# the run
from rolescape.metrics.provenance import (
    default_run_dir,
    generation_record,
    git_hash,
    package_versions,
    resolve_device,
    torch_version,
    utc_now,
)
from rolescape.metrics.runlog import (
    ITEMS_FILE,
    RESULTS_FILE,
    ItemsLog,
    _run_lock,
    family_key,
    jsonable,
    load_results,
    prediction_digest,
    sealed,
)
from rolescape.metrics.runplan import (
    FamilyError,
    FamilyPlan,
    FamilySpec,
    clean_info,
    clean_value,
    family_name,
    instantiate_families,
    prepare_families,
    score_batch,
)
from rolescape.metrics.runspec import (
    ALPHAS,
    PRECISIONS,
    PROFILES,
    context_options,
    make_spec,
    resolve_tasks,
    spec_from_options,
    validate_choice,
    validation_message,
)
from rolescape.metrics.scaleout import (
    distributed_rank,
    done_name,
    merge_if_complete,
    merge_runs,
    rank_log_name,
    spec_identity,
)
from rolescape.schemas.results import (
    DatasetInfo,
    FamilyScore,
    ItemScore,
    Provenance,
    Results,
    RunConfig,
    TaskResult,
)
from rolescape.schemas.spec import FamilyConfig, ScoreSpec, config_for, parse_shard
from rolescape.schemas.tasks import TASKS

__all__ = [  # the public names, importable from here as before the split
    "ALPHAS",
    "ITEMS_FILE",
    "PRECISIONS",
    "PROFILES",
    "RESULTS_FILE",
    "FamilyError",
    "FamilySpec",
    "ItemsLog",
    "_run_lock",
    "context_options",
    "default_run_dir",
    "distributed_rank",
    "family_key",
    "git_hash",
    "instantiate_families",
    "load_results",
    "make_spec",
    "merge_runs",
    "package_versions",
    "prediction_digest",
    "prepare_families",
    "rank_log_name",
    "resolve_device",
    "resolve_tasks",
    "score",
    "score_batch",
    "spec_from_options",
    "validation_message",
]


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
        objects[family_name(obj)] = obj
    if not isinstance(spec, ScoreSpec):
        if data_dir is None:
            raise InputError("score() needs a ScoreSpec, or a predictions path and a dataset")
        fams = legacy.pop("families", None)
        names: list[str] | None = None
        if fams is not None:
            names = []
            for f in fams:
                n = family_name(f)
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
    return execute(spec, data_obj, out_dir, cb, on_problems, on_warning, objects, cache_dir=cache_dir)


def execute(
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
    started = utc_now()
    validate_choice("profile", spec.profile, PROFILES)
    validate_choice("alpha policy", spec.alpha, ALPHAS)
    validate_choice("precision", spec.precision, PRECISIONS)
    for enc, prec in spec.model_precision.items():
        validate_choice(f"precision of {enc}", prec, PRECISIONS)
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
    write_json_atomic(run_dir / done_name(rank, world), {"spec": hash_obj(spec_identity(resolved))})
    merged = merge_if_complete(run_dir, world, resolved, data, objects, on_warning, cache_dir)
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
        fam_parts[a.family.name] = (a.family.version(), jsonable(cfg.key_slice()), models)
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
        metrics.update({k: clean_value(v) for k, v in f.derive(dict(metrics)).items()})
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
        info=clean_info(info),
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
                            metrics={k: clean_value(v) for k, v in s.items()},
                            info=clean_info(inf),
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
            torch=torch_version(),
            packages=package_versions(),
            started_at=started,
            finished_at=utc_now(),
            wall_time_s=round(time.perf_counter() - t0, 3),
        ),
        models=dict(sorted(ctx.models.items())),
        tasks=task_results,
        skipped=plan.skipped,
        problems=list(report.problems),
        generation=generation_record(Path(spec.predictions)),
    )
