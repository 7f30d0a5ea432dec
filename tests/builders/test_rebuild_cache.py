"""Issue 13: `datasets.load_dataset` must see a rebuilt folder's new content, with no flag.

The reproduction of the issue, exactly: build a source into X, open every config with `load_dataset` in
one Python process (which fills the datasets cache), append a line to a character's full profile,
rebuild with `rolescape build --overwrite`, and open every config again in a NEW process sharing the same
cache. Each config must hold the rows now in X's parquet files. Before data files were named by content,
the second process got the old rows from the cache (datasets keys a local folder's cache by file names
and mtimes, not content).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rolescape.dataset import BuiltDataset
from rolescape.io import hash_obj

# Prints {config: {split: sha256 of the rows}} as load_dataset returns them (Arrow rows, bytes as hashes).
LOADER = r"""
import hashlib, json, sys
import datasets

def norm(v):
    if isinstance(v, dict):
        return {k: norm(x) for k, x in sorted(v.items())}
    if isinstance(v, list):
        return [norm(x) for x in v]
    if isinstance(v, bytes):
        return hashlib.sha256(v).hexdigest()
    return v

folder, configs = sys.argv[1], json.loads(sys.argv[2])
out = {}
for config, splits in sorted(configs.items()):
    ds = datasets.load_dataset(folder, config)
    out[config] = {}
    for split in splits:
        rows = [norm(r) for r in ds[split].with_format("arrow")[:].to_pylist()]  # undecoded, as stored
        out[config][split] = hashlib.sha256(json.dumps(rows, sort_keys=True, default=str).encode()).hexdigest()
print(json.dumps(out))
"""


def _norm(v):
    import hashlib

    if isinstance(v, dict):
        return {k: _norm(x) for k, x in sorted(v.items())}
    if isinstance(v, list):
        return [_norm(x) for x in v]
    if isinstance(v, bytes):
        return hashlib.sha256(v).hexdigest()
    return v


def _truth(folder: Path) -> dict[str, dict[str, str]]:
    """The same digest computed from the parquet files now in the folder (not through datasets)."""
    import hashlib

    ds = BuiltDataset(folder)
    out: dict[str, dict[str, str]] = {}
    for config, splits in sorted(ds.configs().items()):
        out[config] = {}
        for split in splits:
            rows = [_norm(r) for r in ds.read(config, split)]
            text = json.dumps(rows, sort_keys=True, default=str)
            out[config][split] = hashlib.sha256(text.encode()).hexdigest()
    return out


def _load_in_new_process(folder: Path, cache: Path) -> dict[str, dict[str, str]]:
    configs = BuiltDataset(folder).configs()
    env = {**__import__("os").environ, "HF_DATASETS_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", LOADER, str(folder), json.dumps(configs)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _build(source: Path, out: Path, *extra: str) -> None:
    code = "import sys; from rolescape.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.run(
        [sys.executable, "-c", code, "build", "--source", str(source), "--out", str(out), *extra],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.slow
def test_load_dataset_sees_a_rebuild_in_place(mini_release, tmp_path: Path):
    pytest.importorskip("datasets")
    out, cache = tmp_path / "X", tmp_path / "hf-cache"
    _build(mini_release.root, out)
    first = _load_in_new_process(out, cache)
    assert first == _truth(out)  # the round trip of every config
    old_names = sorted(BuiltDataset(out).manifest["data_files"]["characters"].values())

    prof = mini_release.file("Tess Ray_full_profile.txt")
    prof.write_text(prof.read_text() + "Tess also collects sea glass.\n")
    _build(mini_release.root, out, "--overwrite")
    truth = _truth(out)
    assert truth["characters"] != first["characters"]  # the change reached the build
    assert "sea glass" in BuiltDataset(out).characters()[0]["full_profile"]

    second = _load_in_new_process(out, cache)
    for config in truth:
        assert second[config] == truth[config], f"load_dataset returned stale rows for {config!r}"
    # the changed config is a differently named file; the unchanged ones keep their names
    new_names = sorted(BuiltDataset(out).manifest["data_files"]["characters"].values())
    assert new_names != old_names


def test_two_builds_of_one_source_have_the_same_content_names(mini_release, tmp_path: Path):
    from rolescape.builders.build import build

    a = build(mini_release.root, tmp_path / "a").manifest
    b = build(mini_release.root, tmp_path / "b").manifest
    assert a["data_files"] == b["data_files"] and hash_obj(a) == hash_obj(b)
    card = (tmp_path / "a" / "README.md").read_text()
    for splits in a["data_files"].values():
        for rel in splits.values():
            assert f"path: {rel}" in card  # the card's configs point at the content-named files
