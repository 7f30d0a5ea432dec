"""Write a built dataset folder: parquet per config/split, dataset card, audit, leakage, manifest.

Everything written is deterministic (sorted rows and keys, no timestamps): two builds of one source
are byte-identical. Parquet files carry the `datasets` Features in their Arrow schema metadata, so
`datasets.load_dataset(DIR, CONFIG)` decodes image columns to PIL.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from rolescape import PROTOCOL_VERSION, __version__
from rolescape.builders.assemble import metadata_rows, task_rows
from rolescape.builders.features import encode_rows, features_for
from rolescape.builders.release import ParsedRelease, Progress
from rolescape.dataset import CONFIG_SPLITS, TASK_SPLIT, content_relpath, parquet_relpath
from rolescape.io import sha256_file, write_json_atomic, write_text_atomic
from rolescape.schemas import (
    TASK_MODELS,
    TASKS,
    Character,
    DialogueScene,
    GrpoPrompt,
    ImageRecord,
    KnowledgeQA,
    Probe,
    Scene,
)

MANIFEST_FORMAT = "rolescape-built"
MANIFEST_VERSION = 2  # 2: content-named data files listed under `data_files`

CONFIG_MODELS: dict[str, type[BaseModel]] = {
    "characters": Character,
    "images": ImageRecord,
    "scenes": Scene,
    "dialogues": DialogueScene,
    "knowledge_qa": KnowledgeQA,
    "probes": Probe,
    "grpo_prompts": GrpoPrompt,
}


def config_model(config: str) -> type[BaseModel]:
    return CONFIG_MODELS.get(config) or TASK_MODELS[config]


def config_features(config: str) -> Any:
    import datasets

    extra = {"image": datasets.Image()} if config == "images" else None
    return features_for(config_model(config), extra)


def write_parquet(path: Path, config: str, rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = config_features(config).arrow_schema
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist(encode_rows(config_model(config), rows), schema=schema)
    pq.write_table(table, path, compression="zstd", row_group_size=256, write_statistics=False)


def write_build(
    parsed: ParsedRelease, out: Path, source: dict[str, Any], progress: Progress | None = None
) -> dict[str, Any]:
    """Write every file of a build into `out` (an empty temporary folder) and return the manifest."""
    tables: dict[tuple[str, str], list[dict[str, Any]]] = dict(metadata_rows(parsed))
    for task, rows in task_rows(parsed).items():
        tables[(task, TASK_SPLIT)] = rows
    # `datasets` cannot load an empty split ("corresponds to no data"), so a config/split without rows
    # (e.g. t2i_vqa for a user's character without GRPO prompts) is not written; the manifest lists it
    # under `empty_configs` and BuiltDataset.read returns [] for it.
    written = {k: v for k, v in tables.items() if v}
    total = len(written)
    data_files: dict[str, dict[str, str]] = {}
    for i, ((config, split), rows) in enumerate(sorted(written.items())):
        # Named by content: `datasets` keys its cache of a local folder by file names (and mtimes),
        # not by content, so a changed rebuild under the old names was served stale from the cache.
        tmp = out / parquet_relpath(config, split)
        write_parquet(tmp, config, rows)
        rel = content_relpath(config, split, sha256_file(tmp))
        tmp.rename(out / rel)
        data_files.setdefault(config, {})[split] = rel
        if progress:
            progress("write parquet", i + 1, total)

    counts = {f"{c}/{s}": len(r) for (c, s), r in sorted(tables.items())}
    all_configs = {c: list(s) for c, s in CONFIG_SPLITS.items()} | {t: [TASK_SPLIT] for t in TASKS}
    configs = {c: [s for s in splits if (c, s) in written] for c, splits in all_configs.items()}
    configs = {c: splits for c, splits in configs.items() if splits}
    empty = sorted(f"{c}/{s}" for (c, s), r in tables.items() if not r)

    from rolescape.builders.card import audit_report, dataset_card

    findings = [f.model_dump() for f in parsed.findings]
    write_text_atomic(
        out / "audit.jsonl",
        "".join(json.dumps(f, sort_keys=True, ensure_ascii=False) + "\n" for f in findings),
    )
    write_text_atomic(out / "audit_report.md", audit_report(parsed, source))
    write_json_atomic(out / "leakage.json", {"leakage": parsed.leakage, "floors": parsed.floors})
    write_text_atomic(out / "README.md", dataset_card(parsed, source, counts, configs, data_files))

    files = {}
    for p in sorted(out.rglob("*")):
        if p.is_file():
            rel = p.relative_to(out).as_posix()
            files[rel] = {"sha256": sha256_file(p), "bytes": p.stat().st_size}
    from rolescape.io import hash_obj

    manifest = {
        "format": MANIFEST_FORMAT,
        "format_version": MANIFEST_VERSION,
        "rolescape_version": __version__,
        "protocol_version": PROTOCOL_VERSION,
        "source": source,
        "configs": configs,
        "data_files": {c: dict(sorted(v.items())) for c, v in sorted(data_files.items())},
        "counts": counts,
        "empty_configs": empty,
        "findings": _finding_counts(parsed),
        "files": files,
    }
    manifest["build_id"] = hash_obj({k: v for k, v in manifest.items() if k != "rolescape_version"})
    write_json_atomic(out / "manifest.json", manifest)
    return manifest


def _finding_counts(parsed: ParsedRelease) -> dict[str, int]:
    out: dict[str, int] = {}
    for f in parsed.findings:
        out[f.severity] = out.get(f.severity, 0) + 1
    return dict(sorted(out.items()))
