"""The build pipeline end to end on the embedded demo: output layout, load_dataset round trip,
determinism, atomicity, refusal rules, validate, push dry-run, and the CLI's error contract."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from rolescape.builders.build import build
from rolescape.builders.validate import validate_built
from rolescape.cli import main
from rolescape.dataset import BuiltDataset
from rolescape.errors import OutputError, SourceError
from rolescape.schemas import TASKS


def _tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("built") / "demo"
    build("demo", out)
    return out


def test_layout_and_manifest(built: Path):
    m = json.loads((built / "manifest.json").read_text())
    assert m["format"] == "rolescape-built"
    for task in TASKS:
        assert m["configs"][task] == ["test"]
        rel = m["data_files"][task]["test"]
        assert (built / rel).is_file()
        # named by content: data/<config>/<split>-<first 16 hex of the file's sha256>.parquet
        assert rel == f"data/{task}/test-{m['files'][rel]['sha256'][:16]}.parquet"
        assert m["counts"][f"{task}/test"] > 0, task
    assert set(m["files"]) == {k for k in _tree(built) if k != "manifest.json"}
    card = (built / "README.md").read_text()
    assert card.startswith("---\n") and "configs:" in card and "no licence" in card.lower()
    assert (built / "audit.jsonl").read_text().strip()
    assert validate_built(built) == []


def test_every_config_loads_with_datasets(built: Path, tmp_path, monkeypatch):
    datasets = pytest.importorskip("datasets")
    from PIL import Image

    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    m = json.loads((built / "manifest.json").read_text())
    bd = BuiltDataset(built)
    for config, splits in m["configs"].items():
        ds = datasets.load_dataset(str(built), config)
        assert sorted(ds) == sorted(splits), config
        for split in splits:
            assert len(ds[split]) == m["counts"][f"{config}/{split}"]
            row = ds[split][0]
            for col in ("image", "reference_image"):
                if col in row:
                    assert isinstance(row[col], Image.Image)
            # The embedded bytes are the original file bytes, never re-encoded.
            if config == "images":
                raw = bd.read("images", split)[0]
                assert hashlib.sha256(raw["image"]["bytes"]).hexdigest() == raw["sha256"]


def test_two_builds_are_byte_identical(built: Path, tmp_path):
    again = tmp_path / "again"
    build("demo", again)
    assert _tree(again) == _tree(built)


def test_identical_build_is_left_untouched(built: Path, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(built, out)
    before = os.stat(out / "manifest.json").st_mtime_ns
    res = build("demo", out)
    assert res.unchanged and os.stat(out / "manifest.json").st_mtime_ns == before


def test_different_build_refused_without_overwrite(built: Path, tmp_path):
    out = tmp_path / "other"
    shutil.copytree(built, out)
    m = json.loads((out / "manifest.json").read_text())
    m["build_id"] = "0" * 64
    (out / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(OutputError, match="already holds a different build"):
        build("demo", out)
    assert json.loads((out / "manifest.json").read_text())["build_id"] == "0" * 64
    build("demo", out, overwrite=True)
    assert _tree(out) == _tree(built)


def test_folder_that_is_not_a_build_is_refused(tmp_path):
    out = tmp_path / "precious"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(OutputError, match="not a rolescape build"):
        build("demo", out, overwrite=True)
    assert (out / "notes.txt").read_text() == "keep me"


def test_unwritable_output(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="cannot write"):
        build("demo", blocker / "out")


def test_interrupted_build_leaves_nothing(tmp_path, monkeypatch):
    import rolescape.builders.export as export

    calls = {"n": 0}
    real = export.write_parquet

    def failing(*a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(export, "write_parquet", failing)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        build("demo", out)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary folder left behind either


def test_validate_names_changed_missing_unexpected_and_corrupt(built: Path, tmp_path):
    out = tmp_path / "v"
    shutil.copytree(built, out)
    m = json.loads((out / "manifest.json").read_text())
    t2i = m["data_files"]["t2i"]["test"]
    (out / t2i).unlink()
    with open(out / "audit.jsonl", "a") as f:
        f.write("\n")
    (out / "stray.txt").write_text("?")
    problems = validate_built(out)
    text = "\n".join(problems)
    assert f"{t2i}: missing" in text
    assert "audit.jsonl: changed" in text
    assert "stray.txt: unexpected" in text
    # A corrupt parquet whose hash was updated too: caught when the rows are read.
    out2 = tmp_path / "v2"
    shutil.copytree(built, out2)
    m = json.loads((out2 / "manifest.json").read_text())
    rel = m["data_files"]["dialogue"]["test"]
    p = out2 / rel
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    m["files"][rel] = {"sha256": hashlib.sha256(p.read_bytes()).hexdigest(), "bytes": p.stat().st_size}
    (out2 / "manifest.json").write_text(json.dumps(m))
    assert any(x.startswith(rel + ": corrupt parquet") for x in validate_built(out2))


def test_cli_validate_exit_codes(built: Path, tmp_path, capsys):
    assert main(["validate", str(built)]) == 0
    out = tmp_path / "broken"
    shutil.copytree(built, out)
    (out / "README.md").write_text("edited")
    assert main(["validate", str(out)]) == 2
    assert "README.md: changed" in capsys.readouterr().err


def test_push_dry_run_lists_exact_files_and_never_prints_token(built: Path, monkeypatch, capsys):
    secret = "hf_" + "S3cr3tT0kenValue1234567890"
    monkeypatch.setenv("HF_TOKEN", secret)
    assert main(["push", str(built), "--repo-id", "me/rolescape20", "--dry-run"]) == 0
    out = capsys.readouterr()
    m = json.loads((built / "manifest.json").read_text())
    for rel in m["files"]:
        assert rel in out.out
    assert "manifest.json" in out.out
    assert secret not in out.out + out.err


def test_push_without_token_is_one_clear_line(built: Path, monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert main(["push", str(built), "--repo-id", "me/rolescape20"]) == 2
    assert "no Hugging Face token" in capsys.readouterr().err


def test_hub_source_offline_says_how_to_use_a_local_copy(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(SourceError, match="--source /path"):
        build("hf://datasets/Tangc03/RoleScape20", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_hub_source_with_github_layout_in_cache(monkeypatch, tmp_path):
    """A Hub snapshot already in the standard cache is used offline; its layout is detected."""
    from rolescape.builders import sources

    snap = tmp_path / "snap" / "abc123"
    shutil.copytree(sources.resolve_demo().root / "data", snap / "data")
    monkeypatch.setattr("huggingface_hub.snapshot_download", lambda **kw: str(snap))
    res = sources.resolve_hub("hf://datasets/Tangc03/RoleScape20")
    assert res.root == snap and res.kind == "hub" and res.revision == "abc123"
    # A bare per-character layout (train/ and test/ at the top) is wrapped into the GitHub layout.
    bare = tmp_path / "bare" / "def456"
    shutil.copytree(sources.resolve_demo().root / "data" / "personalized_data", bare)
    monkeypatch.setattr("huggingface_hub.snapshot_download", lambda **kw: str(bare))
    res = sources.resolve_hub("hf://datasets/Tangc03/RoleScape20")
    assert (res.root / "data" / "personalized_data" / "train").is_dir()
    # Anything else fails with a clear message.
    odd = tmp_path / "odd" / "0"
    odd.mkdir(parents=True)
    (odd / "something.parquet").write_text("")
    monkeypatch.setattr("huggingface_hub.snapshot_download", lambda **kw: str(odd))
    with pytest.raises(SourceError, match="layout is not one rolescape knows"):
        sources.resolve_hub("hf://datasets/Tangc03/RoleScape20")


@pytest.mark.parametrize(
    "spec,msg",
    [
        ("/definitely/not/here", "does not exist"),
        ("__FILE__", "not a folder"),
        ("__EMPTY__", "not a RoleScape-20 release"),
    ],
)
def test_bad_sources_exit_2_with_one_line(spec, msg, tmp_path, capsys):
    if spec == "__FILE__":
        spec = str(tmp_path / "f.txt")
        Path(spec).write_text("x")
    elif spec == "__EMPTY__":
        spec = str(tmp_path / "empty")
        Path(spec).mkdir()
    assert main(["build", "--source", spec, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and msg in err[0]
    assert not (tmp_path / "out").exists()


def test_data_personalized_data_folder_is_accepted(tmp_path):
    from rolescape.builders.sources import resolve_demo, resolve_local

    demo = resolve_demo().root
    assert resolve_local(demo / "data" / "personalized_data").root == demo


def test_schema_export(tmp_path):
    assert main(["schema", "--out", str(tmp_path / "s")]) == 0
    names = {p.name for p in (tmp_path / "s").iterdir()}
    assert {"character.schema.json", "task_roleplay.schema.json", "results.schema.json"} <= names
    json.loads((tmp_path / "s" / "prediction.schema.json").read_text())
