"""`rolescape build` through the CLI (``rolescape.cli.main``): every bad input of the issue gives exit
code 2, ONE stderr line that names the file and the place, and no output folder (nor a temporary
sibling) left behind; ``--strict``; a user's own character end to end; the Hub source offline; the
schema export; and what the dataset card says."""

from __future__ import annotations

import io
import json
import shutil
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from rolescape.cli import main

FOLDER, PREFIX, DS = "Skyline-Tess Ray", "Tess Ray", "Tess_Ray"  # tests/conftest.py mini release


def run(capsys, *args: str) -> tuple[int, list[str]]:
    rc = main(list(args))
    err = capsys.readouterr().err
    return rc, [x for x in err.splitlines() if x.strip()]


def build_fails(capsys, source: Path | str, out: Path, *needles: str) -> str:
    """Build must fail with exit 2 and one stderr line holding every needle; nothing may be written."""
    before = sorted(p.name for p in out.parent.iterdir()) if out.parent.is_dir() else []
    rc, err = run(capsys, "build", "--source", str(source), "--out", str(out))
    assert rc == 2, err
    assert len(err) == 1, err
    line = err[0]
    assert line.startswith("error: ")
    for n in needles:
        assert n in line, f"{n!r} not in {line!r}"
    assert not out.exists()
    after = sorted(p.name for p in out.parent.iterdir()) if out.parent.is_dir() else []
    assert after == before, "a temporary folder was left behind"
    return line


# --------------------------------------------------------------------------------------- bad inputs


def test_missing_source(tmp_path, capsys):
    build_fails(capsys, tmp_path / "no-such-release", tmp_path / "out", "no-such-release", "does not exist")


def test_folder_that_is_not_the_release(tmp_path, capsys):
    src = tmp_path / "photos"
    (src / "holiday").mkdir(parents=True)
    build_fails(capsys, src, tmp_path / "out", str(src), "not a RoleScape-20 release", "holiday")


def test_malformed_json(mini_release: Any, tmp_path, capsys):
    mini_release.file("annotation.json").write_text('{\n  "description": "x",\n  "opening": \n}\n')
    build_fails(
        capsys, mini_release.root, tmp_path / "out", f"train/{FOLDER}/annotation.json:4:1:", "malformed JSON"
    )


def test_malformed_jsonl_line(mini_release: Any, tmp_path, capsys):
    p = mini_release.grpo / f"{DS}_pure_t2i_with_vqa.jsonl"
    lines = p.read_text().splitlines()
    p.write_text(lines[0] + "\n" + lines[1][:30] + "\n")
    build_fails(
        capsys, mini_release.root, tmp_path / "out", f"{DS}_pure_t2i_with_vqa.jsonl:2:", "malformed JSON"
    )


def test_json_of_the_wrong_shape(mini_release: Any, tmp_path, capsys):
    mini_release.edit(
        mini_release.file("{P}_knowledge_qa_test.json"),
        lambda o: o["mcq_items"][0].update(options=["a", "b"]),
    )
    build_fails(
        capsys,
        mini_release.root,
        tmp_path / "out",
        f"{PREFIX}_knowledge_qa_test.json:$.mcq_items[0].options: ",
        "expected an object, got a list",
    )


def test_unreadable_image(mini_release: Any, tmp_path, capsys):
    (mini_release.train / "0.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 30)
    build_fails(
        capsys,
        mini_release.root,
        tmp_path / "out",
        f"train/{FOLDER}/0.png: ",
        "unreadable or truncated image",
    )


def test_truncated_image(mini_release: Any, tmp_path, capsys):
    buf = io.BytesIO()
    Image.effect_noise((96, 96), 50).convert("RGB").save(buf, format="PNG")
    (mini_release.test / "0.png").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    build_fails(capsys, mini_release.root, tmp_path / "out", f"test/{FOLDER}/0.png: ", "truncated")


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims width x height, with no pixel data at all (nothing to decode)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    iend = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    return b"\x89PNG\r\n\x1a\n" + chunk + iend


@pytest.mark.parametrize(("w", "h"), [(9000, 8000), (10000, 10000)])
def test_image_over_64_megapixels_refused_before_decoding(mini_release: Any, tmp_path, capsys, w, h):
    # 72 MP is under PIL's own decompression-bomb limit, so only our check can refuse it; 100 MP is over
    # PIL's warning threshold. Neither file has pixel data: a decoder would fail differently.
    (mini_release.train / "1.png").write_bytes(_png_header_only(w, h))
    build_fails(
        capsys,
        mini_release.root,
        tmp_path / "out",
        f"train/{FOLDER}/1.png: ",
        f"{w}x{h}",
        "64 megapixel limit",
        "refused before decoding",
    )


def test_referenced_image_absent(mini_release: Any, tmp_path, capsys):
    (mini_release.test / "0.png").unlink()
    build_fails(
        capsys,
        mini_release.root,
        tmp_path / "out",
        f"test/{FOLDER}/annotation.json:$.scenes[0][1].image: ",
        "referenced image '0' is absent",
    )


@pytest.mark.parametrize(
    ("split", "name"),
    [("train", "{P}_knowledge_qa_test.json"), ("train", "annotation.json"), ("test", "{P}_with_image.json")],
)
def test_character_folder_without_a_required_file(mini_release: Any, tmp_path, capsys, split, name):
    mini_release.file(name, split).unlink()
    build_fails(
        capsys,
        mini_release.root,
        tmp_path / "out",
        f"{split}/{FOLDER}/{name.format(P=PREFIX)}: ",
        "required file is missing",
        repr(FOLDER),
    )


def test_unwritable_output(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    out = blocker / "built"
    rc, err = run(capsys, "build", "--source", "demo", "--out", str(out))
    assert rc == 2 and len(err) == 1, err
    assert str(out) in err[0] and "cannot write" in err[0]
    assert blocker.read_text() == "not a folder" and sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_output_is_an_existing_file(tmp_path, capsys):
    out = tmp_path / "out"
    out.write_text("precious")
    rc, err = run(capsys, "build", "--source", "demo", "--out", str(out))
    assert rc == 2 and len(err) == 1 and "exists and is not a folder" in err[0]
    assert out.read_text() == "precious"


@pytest.fixture(scope="module")
def demo_build(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "demo"
    assert main(["build", "--source", "demo", "--out", str(out)]) == 0
    return out


def test_output_holding_a_different_build_is_refused_without_overwrite(
    demo_build: Path, mini_release, tmp_path, capsys
):
    out = tmp_path / "out"
    shutil.copytree(demo_build, out)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    rc, err = run(capsys, "build", "--source", str(mini_release.root), "--out", str(out))
    assert rc == 2 and len(err) == 1, err
    assert str(out) in err[0] and "already holds a different build" in err[0] and "--overwrite" in err[0]
    # untouched, and no temporary sibling left
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mini", "out"]
    # with --overwrite it is replaced by the new build
    assert main(["build", "--source", str(mini_release.root), "--out", str(out), "--overwrite"]) == 0
    m = json.loads((out / "manifest.json").read_text())
    assert (
        m["source"]["kind"] == "local" and "name" not in m["source"] and m["counts"]["characters/full"] == 1
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mini", "out"]


def test_folder_that_is_not_a_build_is_refused_even_with_overwrite(tmp_path, capsys):
    out = tmp_path / "notes"
    out.mkdir()
    (out / "todo.txt").write_text("keep me")
    rc, err = run(capsys, "build", "--source", "demo", "--out", str(out), "--overwrite")
    assert rc == 2 and len(err) == 1 and "is not a rolescape build" in err[0]
    assert (out / "todo.txt").read_text() == "keep me" and len(list(out.iterdir())) == 1


# ------------------------------------------------------------------------------------------- strict


def test_strict_fails_on_error_findings_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "strict"
    rc, err = run(capsys, "build", "--source", "demo", "--out", str(out), "--strict")
    assert rc == 2
    assert err[0].startswith("error: --strict: the audit found ") and "nothing was written" in err[0]
    n = int(err[0].split("found ")[1].split()[0])
    assert n > 0
    # the lines after the first name the error-level findings: code, file and location
    assert any(" RS301 data/personalized_data/train/Maple Crumb/" in x and "@$.scenes[" in x for x in err[1:])
    assert not out.exists() and list(tmp_path.iterdir()) == []
    # the same build without --strict succeeds and records exactly that many errors
    assert main(["build", "--source", "demo", "--out", str(out)]) == 0
    findings = [json.loads(x) for x in (out / "audit.jsonl").read_text().splitlines()]
    assert sum(f["severity"] == "error" for f in findings) == n


def test_strict_passes_a_release_without_errors(mini_release: Any, tmp_path):
    (mini_release.train / ".DS_Store").write_bytes(b"\x00")  # an info finding does not stop --strict
    out = tmp_path / "out"
    assert main(["build", "--source", str(mini_release.root), "--out", str(out), "--strict"]) == 0
    assert (out / "manifest.json").is_file()


# --------------------------------------------------------------------------- a user's own character


def test_users_own_character_builds_end_to_end(mini_release: Any, tmp_path, monkeypatch):
    """A one-character release in the release layout, without flow_grpo, built by the same CLI."""
    datasets = pytest.importorskip("datasets")
    from rolescape.dataset import BuiltDataset
    from rolescape.schemas import TASKS

    shutil.rmtree(mini_release.root / "flow_grpo")
    out = tmp_path / "tess"
    assert main(["build", "--source", str(mini_release.root), "--out", str(out)]) == 0
    assert main(["validate", str(out)]) == 0

    bd = BuiltDataset(out)
    (char,) = bd.characters()
    assert (char["id"], char["folder"], char["prefix"], char["grpo_name"]) == ("tess-ray", FOLDER, PREFIX, DS)
    assert [r["id"] for r in bd.task_items("roleplay")] == ["roleplay/tess-ray/0"]
    assert bd.task_items("roleplay")[0]["train_image_keys"] == ["train/tess-ray/0", "train/tess-ray/1"]
    assert [r["id"] for r in bd.task_items("knowledge_mcq")] == ["knowledge_mcq/tess-ray/mcq_001"]
    assert len(bd.task_items("visual_mcq")) == 2 and len(bd.task_items("memorization")) == 2
    # no GRPO prompts: the config is empty, so it is not written, and reads back as no items
    assert bd.task_items("t2i_vqa") == [] and bd.read("grpo_prompts", "train") == []
    assert set(bd.manifest["empty_configs"]) == {"t2i_vqa/test", "grpo_prompts/train"}
    assert "t2i_vqa" not in bd.configs() and "config_name: t2i_vqa" not in (out / "README.md").read_text()
    assert [r["key"] for r in bd.images("train")] == ["train/tess-ray/0", "train/tess-ray/1"]
    assert bd.reference_images("tess-ray")[0][1] == (mini_release.train / "0.png").read_bytes()

    # every config that was written loads with the datasets library, images decoding to PIL
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    for config, splits in bd.configs().items():
        ds = datasets.load_dataset(str(out), config)
        assert sorted(ds) == sorted(splits)
    img = datasets.load_dataset(str(out), "roleplay", split="test")[0]["reference_image"]
    assert isinstance(img, Image.Image) and img.size == (20, 20)
    assert {t for t in TASKS if bd.manifest["counts"][f"{t}/test"] > 0} == set(TASKS) - {"t2i_vqa"}


# ---------------------------------------------------------------------------------------- Hub source


@pytest.fixture
def no_hub(monkeypatch, tmp_path):
    """A Hub endpoint nothing listens on, and an empty cache: the situation of an offline machine."""
    import huggingface_hub.constants as C

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(C, "ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setattr(C, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    monkeypatch.setattr(C, "HF_HUB_OFFLINE", False)


def test_hub_source_without_a_connection_says_how_to_use_a_local_copy(no_hub, tmp_path, capsys):
    line = build_fails(
        capsys, "hf://datasets/Tangc03/RoleScape20", tmp_path / "out", "hf://datasets/Tangc03/RoleScape20"
    )
    assert "no connection" in line and "--source /path/to/that/folder" in line
    assert "does not exist" not in line  # not mistaken for a missing repository


def test_hub_source_with_hf_hub_offline(monkeypatch, tmp_path, capsys):
    import huggingface_hub.constants as C

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(C, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    line = build_fails(capsys, "hf://datasets/Tangc03/RoleScape20", tmp_path / "out", "HF_HUB_OFFLINE is set")
    assert "--source /path/to/that/folder" in line


def test_bad_hub_spec(tmp_path, capsys):
    build_fails(capsys, "hf://models/someone/thing", tmp_path / "out", "hf://datasets/<owner>/<name>")


# -------------------------------------------------------------------------------------------- schema


def test_schema_exports_every_record(tmp_path, capsys):
    out = tmp_path / "schemas"
    assert main(["schema", "--out", str(out)]) == 0
    names = {p.name.removesuffix(".schema.json") for p in out.iterdir()}
    records = {
        "character",
        "image",
        "scene",
        "dialogue_scene",
        "knowledge_qa",
        "knowledge_mcq",
        "visual_mcq",
        "probe",
        "grpo_prompt",
        "finding",
        "task_roleplay",
        "task_t2i",
        "task_t2i_vqa",
        "task_knowledge_mcq",
        "task_visual_mcq",
        "task_dialogue",
        "task_probe",
    }
    assert records <= names
    character = json.loads((out / "character.schema.json").read_text())
    assert {
        "id",
        "folder",
        "prefix",
        "grpo_name",
        "aliases",
        "description",
        "opening",
        "full_profile",
        "personality_profile_raw",
        "personality_profile",
    } <= set(character["properties"])
    image = json.loads((out / "image.schema.json").read_text())
    assert {"split", "image_id", "sha256", "container", "mode", "width", "height", "has_alpha"} <= set(
        image["properties"]
    )
    finding = json.loads((out / "finding.schema.json").read_text())
    assert {"code", "severity", "character", "file", "location", "message", "repair"} <= set(
        finding["properties"]
    )
    probe = json.loads((out / "probe.schema.json").read_text())
    assert {"raw", "text", "flags"} <= set(probe["properties"])
    roleplay = json.loads((out / "task_roleplay.schema.json").read_text())
    assert {"id", "user_text", "reference_response", "reference_image", "train_image_keys"} <= set(
        roleplay["properties"]
    )


# ----------------------------------------------------------------------------------------- the card


def test_card_and_audit_report_tables(demo_build: Path):
    card = (demo_build / "README.md").read_text()
    head, _, body = card.partition("\n---\n")
    assert head.startswith("---\n") and "configs:\n- config_name: characters" in head
    assert "no licence" in body.lower() or "no **licence" in body.lower()
    assert "### Rule catalogue per character" in body
    # rows are rules, columns are the characters (slugs come from the file prefixes, not the folders)
    assert "| code | rule | severity | total | keeper-nine | maple-crumb | thistlebrood |" in body
    assert "| RS301 | hallucinated-image-id | error |" in body
    # leakage: one compact table, character x check
    assert (
        "| character | dialogue test input in train | MCQ question in train KQA | MCQ answer = a train KQA answer |"
        in body
    )
    assert "| thistlebrood | 1/5 |" in body
    # floors: one table per MCQ family, total row last
    assert "### Knowledge MCQ (`knowledge_mcq`)" in body and "### Visual MCQ (`visual_mcq`)" in body
    assert (
        "| character | n | keys A / B / C / D | always A | always B | always C | always D | longest option |"
        in body
    )
    assert "| **total** | **18** | **1 / 8 / 8 / 1** |" in body
    # the generic nested-dict rendering is gone
    assert "- **n**:" not in body and "###### answer_keys" not in body
    report = (demo_build / "audit_report.md").read_text()
    assert "## Leakage between train and test" in report and "## MCQ answer-key floors" in report
    assert "| thistlebrood | 1/5 |" in report
