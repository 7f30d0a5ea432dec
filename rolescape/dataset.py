"""Read a folder written by `rolescape build` without the `datasets` library (fast, no cache files).

Layout of a built folder (a valid Hugging Face dataset repository):

    README.md                     dataset card with YAML `configs:`
    manifest.json                 sha256 of every other file + source identity + counts + data_files
    audit.jsonl, audit_report.md  findings of the audit
    leakage.json                  leakage and answer-key floors
    data/<config>/<split>-<sha256[:16] of the file>.parquet

Data files are named by their content (manifest format 2, listed under `data_files`), so that
`datasets.load_dataset` never serves a changed rebuild from its cache (it keys local files by name and
mtime only). Builds of format 1 used `data/<config>/<split>-00000-of-00001.parquet`; they are still
read (`legacy_layout`), and should be rebuilt with `rolescape build --overwrite`.

Every data file is verified against the manifest's sha256 before it is read (hashed once, then cached by
path, size, mtime and ctime in `$XDG_CACHE_HOME/rolescape/verified-files.json`): a file edited or
truncated after the build is refused with its name, never scored. `verified` holds the checked hashes.

Configs: `characters` (split full), `images` (train, test), `scenes` (train, test), `dialogues` (train,
test), `knowledge_qa` (train), `probes` (full), `grpo_prompts` (train), and one config per task of the
protocol (`roleplay`, `t2i`, `t2i_vqa`, `knowledge_mcq`, `visual_mcq`, `dialogue`, `memorization`,
`personality`), each with the single split `test`. A config/split without rows is not written (the
`datasets` library cannot load an empty split); the manifest names it in `empty_configs`.
"""

from __future__ import annotations

import json
import os
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
    """The data file name of a format-1 build (and the temporary name while a build writes it)."""
    return f"data/{config}/{split}-00000-of-00001.parquet"


def content_relpath(config: str, split: str, sha256: str) -> str:
    """The data file name of a format-2 build: the split and the first 16 hex digits of its sha256."""
    return f"data/{config}/{split}-{sha256[:16]}.parquet"


def manifest_data_relpath(
    manifest: dict[str, Any], config: str, split: str, *, path: str | Path | None = None
) -> str | None:
    """The data file of config/split as `manifest` names it (format 2) or by the format-1 name;
    None for a config/split that was built empty."""
    if f"{config}/{split}" in manifest.get("empty_configs", []):
        return None
    data_files = manifest.get("data_files")
    if not isinstance(data_files, dict):
        return parquet_relpath(config, split)
    entry = data_files.get(config)
    rel = entry.get(split) if isinstance(entry, dict) else None
    if not isinstance(rel, str):
        raise InputError(f"config {config!r} split {split!r} is not in this build", path=path)
    return rel


VERIFY_CACHE_MAX = 4096


def verify_cache_path() -> Path:
    """`$XDG_CACHE_HOME/rolescape/verified-files.json`, else under `~/.cache`."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rolescape" / "verified-files.json"


def _stat_key(p: Path) -> str:
    st = os.stat(p)
    return f"{os.path.realpath(p)}|{st.st_size}|{st.st_mtime_ns}|{st.st_ctime_ns}|{st.st_ino}"


def _cached_sha256(p: Path) -> str:
    """sha256 of `p`, hashed once per (path, size, mtime, ctime, inode) and remembered on disk."""
    from rolescape.io import sha256_file, write_json_atomic

    key = _stat_key(p)
    cache_file = verify_cache_path()
    try:
        cache = json.loads(cache_file.read_text(encoding="utf-8"))
        if not isinstance(cache, dict):
            cache = {}
    except (OSError, ValueError, RecursionError):
        cache = {}
    hit = cache.get(key)
    if isinstance(hit, str):
        return hit
    sha = sha256_file(p)
    cache[key] = sha
    if len(cache) > VERIFY_CACHE_MAX:
        cache = dict(list(cache.items())[-VERIFY_CACHE_MAX // 2 :])
    try:
        write_json_atomic(cache_file, cache, indent=None)
    except OSError:
        pass  # a read-only home only costs a re-hash next time
    return sha


class BuiltDataset:
    """A built RoleScape folder. Rows come back as plain dicts; image columns as {bytes, path}.

    Every data file is checked against manifest.json before it is read (see the module docstring);
    pass `verify=False` only for tools that report on a damaged build themselves.
    """

    def __init__(self, path: str | Path, *, verify: bool = True):
        self.path = Path(path)
        self.verify = verify
        self.verified: dict[str, str] = {}  # data file (relative path) -> sha256 checked against the manifest
        mpath = self.path / "manifest.json"
        from rolescape.io import _stat_problem, name_problem

        if (why := name_problem(self.path)) is not None:
            raise InputError(f"dataset path {why}")
        problem, st = _stat_problem(self.path)
        if problem == "missing":
            raise InputError("not a built rolescape dataset (folder not found)", path=self.path)
        if problem is not None:
            raise InputError(f"not a built rolescape dataset ({problem})", path=self.path)
        if not self.path.is_dir():
            raise InputError("not a built rolescape dataset (a file, not a folder)", path=self.path)
        if not mpath.is_file():
            raise InputError(
                "not a built rolescape dataset (no manifest.json); run `rolescape build` first",
                path=self.path,
            )
        from rolescape.io import loads_json, sha256_bytes

        try:
            raw = mpath.read_bytes()
        except OSError as e:
            raise InputError(f"cannot read: {e.strerror or e}", path=mpath) from None
        manifest = loads_json(raw, path=mpath)
        if not isinstance(manifest, dict):
            raise InputError("not a rolescape manifest (not a JSON object)", path=mpath)
        self.manifest: dict[str, Any] = manifest
        # the hash of exactly the bytes the data files are verified against (recorded by every run)
        self._manifest_sha256 = sha256_bytes(raw)
        self._cache: dict[tuple[str, str], list[dict[str, Any]]] = {}

    @property
    def manifest_sha256(self) -> str:
        """sha256 of the manifest.json read at open: every verified data file is covered by it."""
        return self._manifest_sha256

    @property
    def source(self) -> str:
        return str(self.manifest.get("source", {}).get("identity", ""))

    @property
    def legacy_layout(self) -> bool:
        """Built by rolescape before content-named data files (format 1): rebuild with --overwrite."""
        return not isinstance(self.manifest.get("data_files"), dict)

    def configs(self) -> dict[str, list[str]]:
        return {k: list(v) for k, v in self.manifest.get("configs", {}).items()}

    def data_relpath(self, config: str, split: str) -> str | None:
        """The data file of config/split relative to the folder; None for a config/split built empty."""
        return manifest_data_relpath(self.manifest, config, split, path=self.path / "manifest.json")

    def data_file(self, config: str, split: str) -> Path | None:
        """The verified path of config/split (None when built empty); refuses a missing or changed file."""
        from rolescape.io import resolve_inside

        rel = self.data_relpath(config, split)
        if rel is None:
            return None
        p = resolve_inside(
            self.path, rel, what="data file", path=self.path / "manifest.json", root_name=str(self.path)
        )
        if not p.is_file():
            raise InputError(f"config {config!r} split {split!r} is missing", path=self.path / rel)
        if self.verify:
            self._verify(rel, p)
        return p

    def _verify(self, rel: str, p: Path) -> None:
        files = self.manifest.get("files")
        if not isinstance(files, dict):
            return  # not written by `rolescape build` (hand-made test folders): nothing to check against
        meta = files.get(rel)
        if not isinstance(meta, dict) or not isinstance(meta.get("sha256"), str):
            raise InputError(
                "not listed in manifest.json; rebuild with `rolescape build`", path=self.path / rel
            )
        if rel in self.verified:
            return
        hint = "; run `rolescape validate` and rebuild (`rolescape build --overwrite`)"
        size = p.stat().st_size
        if isinstance(meta.get("bytes"), int) and size != meta["bytes"]:
            raise InputError(
                f"changed since it was built ({size} bytes, manifest.json says {meta['bytes']}){hint}",
                path=self.path / rel,
            )
        sha = _cached_sha256(p)
        if sha != meta["sha256"]:
            raise InputError(
                f"changed since it was built (sha256 differs from manifest.json){hint}", path=self.path / rel
            )
        self.verified[rel] = sha

    def read_table(self, config: str, split: str, columns: list[str] | None = None) -> Any:
        """The verified pyarrow Table of config/split (None when built empty); a corrupt file is one line."""
        import pyarrow.parquet as pq

        p = self.data_file(config, split)
        if p is None:
            return None
        try:
            return pq.read_table(p, columns=columns)
        except Exception as e:  # pyarrow raises ArrowInvalid, OSError, ... for damaged files
            first = (str(e).splitlines() or [type(e).__name__])[0]
            raise InputError(f"not a readable parquet file ({first[:200]})", path=p) from None

    def read(self, config: str, split: str) -> list[dict[str, Any]]:
        key = (config, split)
        if key not in self._cache:
            table = self.read_table(config, split)
            self._cache[key] = [] if table is None else table.to_pylist()
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
