"""`rolescape generate` as a library: run an adapter over a built dataset, write predictions as it goes.

Output folder:

    predictions.jsonl   one line per item, exactly what `rolescape score` reads, appended per batch
    images/<task>/...   generated images, referenced by paths relative to the folder
    generation.json     adapter, model, prompt style, sampling, shard, data manifest, versions, counts

Batches have fixed boundaries over each task's items (in dataset order), so a batch always holds the
same items: a killed run resumes by regenerating only batches with a missing id (writing only the
missing lines), and `--shard i/n` takes every n-th batch. Both therefore give byte-identical lines to
an uninterrupted, unsharded run of a deterministic adapter. `merge_predictions` joins shards.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rolescape.dataset import BuiltDataset
from rolescape.errors import InputError, OutputError
from rolescape.io import dumps_canonical, read_jsonl, write_bytes_atomic, write_json_atomic
from rolescape.metrics.provenance import GENERATION_FILE
from rolescape.models.base import (
    AdapterError,
    AdapterOptions,
    ChoiceRequest,
    ImageRequest,
    ModelAdapter,
    Sampling,
    TextRequest,
    item_seed,
    missing_capability,
)
from rolescape.models.prompts import STYLES, render, render_roleplay_image, render_t2i
from rolescape.redact import redact
from rolescape.schemas.tasks import TASKS

GENERATION_VERSION = 1
PREDICTIONS = "predictions.jsonl"
IMAGES = "images"
ProgressFn = Callable[[dict[str, Any]], None]
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def parse_shard(text: str | None) -> tuple[int, int]:
    """`i/n` (0 <= i < n) -> (i, n); None -> (0, 1)."""
    if text is None or text == "":
        return 0, 1
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not m:
        raise InputError(f"--shard {text!r}: expected i/n, e.g. 0/4")
    i, n = int(m.group(1)), int(m.group(2))
    if n < 1 or not 0 <= i < n:
        raise InputError(f"--shard {text!r}: i must be in 0..n-1 and n >= 1")
    return i, n


def resolve_tasks(requested: Iterable[str] | None) -> list[str]:
    """Requested tasks (repeatable or comma lists) in protocol order; all when none are given."""
    if not requested:
        return list(TASKS)
    out: list[str] = []
    for part in requested:
        for t in (s.strip() for s in part.split(",")):
            if t and t not in TASKS:
                raise InputError(f"unknown task {t!r} (known: {', '.join(TASKS)})", where="--tasks")
            if t and t not in out:
                out.append(t)
    return [t for t in TASKS if t in out]


@dataclass(frozen=True)
class GenerateSpec:
    """One generate run (what the CLI parses; what generation.json records)."""

    adapter: str
    model: str
    data: Path
    out: Path
    tasks: tuple[str, ...] = ()
    prompt_style: str = "release"
    sampling: Sampling = field(default_factory=Sampling)
    shard: tuple[int, int] = (0, 1)
    options: tuple[str, ...] = ()
    overwrite: bool = False
    per_character: tuple[tuple[str, int], ...] = ()  # (task, n): only the first n items per character


def parse_per_character(values: Iterable[str] | None) -> tuple[tuple[str, int], ...]:
    """`TASK=N` (repeatable or comma lists) -> ((task, n), ...) in protocol order."""
    out: dict[str, int] = {}
    for part in values or ():
        for v in (x.strip() for x in part.split(",")):
            if not v:
                continue
            task, sep, num = v.partition("=")
            if not sep or task not in TASKS or not num.isdigit() or int(num) < 1:
                raise InputError(f"--per-character {v!r}: expected TASK=N with a task name and N >= 1")
            out[task] = int(num)
    return tuple((t, out[t]) for t in TASKS if t in out)


@dataclass
class GenerateReport:
    out: Path
    written: dict[str, int]  # new lines this run, per task
    total: dict[str, int]  # lines in predictions.jsonl of this shard, per task
    skipped: dict[str, str]
    tokens: int
    images: int
    wall_s: float
    complete: bool


def _image_name(item_id: str, j: int) -> str:
    task, _, rest = item_id.partition("/")
    return f"{IMAGES}/{task}/{_UNSAFE.sub('_', rest.replace('/', '__'))}_{j}.png"


def _versions() -> dict[str, str]:
    from rolescape import __version__

    out = {"rolescape": __version__, "python": sys.version.split()[0]}
    for mod in ("torch", "transformers", "diffusers", "httpx2"):
        m = sys.modules.get(mod)
        if m is not None and getattr(m, "__version__", None):
            out[mod] = str(m.__version__)
    return out


def _read_done(path: Path) -> set[str]:
    """Ids already in predictions.jsonl; a torn last line (a killed write) is cut off first."""
    if not path.is_file():
        return set()
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        with open(path, "r+b") as f:
            f.truncate(cut)
    done: set[str] = set()
    for lineno, rec in read_jsonl(path):
        if not isinstance(rec, dict) or not isinstance(rec.get("id"), str):
            raise InputError("not a prediction line (no id)", path=path, where=str(lineno))
        done.add(rec["id"])
    return done


def _settings(
    spec: GenerateSpec, adapter: ModelAdapter, tasks: list[str], ds: BuiltDataset
) -> dict[str, Any]:
    prov = adapter.provenance()
    return {
        "adapter": spec.adapter,
        "model": spec.model,
        "options": {k: v for k, v in prov.options.items() if k not in adapter.transport_options},
        "prompt_style": spec.prompt_style,
        "sampling": spec.sampling.as_dict(),
        "tasks": tasks,
        "batch_size": max(1, int(adapter.batch_size)),
        "data_manifest_sha256": ds.manifest_sha256,
        "generation_version": GENERATION_VERSION,
        "per_character": {t: k for t, k in spec.per_character if t in tasks},
    }


def _check_resume(out: Path, settings: dict[str, Any], shard: str, overwrite: bool) -> None:
    gpath = out / GENERATION_FILE
    if not gpath.exists():
        if (out / PREDICTIONS).exists() and not overwrite:
            raise OutputError(
                f"{out / PREDICTIONS} exists without {GENERATION_FILE}; use a new --out or --overwrite"
            )
        return
    import json

    try:
        old = json.loads(gpath.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(f"unreadable generation record: {e}", path=gpath) from None
    old_settings = old.get("settings", {}) if isinstance(old, dict) else {}
    diff = [k for k in sorted(set(settings) | set(old_settings)) if settings.get(k) != old_settings.get(k)]
    if old.get("shard") != shard:
        diff.insert(0, "shard")
    if diff and not overwrite:
        k = diff[0]
        was = old.get("shard") if k == "shard" else old_settings.get(k)
        now = shard if k == "shard" else settings.get(k)
        raise OutputError(
            f"{out} holds a generate run with other settings ({k}: {was!r} there, {now!r} now); "
            "use a new --out, or --overwrite to start again"
        )
    if diff and overwrite:
        (out / PREDICTIONS).unlink(missing_ok=True)
        shutil.rmtree(out / IMAGES, ignore_errors=True)


class _Writer:
    """Appends whole lines (one write + fsync per batch); images are written before their line."""

    def __init__(self, out: Path):
        self.out = out
        self.path = out / PREDICTIONS
        self.images = 0

    def image(self, item_id: str, j: int, data: bytes) -> str:
        rel = _image_name(item_id, j)
        write_bytes_atomic(self.out / rel, data)
        self.images += 1
        return rel

    def lines(self, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        payload = "".join(dumps_canonical(r) + "\n" for r in rows).encode("utf-8")
        with open(self.path, "ab") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())


def _task_items(ds: BuiltDataset, task: str, per_character: dict[str, int]) -> list[dict[str, Any]]:
    """The task's items in dataset order; with a per-character limit, the first n of each character."""
    items = ds.task_items(task)
    n = per_character.get(task)
    if n is None:
        return items
    seen: dict[str, int] = {}
    kept = []
    for it in items:
        c = str(it["character"])
        if seen.get(c, 0) < n:
            kept.append(it)
            seen[c] = seen.get(c, 0) + 1
    return kept


def _batches(
    ds: BuiltDataset, tasks: list[str], size: int, per_character: dict[str, int]
) -> list[tuple[str, list[dict[str, Any]]]]:
    out: list[tuple[str, list[dict[str, Any]]]] = []
    for task in tasks:
        items = _task_items(ds, task, per_character)
        for k in range(0, len(items), size):
            out.append((task, items[k : k + size]))
    return out


def _answer_batch(
    adapter: ModelAdapter,
    ds: BuiltDataset,
    chars: dict[str, dict[str, Any]],
    task: str,
    items: list[dict[str, Any]],
    spec: GenerateSpec,
    writer: _Writer,
    todo: set[str],
) -> tuple[list[dict[str, Any]], int]:
    """Generate the whole batch (same items every time), return the lines of `todo` ids and tokens."""
    style, sampling = spec.prompt_style, spec.sampling
    rows: list[dict[str, Any]] = []
    tokens = 0
    if task in ("t2i", "t2i_vqa"):
        k = sampling.k if task == "t2i_vqa" else 1
        reqs = [
            ImageRequest(
                it["id"],
                task,
                it["character"],
                render_t2i(it, chars[it["character"]], style),
                k,
                sampling,
                item_seed(sampling.seed, it["id"]),
                tuple(b for _, b in ds.reference_images(it["character"])),
            )
            for it in items
        ]
        answers = adapter.generate_images(reqs)
        for it, req, ans in zip(items, reqs, answers, strict=True):
            if it["id"] not in todo:
                continue
            _check_images(adapter, it["id"], ans.images, k)
            paths = [writer.image(it["id"], j, b) for j, b in enumerate(ans.images)]
            row: dict[str, Any] = {"id": it["id"], "seed": req.seed, "prompt_sha256": _sha(req.prompt)}
            row.update({"images": paths} if task == "t2i_vqa" else {"image": paths[0]})
            rows.append(row)
        return rows, 0
    if task in ("knowledge_mcq", "visual_mcq"):
        creqs = [
            ChoiceRequest(
                it["id"],
                task,
                it["character"],
                render(task, it, chars[it["character"]], style),
                dict(it["options"]),
                sampling,
                item_seed(sampling.seed, it["id"]),
            )
            for it in items
        ]
        canswers = adapter.choose(creqs)
        for it, creq, cans in zip(items, creqs, canswers, strict=True):
            tokens += cans.tokens or 0
            if it["id"] not in todo:
                continue
            row = {"id": it["id"], "seed": creq.seed, "prompt_sha256": creq.prompt.sha256}
            row["reply"] = redact(cans.text, env=_key_envs(adapter), limit=2000)
            if cans.choice is not None:
                row["choice"] = cans.choice
            else:
                row["text"] = row["reply"]  # scored by the MCQ parser (counted as unparsed if it is)
            if cans.meta.get("choice_parse"):
                row["choice_parse"] = cans.meta["choice_parse"]
            rows.append(row)
        return rows, tokens
    images: tuple[bytes, ...] = ()
    treqs = []
    for it in items:
        char = chars[it["character"]]
        if task == "roleplay" and adapter.capabilities.image_in:
            refs = ds.reference_images(it["character"])
            images = (refs[0][1],) if refs else ()
        treqs.append(
            TextRequest(
                it["id"],
                task,
                it["character"],
                render(task, it, char, style, images),
                sampling,
                item_seed(sampling.seed, it["id"]),
            )
        )
    tanswers = adapter.generate_text(treqs)
    img_answers: list[Any] = [None] * len(items)
    if task == "roleplay":
        ireqs = [
            ImageRequest(
                it["id"],
                task,
                it["character"],
                render_roleplay_image(it, chars[it["character"]], style, ans.text),
                1,
                sampling,
                item_seed(sampling.seed, it["id"], "image"),
                tuple(b for _, b in ds.reference_images(it["character"])),
            )
            for it, ans in zip(items, tanswers, strict=True)
        ]
        img_answers = list(adapter.generate_images(ireqs))
    for idx, (it, treq, tans) in enumerate(zip(items, treqs, tanswers, strict=True)):
        tokens += tans.tokens or 0
        if it["id"] not in todo:
            continue
        text = redact(tans.text, env=_key_envs(adapter))  # a remote reply is stored: no secret in it
        row = {"id": it["id"], "seed": treq.seed, "prompt_sha256": treq.prompt.sha256, "text": text}
        if tans.tokens is not None:
            row["tokens"] = tans.tokens
        if task == "roleplay":
            ians = img_answers[idx]
            _check_images(adapter, it["id"], ians.images, 1)
            row["image"] = writer.image(it["id"], 0, ians.images[0])
            row["image_prompt_sha256"] = _sha(
                render_roleplay_image(it, chars[it["character"]], style, tans.text)
            )
        rows.append(row)
    return rows, tokens


def _key_envs(adapter: ModelAdapter) -> list[str]:
    """Environment variables holding the adapter's secrets (their values are masked in stored text)."""
    client = getattr(adapter, "client", None)
    env = getattr(getattr(client, "config", None), "key_env", None)
    return [env] if isinstance(env, str) and env else []


def _sha(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _check_images(adapter: ModelAdapter, item_id: str, images: Sequence[bytes], k: int) -> None:
    if len(images) != k or not all(isinstance(b, bytes) and b for b in images):
        raise AdapterError(
            f"adapter {adapter.name!r} returned {len(images)} images for {item_id} (expected {k})"
        )


def run_generate(
    spec: GenerateSpec, *, adapter: ModelAdapter | None = None, progress: ProgressFn | None = None
) -> GenerateReport:
    """Run `spec`; `adapter` may be passed ready-built (Python API, tests)."""
    from rolescape.models import build_adapter

    if spec.prompt_style not in STYLES:
        raise InputError(f"--prompt-style {spec.prompt_style!r}: expected one of {', '.join(STYLES)}")
    i, n = spec.shard
    shard = f"{i}/{n}"
    out = Path(spec.out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out} exists and is not a folder")
    ds = BuiltDataset(spec.data)
    requested = resolve_tasks(spec.tasks)
    if adapter is None:
        adapter = build_adapter(spec.adapter, spec.model, AdapterOptions(spec.options))
    try:
        return _run(spec, adapter, ds, requested, shard, out, progress)
    finally:
        adapter.close()


def _run(
    spec: GenerateSpec,
    adapter: ModelAdapter,
    ds: BuiltDataset,
    requested: list[str],
    shard: str,
    out: Path,
    progress: ProgressFn | None,
) -> GenerateReport:
    t0 = time.perf_counter()
    present = set(ds.configs())
    skipped: dict[str, str] = {}
    tasks: list[str] = []
    for t in requested:
        reason = missing_capability(t, adapter.capabilities)
        if t not in present:
            reason = "not in the built dataset"
        if reason:
            skipped[t] = f"adapter {adapter.name!r} {reason}" if reason.startswith("needs") else reason
        else:
            tasks.append(t)
    if not tasks:
        why = "; ".join(f"{t}: {r}" for t, r in skipped.items())
        raise AdapterError(f"adapter {adapter.name!r} can do none of the requested tasks ({why})")
    settings = _settings(spec, adapter, tasks, ds)
    out.mkdir(parents=True, exist_ok=True)
    _check_resume(out, settings, shard, spec.overwrite)
    record: dict[str, Any] = {
        "settings": settings,
        "shard": shard,
        "model": adapter.provenance().as_dict(),
        "capabilities": adapter.capabilities.as_dict(),
        "skipped": skipped,
        "versions": _versions(),
        "data": {
            "manifest_sha256": ds.manifest_sha256,
            "build_id": ds.manifest.get("build_id"),
            "path": str(Path(spec.data).resolve()),
        },
        "complete": False,
        "partial_note": "this run has not finished: predictions.jsonl is partial",
    }
    if settings["per_character"]:
        record["subset"] = "only the first N items per character of: " + ", ".join(
            f"{t} (N = {k})" for t, k in settings["per_character"].items()
        )
    write_json_atomic(out / GENERATION_FILE, record)
    done = _read_done(out / PREDICTIONS)
    writer = _Writer(out)
    chars = {str(c["id"]): c for c in ds.characters()}
    i, n = spec.shard
    size = settings["batch_size"]
    per_char = dict(spec.per_character)
    mine = [b for g, b in enumerate(_batches(ds, tasks, size, per_char)) if g % n == i]
    total = {t: 0 for t in tasks}
    for t, items in mine:
        total[t] += len(items)
    written = {t: 0 for t in tasks}
    have = {t: sum(1 for t2, items in mine if t2 == t for it in items if it["id"] in done) for t in tasks}
    tokens = images = 0
    n_all = sum(total.values())
    n_done = sum(have.values())
    gen_t0 = time.perf_counter()
    for task, items in mine:
        todo = {it["id"] for it in items} - done
        if not todo:
            continue
        rows, tok = _answer_batch(adapter, ds, chars, task, items, spec, writer, todo)
        writer.lines(rows)
        written[task] += len(rows)
        n_done += len(rows)
        tokens += tok
        if progress is not None:
            progress(
                {
                    "task": task,
                    "done": n_done,
                    "new": sum(written.values()),
                    "total": n_all,
                    "tokens": tokens,
                    "images": writer.images,
                    "elapsed": time.perf_counter() - gen_t0,
                }
            )
    images = writer.images
    gen_s = time.perf_counter() - gen_t0
    complete = n_done == n_all
    record["complete"] = complete
    record.pop("partial_note", None)
    record["counts"] = {t: have[t] + written[t] for t in tasks}
    record["expected"] = total
    record["throughput"] = {
        "new_items": sum(written.values()),
        "tokens": tokens,
        "images": images,
        "generation_s": round(gen_s, 3),
        "items_per_s": round(sum(written.values()) / gen_s, 3) if gen_s > 0 else None,
        "tokens_per_s": round(tokens / gen_s, 3) if gen_s > 0 and tokens else None,
    }
    record["model"] = adapter.provenance().as_dict()
    write_json_atomic(out / GENERATION_FILE, record)
    return GenerateReport(
        out=out,
        written=written,
        total={t: have[t] + written[t] for t in tasks},
        skipped=skipped,
        tokens=tokens,
        images=images,
        wall_s=time.perf_counter() - t0,
        complete=complete,
    )


# ------------------------------------------------------------------------------------------ merge


@dataclass
class MergeReport:
    out: Path
    lines: int
    shards: int
    images: int


def _load_shard(d: Path) -> tuple[dict[str, Any], list[tuple[int, dict[str, Any]]]]:
    import json

    gpath, ppath = d / GENERATION_FILE, d / PREDICTIONS
    if not d.is_dir():
        raise InputError("not a folder", path=d)
    if not gpath.is_file() or not ppath.is_file():
        raise InputError(
            f"not a `rolescape generate` output (needs {GENERATION_FILE} and {PREDICTIONS})", path=d
        )
    try:
        rec = json.loads(gpath.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(f"unreadable generation record: {e}", path=gpath) from None
    rows = list(read_jsonl(ppath))
    return rec, rows


def merge_predictions(
    dirs: Sequence[str | Path], out: str | Path, *, data: str | Path | None = None, overwrite: bool = False
) -> MergeReport:
    """Join the shards of one generate run; refuse a missing shard, a missing or duplicated id,
    shards of different runs or datasets. The merged lines are in the unsharded run's order."""
    from rolescape.io import atomic_dir

    if not dirs:
        raise InputError("merge-predictions needs the shard folders")
    shards = []
    for d in dirs:
        rec, rows = _load_shard(Path(d))
        shards.append((Path(d), rec, rows))
    first_dir, first, _ = shards[0]
    ref = first.get("settings", {})
    ns: set[int] = set()
    seen_shards: dict[int, Path] = {}
    for d, rec, _ in shards:
        st = rec.get("settings", {})
        if st.get("data_manifest_sha256") != ref.get("data_manifest_sha256"):
            raise InputError(
                f"shards of different datasets: manifest {str(st.get('data_manifest_sha256'))[:12]} here, "
                f"{str(ref.get('data_manifest_sha256'))[:12]} in {first_dir}",
                path=d,
            )
        diff = [k for k in sorted(set(st) | set(ref)) if st.get(k) != ref.get(k)]
        if diff:
            raise InputError(f"a shard of another run ({diff[0]} differs from {first_dir})", path=d)
        i, n = parse_shard(str(rec.get("shard", "")))
        ns.add(n)
        if i in seen_shards:
            raise InputError(f"shard {i}/{n} is given twice (also {seen_shards[i]})", path=d)
        seen_shards[i] = d
    if len(ns) != 1:
        raise InputError(f"shards split the run differently (n = {sorted(ns)})", path=first_dir)
    n = ns.pop()
    missing_shards = [f"{i}/{n}" for i in range(n) if i not in seen_shards]
    if missing_shards:
        raise InputError(f"shard {missing_shards[0]} is missing ({len(missing_shards)} of {n} missing)")
    where: dict[str, tuple[Path, int]] = {}
    by_id: dict[str, tuple[Path, dict[str, Any]]] = {}
    for d, _, rows in shards:
        for lineno, row in rows:
            rid = row.get("id") if isinstance(row, dict) else None
            if not isinstance(rid, str):
                raise InputError("not a prediction line (no id)", path=d / PREDICTIONS, where=str(lineno))
            if rid in where:
                od, ol = where[rid]
                raise InputError(
                    f"duplicate id {rid!r} (also {od / PREDICTIONS}:{ol})",
                    path=d / PREDICTIONS,
                    where=str(lineno),
                )
            where[rid] = (d, lineno)
            by_id[rid] = (d, row)
    order = _canonical_order(first_dir, first, data)
    expected = set(order)
    missing = sorted(expected - set(by_id))
    if missing:
        raise InputError(f"{len(missing)} ids are missing from the shards, e.g. {missing[0]!r}")
    extra = sorted(set(by_id) - expected)
    if extra:
        raise InputError(
            f"id {extra[0]!r} is not an item of the run's tasks", path=where[extra[0]][0] / PREDICTIONS
        )
    out = Path(out)
    n_images = 0
    with atomic_dir(out, overwrite=overwrite) as tmp:
        lines = []
        for rid in order:
            d, row = by_id[rid]
            for rel in [row["image"]] if isinstance(row.get("image"), str) else []:
                n_images += _copy_image(d, tmp, rel)
            for rel in row.get("images") or []:
                n_images += _copy_image(d, tmp, str(rel))
            lines.append(dumps_canonical(row) + "\n")
        (tmp / PREDICTIONS).write_text("".join(lines), encoding="utf-8")
        merged = dict(first)
        merged["shard"] = "0/1"
        merged["merged_from"] = [f"{i}/{n}" for i in range(n)]
        merged["complete"] = True
        merged.pop("partial_note", None)
        merged["counts"] = {t: sum(1 for r in order if r.startswith(t + "/")) for t in ref.get("tasks", [])}
        merged.pop("throughput", None)
        write_json_atomic(tmp / GENERATION_FILE, merged)
    return MergeReport(out=out, lines=len(order), shards=n, images=n_images)


def _copy_image(src_dir: Path, dst_dir: Path, rel: str) -> int:
    from rolescape.io import safe_join

    if rel.startswith("data:"):
        return 0
    src = safe_join(src_dir, rel, source=src_dir / PREDICTIONS)
    dst = dst_dir / rel
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return 1


def _canonical_order(first_dir: Path, rec: dict[str, Any], data: str | Path | None) -> list[str]:
    """Ids of the run's tasks in the unsharded order; needs the built dataset (recorded, or `data`)."""
    data_path = str(data) if data is not None else rec.get("data", {}).get("path")
    tasks = list(rec.get("settings", {}).get("tasks", []))
    if not data_path or not Path(data_path).is_dir():
        raise InputError(
            f"the built dataset of this run ({data_path!r}) is not there: merge needs it to check the id set",
            path=first_dir / GENERATION_FILE,
        )
    ds = BuiltDataset(data_path)
    if ds.manifest_sha256 != rec.get("settings", {}).get("data_manifest_sha256"):
        raise InputError("the built dataset at the recorded path changed since the run", path=data_path)
    per_char = {str(k): int(v) for k, v in rec.get("settings", {}).get("per_character", {}).items()}
    return [it["id"] for t in tasks for it in _task_items(ds, t, per_char)]
