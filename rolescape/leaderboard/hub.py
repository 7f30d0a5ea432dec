"""Push a scored run to a Hugging Face dataset repository, with a generated card.

Layout of the repository (one config per model, split `latest`, as lm-evaluation-harness details repos):

    README.md                              card: YAML `configs:` listing every model's per-item file
    data/<model>/latest.parquet            per-item scores (one row per item, one column per metric)
    results/<model>/results.json           the aggregate results file, byte for byte
    results/<model>/items.jsonl            the per-item log as written by `rolescape score`

`--dry-run` builds exactly the files that would be uploaded and lists them; it needs no network. The
token comes from `--token-env VAR`, else huggingface_hub's usual places (HF_TOKEN, the stored token),
and is never printed: error messages are scrubbed of it. The error, the repo-id check, the token, the
plan and its report are :mod:`rolescape.hub`'s, shared with `rolescape push`.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rolescape.errors import InputError, RolescapeError
from rolescape.hub import (
    REPO_TYPE,
    PlannedFile,
    PushError,
    UploadPlan,
    check_repo_id,
    push_failed,
    require_token,
    resolve_token,
)
from rolescape.leaderboard.load import Run, load_results, load_run
from rolescape.leaderboard.tables import TASK_TITLES, pick_headline
from rolescape.schemas.results import Results

SPLIT = "latest"
_FIXED = ("model", "id", "task", "character", "key")


@dataclass
class PushReport:
    plan: UploadPlan
    token_source: str
    dry_run: bool
    commit_url: str | None = None


def config_name_for(model_name: str) -> str:
    """A Hub config name (letters, digits, `_`, `-`, `.`) from a model name."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", model_name).strip("_.-")
    return name or "model"


def items_parquet(run: Run) -> bytes:
    """Per-item rows sorted by (task, id): fixed columns, one float column per metric, `info` as JSON."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    items = sorted((run.items or {}).values(), key=lambda s: (s.task, s.id))
    metrics = sorted({m for s in items for m in s.metrics})
    colname = {m: (f"metric_{m}" if m in (*_FIXED, "info") else m) for m in metrics}
    cols: dict[str, Any] = {
        "model": pa.array([run.results.model_name] * len(items), pa.string()),
        "id": pa.array([s.id for s in items], pa.string()),
        "task": pa.array([s.task for s in items], pa.string()),
        "character": pa.array([s.character for s in items], pa.string()),
        "key": pa.array([s.key for s in items], pa.string()),
    }
    for m in metrics:
        cols[colname[m]] = pa.array([s.metrics.get(m) for s in items], pa.float64())
    cols["info"] = pa.array(
        [json.dumps(s.info, sort_keys=True, ensure_ascii=False) for s in items], pa.string()
    )
    buf = io.BytesIO()
    pq.write_table(pa.table(cols), buf, compression="zstd")
    return buf.getvalue()


def _fmt(v: float | None) -> str:
    return "—" if v is None else f"{v:.4f}"


def _model_section(config: str, res: Results) -> list[str]:
    p, d, c = res.provenance, res.dataset, res.config
    out = [
        f"## {config}",
        "",
        f"- Model name: `{res.model_name}`",
        f"- Protocol {p.protocol_version}, rolescape {p.rolescape_version}"
        + (f" (git {p.git_hash[:10]})" if p.git_hash else ""),
        f"- Dataset: manifest sha256 `{d.manifest_sha256}`, source `{d.source}`",
        f"- Profile `{c.profile}`, alpha `{c.alpha}`, seed {c.seed}, {c.bootstrap} bootstrap resamples, "
        f"device `{c.device}`, batch size {c.batch_size}",
        f"- Predictions sha256 `{c.predictions_sha256}`",
        f"- Scored {p.started_at} to {p.finished_at} ({p.wall_time_s:.0f} s)",
        f'- Per-item scores: `load_dataset(REPO, "{config}", split="{SPLIT}")`; '
        f"aggregate: `results/{config}/results.json`",
        "",
    ]
    if res.models:
        out += ["| role | model | revision | dtype | preprocessing | source |", "|---|---|---|---|---|---|"]
        for name, m in sorted(res.models.items()):
            out.append(
                f"| {name} | `{m.id}` | {m.revision or '—'} | {m.dtype} | {m.preprocessing} | {m.source} |"
            )
        out.append("")
    out += ["| task | metric | mean | 95% interval | n | coverage |", "|---|---|---:|---:|---:|---:|"]
    for task in sorted(res.tasks):
        tr = res.tasks[task]
        for metric, s in sorted(tr.metrics.items()):
            ci = f"[{_fmt(s.ci_low)}, {_fmt(s.ci_high)}]" if s.ci_low is not None else "—"
            out.append(f"| {task} | {metric} | {_fmt(s.mean)} | {ci} | {s.n} | {100 * tr.coverage:.1f}% |")
    if res.skipped:
        out += ["", "Skipped metrics:"] + [f"- {s.task}/{s.metric}: {s.reason}" for s in res.skipped]
    out.append("")
    return out


def build_card(repo_id: str, results: dict[str, Results | None]) -> str:
    """README.md with YAML `configs:` (one per model, split `latest`) and a section per model."""
    import yaml

    configs = sorted(results)
    meta = {
        "pretty_name": "RoleScape evaluation results",
        "tags": ["rolescape", "evaluation", "role-play", "multimodal"],
        "configs": [
            {"config_name": c, "data_files": [{"split": SPLIT, "path": f"data/{c}/{SPLIT}.parquet"}]}
            for c in configs
        ],
    }
    lines = [
        "---",
        yaml.safe_dump(meta, sort_keys=False, allow_unicode=True).rstrip(),
        "---",
        "",
        "# RoleScape evaluation results",
        "",
        "Scores of `rolescape score` (Customized Multimodal Role-Play, RoleScape-20; protocol in the rolescape "
        "documentation). One config per model; its `latest` split holds one row per evaluated item with one "
        "column per metric (empty where a metric does not apply).",
        "",
        "```python",
        "from datasets import load_dataset",
        "",
        f'rows = load_dataset("{repo_id}", "{configs[0] if configs else "MODEL"}", split="{SPLIT}")',
        "```",
        "",
    ]
    headline_rows = []
    for c in configs:
        res = results[c]
        if res is None:
            continue
        cells = []
        for task in sorted(res.tasks):
            run = Run(label=c, path=Path("."), results=res)
            m = pick_headline([run], task)
            s = res.tasks[task].metrics.get(m) if m else None
            cells.append(f"{TASK_TITLES.get(task, task)} {m}: {_fmt(s.mean if s else None)}")
        headline_rows.append(f"| {c} | {'; '.join(cells)} |")
    if headline_rows:
        lines += ["## Summary", "", "| model | headline metric per task |", "|---|---|", *headline_rows, ""]
    for c in configs:
        res = results[c]
        lines += (
            _model_section(c, res) if res is not None else [f"## {c}", "", "(results.json not readable)", ""]
        )
    return "\n".join(lines)


def plan_push(
    run_dir: str | Path,
    repo_id: str,
    *,
    private: bool = False,
    others: dict[str, Results | None] | None = None,
) -> UploadPlan:
    """The exact files one push uploads; `others` are the configs already in the repository."""
    check_repo_id(repo_id)
    run = load_run(run_dir)
    if run.items is None:
        raise InputError(
            f"{run.results.items_file} not found beside it: the per-item log is part of a push", path=run.path
        )
    cfg = config_name_for(run.results.model_name)
    items_path = run.path.parent / run.results.items_file
    all_results = dict(others or {})
    all_results[cfg] = run.results
    files = [
        PlannedFile.from_bytes("README.md", build_card(repo_id, all_results).encode("utf-8"), "dataset card"),
        PlannedFile.from_bytes(
            f"data/{cfg}/{SPLIT}.parquet", items_parquet(run), f"{len(run.items)} per-item rows"
        ),
        PlannedFile.from_bytes(f"results/{cfg}/results.json", run.path.read_bytes(), "aggregate results"),
        PlannedFile.from_bytes(f"results/{cfg}/items.jsonl", items_path.read_bytes(), "per-item log"),
    ]
    msg = f"rolescape results: {run.results.model_name} (protocol {run.results.provenance.protocol_version})"
    return UploadPlan(
        repo_id=repo_id,
        files=files,
        commit_message=msg,
        private=private,
        details=[f"config: {cfg}, split {SPLIT} (configs after the push: {', '.join(sorted(all_results))})"],
    )


def _existing(api: Any, repo_id: str) -> dict[str, Results | None]:
    """Configs already in the repository, with their results when they can be read."""
    files = api.list_repo_files(repo_id, repo_type=REPO_TYPE)
    out: dict[str, Results | None] = {}
    for f in files:
        m = re.fullmatch(rf"data/([^/]+)/{SPLIT}\.parquet", f)
        if not m:
            continue
        cfg = m.group(1)
        out[cfg] = None
        if f"results/{cfg}/results.json" in files:
            try:
                out[cfg] = load_results(
                    api.hf_hub_download(repo_id, f"results/{cfg}/results.json", repo_type=REPO_TYPE)
                )
            except Exception:  # a bad older file must not block this push; its section says so
                out[cfg] = None
    return out


def push_results(
    run_dir: str | Path,
    repo_id: str,
    *,
    dry_run: bool = False,
    private: bool = False,
    token_env: str | None = None,
    api: Any = None,
) -> PushReport:
    if dry_run:
        plan = plan_push(run_dir, repo_id, private=private)
        _, where = resolve_token(token_env)
        return PushReport(plan=plan, token_source=where, dry_run=True)
    token, where = require_token(token_env)
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi(token=token)
    try:
        from huggingface_hub import CommitOperationAdd

        api.create_repo(repo_id, repo_type=REPO_TYPE, private=private, exist_ok=True)
        plan = plan_push(run_dir, repo_id, private=private, others=_existing(api, repo_id))
        ops = [
            CommitOperationAdd(path_in_repo=f.path_in_repo, path_or_fileobj=f.data or b"") for f in plan.files
        ]
        info = api.create_commit(
            repo_id, operations=ops, commit_message=plan.commit_message, repo_type=REPO_TYPE
        )
    except RolescapeError:
        raise  # our own messages never contain the token
    except Exception as e:  # huggingface_hub / requests errors: one line, token scrubbed
        raise push_failed("push", repo_id, e, token) from None
    url = getattr(info, "commit_url", None) or getattr(info, "oid", None)
    return PushReport(plan=plan, token_source=where, dry_run=False, commit_url=str(url) if url else None)


__all__ = [
    "PushError",
    "PushReport",
    "build_card",
    "config_name_for",
    "items_parquet",
    "plan_push",
    "push_results",
    "resolve_token",
]
