"""Splitting a run over processes and joining it again.

Under a launcher (torchrun, `accelerate launch`: RANK / WORLD_SIZE set) each process scores its share
into its own log and marks itself done; the last one to finish merges the logs (no collective, so a
slow rank never holds the others). `merge_runs` joins the run folders of a `--shard I/N` job array.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from rolescape.errors import InputError, OutputError
from rolescape.io import hash_obj
from rolescape.metrics.base import MetricFamily
from rolescape.metrics.runlog import ITEMS_FILE, ItemsLog, load_results
from rolescape.metrics.runplan import family_name
from rolescape.schemas.results import (
    ItemScore,
    Results,
)
from rolescape.schemas.spec import ScoreSpec


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


def done_name(rank: int, world: int) -> str:
    return f".done.rank-{rank}-of-{world}.json"


def spec_identity(spec: ScoreSpec) -> dict[str, Any]:
    """What two runs must share to be parts of one run: the spec without its shard."""
    return spec.model_dump(mode="json", exclude={"shard"})


def merge_if_complete(
    run_dir: Path,
    world: int,
    spec: ScoreSpec,
    data: Any,
    objects: Mapping[str, MetricFamily | type[MetricFamily]],
    on_warning: Callable[[str], None] | None,
    cache_dir: str | Path | None = None,
) -> Results | None:
    """If every rank of this launch is done (same spec), merge their logs once; else None."""
    want = hash_obj(spec_identity(spec))
    with _merge_lock(run_dir):
        for r in range(world):
            p = run_dir / done_name(r, world)
            try:
                mark = json.loads(p.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return None
            if mark.get("spec") != want:
                return None
        from rolescape.metrics.engine import execute

        res = execute(
            spec, data, run_dir, None, None, on_warning, objects, merge_only=True, cache_dir=cache_dir
        )
        for r in range(world):
            with contextlib.suppress(FileNotFoundError):
                (run_dir / done_name(r, world)).unlink()
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
    ident = spec_identity(first.spec)
    seen: dict[str, Path] = {}
    world = int(first.shard.split("/")[1])
    for d, res in runs:
        assert res.spec is not None and res.shard is not None
        if spec_identity(res.spec) != ident or res.dataset.manifest_sha256 != first.dataset.manifest_sha256:
            diff = sorted(k for k, v in spec_identity(res.spec).items() if ident.get(k) != v) or ["dataset"]
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
    objects = {family_name(o): o for o in family_objects or []}
    spec = first.spec.model_copy(update={"shard": None})
    from rolescape.metrics.engine import execute

    try:
        return execute(spec, None, out, None, None, on_warning, objects, merge_only=True, cache_dir=cache_dir)
    except BaseException:
        for p in out.iterdir():
            with contextlib.suppress(OSError):
                p.unlink()
        with contextlib.suppress(OSError):
            out.rmdir()
        raise
