"""rolescape.dataset.BuiltDataset: opening a build, verifying its data files, reading rows.

The same refusals through `rolescape score` / `validate` (edited and truncated parquet, a manifest
pointing outside, the format-1 layout) are in tests/metrics/test_path_integrity.py; here the library
object is tested directly on copies of the session's demo build.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rolescape.dataset import (
    CONFIG_SPLITS,
    BuiltDataset,
    content_relpath,
    manifest_data_relpath,
    parquet_relpath,
    verify_cache_path,
)
from rolescape.errors import InputError


@pytest.fixture(autouse=True)
def _own_verify_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


@pytest.fixture
def built(demo_built: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "built"
    shutil.copytree(demo_built, dst)
    return dst


def _manifest(root: Path) -> dict:
    return json.loads((root / "manifest.json").read_text())


def test_reads_rows_and_records_what_it_verified(built: Path) -> None:
    data = BuiltDataset(built)
    assert not data.legacy_layout and data.source
    assert set(CONFIG_SPLITS) <= set(data.configs())
    mcq = data.task_items("knowledge_mcq")
    assert mcq and all(r["id"].startswith("knowledge_mcq/") for r in mcq)
    rel = data.data_relpath("knowledge_mcq", "test")
    assert rel is not None and rel == content_relpath("knowledge_mcq", "test", data.verified[rel])
    assert data.task_items("knowledge_mcq") is mcq  # read once
    slugs = [c["id"] for c in data.characters()]
    assert data.character(slugs[0])["id"] == slugs[0]
    with pytest.raises(InputError, match="unknown character 'nobody'"):
        data.character("nobody")
    keys = [k for k, _ in data.reference_images(slugs[0])]
    assert keys and all(isinstance(b, bytes) and b for _, b in data.reference_images(slugs[0]))
    assert verify_cache_path().is_file()  # hashes are remembered for the next open


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda p: shutil.rmtree(p), "folder not found"),
        (lambda p: (shutil.rmtree(p), p.write_text("x")), "a file, not a folder"),
        (lambda p: (p / "manifest.json").unlink(), "no manifest.json"),
        (lambda p: (p / "manifest.json").write_text("[1, 2]"), "not a JSON object"),
        (lambda p: (p / "manifest.json").write_text('{"configs": '), "malformed JSON"),
    ],
)
def test_a_folder_that_is_not_a_build_is_one_line(built: Path, make, words: str) -> None:
    make(built)
    with pytest.raises(InputError) as e:
        BuiltDataset(built)
    assert words in str(e.value) and "\n" not in str(e.value)


def test_a_changed_data_file_is_refused_with_its_name(built: Path) -> None:
    data = BuiltDataset(built)
    rel = data.data_relpath("dialogue", "test")
    assert rel is not None
    p = built / rel
    raw = bytearray(p.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # same size, other content
    p.write_bytes(bytes(raw))
    with pytest.raises(InputError) as e:
        BuiltDataset(built).task_items("dialogue")
    assert str(e.value).startswith(str(p)) and "sha256 differs from manifest.json" in str(e.value)
    p.write_bytes(bytes(raw[:-10]))
    with pytest.raises(InputError, match=r"bytes, manifest.json says \d+"):
        BuiltDataset(built).task_items("dialogue")
    BuiltDataset(built, verify=False).data_file("dialogue", "test")  # tools that report damage themselves


def test_a_data_file_the_manifest_does_not_list_is_refused(built: Path) -> None:
    m = _manifest(built)
    rel = m["data_files"]["dialogue"]["test"]
    del m["files"][rel]
    (built / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(InputError, match="not listed in manifest.json"):
        BuiltDataset(built).task_items("dialogue")


def test_manifest_names_resolve_inside_the_build(built: Path, tmp_path: Path) -> None:
    m = _manifest(built)
    m["data_files"]["dialogue"]["test"] = "../elsewhere.parquet"
    (built / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(InputError, match="escapes"):
        BuiltDataset(built).task_items("dialogue")
    with pytest.raises(InputError, match="config 'nope' split 'test' is not in this build"):
        BuiltDataset(built).task_items("nope")


def test_empty_configs_and_the_format_1_names() -> None:
    m = {"empty_configs": ["probes/full"], "data_files": {"scenes": {"train": "data/scenes/train-x.parquet"}}}
    assert manifest_data_relpath(m, "probes", "full") is None
    assert manifest_data_relpath(m, "scenes", "train") == "data/scenes/train-x.parquet"
    assert manifest_data_relpath({}, "scenes", "train") == parquet_relpath("scenes", "train")
    assert content_relpath("t2i", "test", "ab" * 32) == "data/t2i/test-" + "ab" * 8 + ".parquet"
