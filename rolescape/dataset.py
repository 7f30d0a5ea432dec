"""Read a folder written by `rolescape build` without the `datasets` library (fast, no cache files).

Layout of a built folder (a valid Hugging Face dataset repository):

    README.md                     dataset card with YAML `configs:`
    manifest.json                 sha256 of every other file + source identity + counts
    audit.jsonl, audit_report.md  findings of the audit
    leakage.json                  leakage and answer-key floors
    data/<config>/<split>-00000-of-00001.parquet

Configs: `characters` (split full), `images` (train, test), `scenes` (train, test), `dialogues` (train,
test), `knowledge_qa` (train), `probes` (full), `grpo_prompts` (train), and one config per task of the
protocol (`roleplay`, `t2i`, `t2i_vqa`, `knowledge_mcq`, `visual_mcq`, `dialogue`, `memorization`,
`personality`), each with the single split `test`. A config/split without rows is not written (the
`datasets` library cannot load an empty split); the manifest names it in `empty_configs`.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Any

from rolescape.errors import InputError

TASK_SPLIT = "test"
CONFIG_SPLITS: dict[str, tuple[str, ...]] = {
    "characters": ("full",),
    "images": ("train", "test"),
    "scenes": ("train", "test"),
    "dialogues": ("train", "test"),
    "knowledge_qa": ("train",),
    "probes": ("full",),
    "grpo_prompts": ("train",),
}


def parquet_relpath(config: str, split: str) -> str:
    return f"data/{config}/{split}-00000-of-00001.parquet"


class BuiltDataset:
    """A built RoleScape folder. Rows come back as plain dicts; image columns as {bytes, path}."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        mpath = self.path / "manifest.json"
        if not mpath.is_file():
            raise InputError(
                "not a built rolescape dataset (no manifest.json); run `rolescape build` first",
                path=self.path,
            )
        try:
            self.manifest: dict[str, Any] = json.loads(mpath.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise InputError(f"malformed JSON: {e.msg}", path=mpath, where=f"{e.lineno}:{e.colno}") from None
        self._cache: dict[tuple[str, str], list[dict[str, Any]]] = {}

    @cached_property
    def manifest_sha256(self) -> str:
        from rolescape.io import sha256_file

        return sha256_file(self.path / "manifest.json")

    @property
    def source(self) -> str:
        return str(self.manifest.get("source", {}).get("identity", ""))

    def configs(self) -> dict[str, list[str]]:
        return {k: list(v) for k, v in self.manifest.get("configs", {}).items()}

    def read(self, config: str, split: str) -> list[dict[str, Any]]:
        key = (config, split)
        if key not in self._cache:
            import pyarrow.parquet as pq

            p = self.path / parquet_relpath(config, split)
            if not p.is_file() and f"{config}/{split}" in self.manifest.get("empty_configs", []):
                self._cache[key] = []  # built without rows, so not written (datasets cannot load it)
                return self._cache[key]
            if not p.is_file():
                raise InputError(f"config {config!r} split {split!r} is missing", path=p)
            self._cache[key] = pq.read_table(p).to_pylist()
        return self._cache[key]

    def task_items(self, task: str) -> list[dict[str, Any]]:
        return self.read(task, TASK_SPLIT)

    def characters(self) -> list[dict[str, Any]]:
        split = (self.configs().get("characters") or ["full"])[0]
        return self.read("characters", split)

    def character(self, slug: str) -> dict[str, Any]:
        for c in self.characters():
            if c["id"] == slug:
                return c
        raise InputError(f"unknown character {slug!r}", path=self.path)

    def images(self, split: str) -> list[dict[str, Any]]:
        return self.read("images", split)

    def reference_images(self, slug: str, split: str = "train") -> list[tuple[str, bytes]]:
        """(key, original bytes) of a character's images in `split`, in image-id order."""
        rows = [r for r in self.images(split) if r["character"] == slug]
        rows.sort(key=lambda r: int(r["image_id"]) if str(r["image_id"]).isdigit() else r["image_id"])
        return [(r["key"], r["image"]["bytes"]) for r in rows]
