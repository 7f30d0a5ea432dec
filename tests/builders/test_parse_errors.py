"""Bad input raises InputError with ONE line that names the file and the place (line:col, JSON path or id)."""

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

from rolescape.builders.parse_release import parse_release
from rolescape.builders.raw import MAX_PIXELS, inspect_image
from rolescape.errors import InputError, RolescapeError

FOLDER, PREFIX, DS = "Skyline-Tess Ray", "Tess Ray", "Tess_Ray"  # tests/conftest.py mini release


def _raises(root: Path, *needles: str) -> str:
    with pytest.raises(InputError) as ei:
        parse_release(root)
    msg = str(ei.value)
    assert "\n" not in msg, msg
    for n in needles:
        assert n in msg, f"{n!r} not in {msg!r}"
    assert isinstance(ei.value, RolescapeError) and ei.value.exit_code == 2
    return msg


# ------------------------------------------------------------------------------------------- source


def test_missing_source_folder(tmp_path: Path):
    _raises(tmp_path / "nope", str(tmp_path / "nope"), "not found")


def test_source_is_a_file(tmp_path: Path):
    f = tmp_path / "release.zip"
    f.write_bytes(b"PK")
    _raises(f, "release.zip", "not a folder")


def test_folder_that_is_not_the_release(tmp_path: Path):
    (tmp_path / "something").mkdir()
    _raises(tmp_path, str(tmp_path), "not the RoleScape-20 release", "data/personalized_data")


def test_release_without_test_split(tmp_path: Path):
    (tmp_path / "data" / "personalized_data" / "train").mkdir(parents=True)
    _raises(tmp_path, "personalized_data", "test/ folder is missing")


def test_release_without_characters(tmp_path: Path):
    for s in ("train", "test"):
        (tmp_path / "data" / "personalized_data" / s).mkdir(parents=True)
    _raises(tmp_path, "no character folders")


def test_character_in_one_split_only(mini_release: Any):
    (mini_release.data / "train" / "Lonely").mkdir()
    _raises(mini_release.root, "test/Lonely", "'Lonely'", "in train/ but not in test/")


# -------------------------------------------------------------------------------------------- JSON


def test_malformed_json_names_line_and_column(mini_release: Any):
    p = mini_release.file("annotation.json")
    p.write_text('{\n  "description": "x",\n  "opening": \n}\n')
    _raises(mini_release.root, f"{FOLDER}/annotation.json:4:1:", "malformed JSON")


def test_malformed_json_with_crlf_still_names_line(mini_release: Any):
    p = mini_release.file("{P}_knowledge_qa.json")
    p.write_bytes(b'{\r\n  "description": "x",\r\n  "qa_items": [1,,2]\r\n}\r\n')
    _raises(mini_release.root, f"{PREFIX}_knowledge_qa.json:3:18:", "malformed JSON")


def test_malformed_jsonl_line(mini_release: Any):
    p = mini_release.grpo / f"{DS}_pure_t2i_with_vqa.jsonl"
    lines = p.read_text().splitlines()
    lines[1] = lines[1][:40]
    p.write_text("\n".join(lines) + "\n")
    _raises(mini_release.root, f"{DS}_pure_t2i_with_vqa.jsonl:2:", "malformed JSON")


def test_invalid_utf8(mini_release: Any):
    p = mini_release.file("{P}_memorization_test.json")
    p.write_bytes(b'{\n  "description": "caf\xe9"\n}\n')
    _raises(mini_release.root, f"{PREFIX}_memorization_test.json:2:", "not valid UTF-8")


def _edit(m: Any, name: str, fn, split: str = "train") -> None:
    m.edit(m.file(name, split), fn)


def _set(obj: Any, path: str, value: Any) -> None:
    keys = [int(k) if k.isdigit() else k for k in path.split(".")]
    for k in keys[:-1]:
        obj = obj[k]
    obj[keys[-1]] = value


@pytest.mark.parametrize(
    ("name", "path", "value", "where", "what"),
    [
        ("annotation.json", "scenes.1.1.text", 5, "$.scenes[1][1].text", "expected a string, got an integer"),
        ("annotation.json", "scenes", {"a": 1}, "$.scenes", "expected a list, got an object"),
        (
            "annotation.json",
            "scenes.0",
            [{"role": "user", "text": "x"}],
            "$.scenes[0]",
            "expected a [user, machine] pair",
        ),
        ("annotation.json", "scenes.0.1.role", "assistant", "$.scenes[0][1].role", "expected 'machine'"),
        ("annotation.json", "scenes.0.1.image", "zero", "$.scenes[0][1].image", "decimal image id"),
        ("annotation.json", "description", None, "$.description", "expected a string, got null"),
        (
            "{P}_with_image.json",
            "scenes.0.1.mcq_items.0.options",
            {"A": "x", "B": "y", "C": "z"},
            "$.scenes[0][1].mcq_items[0].options",
            "expected options A, B, C, D",
        ),
        (
            "{P}_with_image.json",
            "scenes.0.1.qa_pairs.0.type",
            "maybe",
            "$.scenes[0][1].qa_pairs[0].type",
            "expected one of objective, subjective",
        ),
        (
            "{P}_knowledge_qa.json",
            "qa_items.0.difficulty",
            "trivial",
            "$.qa_items[0].difficulty",
            "easy, medium, hard",
        ),
        (
            "{P}_knowledge_qa.json",
            "qa_items.1.evidence",
            3,
            "$.qa_items[1].evidence",
            "string or a list of strings",
        ),
        ("{P}_knowledge_qa.json", "qa_items.0.confidence", 7, "$.qa_items[0].confidence", "in [0, 1]"),
        (
            "{P}_knowledge_qa_test.json",
            "mcq_items.0.answer_key",
            "E",
            "$.mcq_items[0].answer_key",
            "A, B, C, D",
        ),
        (
            "{P}_memorization_test.json",
            "test_questions.1",
            ["x"],
            "$.test_questions[1]",
            "expected a string, got a list",
        ),
        (
            "{P}_dialogue_text_extension_test.json",
            "scenes.0.0.text",
            False,
            "$.scenes[0][0].text",
            "got true/false",
        ),
        (
            "{P}_t2i_instruction.json",
            "t2i_instructions.0.t2i_instruction",
            1,
            "$.t2i_instructions[0].t2i_instruction",
            "expected a string",
        ),
    ],
)
def test_wrong_shape_names_json_path(mini_release: Any, name, path, value, where, what):
    _edit(mini_release, name, lambda o: _set(o, path, value))
    _raises(mini_release.root, f"{name.format(P=PREFIX)}:{where}: ", what)


def test_missing_key_names_json_path(mini_release: Any):
    _edit(mini_release, "{P}_with_image.json", lambda o: o["scenes"][0][1].pop("thinking_process"), "test")
    msg = _raises(
        mini_release.root,
        f"test/{FOLDER}/{PREFIX}_with_image.json:$.scenes[0][1]: ",
        "missing key 'thinking_process'",
    )
    assert msg.count("$.scenes") == 1


def test_wrong_shape_in_jsonl_names_line_and_path(mini_release: Any):
    p = mini_release.grpo / f"{DS}_pure_t2i_with_vqa.jsonl"
    rows = mini_release.read_jsonl(p)
    rows[1]["vqa_questions"][2]["type"] = "essay"
    mini_release.write_jsonl(p, rows)
    _raises(mini_release.root, f"{DS}_pure_t2i_with_vqa.jsonl:2: $.vqa_questions[2].type: ", "yes_no")


def test_duplicate_item_id_is_named(mini_release: Any):
    _edit(mini_release, "{P}_knowledge_qa.json", lambda o: o["qa_items"].append(dict(o["qa_items"][0])))
    _raises(mini_release.root, f"{PREFIX}_knowledge_qa.json:$.qa_items[2].id: ", "duplicate id 'qa_001'")


def test_duplicate_grpo_scene_id_is_named(mini_release: Any):
    for name in (f"{DS}_pure_t2i_with_vqa.jsonl", f"{DS}_pure_t2i.jsonl"):
        p = mini_release.grpo / name
        rows = mini_release.read_jsonl(p)
        rows[1]["scene_id"] = "0"
        mini_release.write_jsonl(p, rows)
    _raises(mini_release.root, f"{DS}_pure_t2i_with_vqa.jsonl:2: $.scene_id: ", "duplicate scene_id '0'")


def test_image_id_used_twice(mini_release: Any):
    _edit(mini_release, "annotation.json", lambda o: _set(o, "scenes.1.1.image", "0"))
    _raises(mini_release.root, "annotation.json:$.scenes[1][1].image: ", "image id '0' is used by two scenes")


def test_scene_without_t2i_instruction(mini_release: Any):
    _edit(mini_release, "{P}_t2i_instruction.json", lambda o: o["t2i_instructions"].pop())
    _raises(mini_release.root, f"{PREFIX}_t2i_instruction.json:$.t2i_instructions: ", "image id '1'")


# ------------------------------------------------------------------------------------------ images


def test_referenced_image_absent(mini_release: Any):
    (mini_release.train / "1.png").unlink()
    _raises(
        mini_release.root,
        f"train/{FOLDER}/annotation.json:$.scenes[1][1].image: ",
        "referenced image '1' is absent",
        f"train/{FOLDER}/1.png",
    )


def test_unreadable_image(mini_release: Any):
    (mini_release.train / "0.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    _raises(mini_release.root, f"{FOLDER}/0.png: ", "unreadable or truncated image")


def test_not_an_image(mini_release: Any):
    (mini_release.test / "0.png").write_text("hello")
    _raises(mini_release.root, f"test/{FOLDER}/0.png: ", "not an image")


def test_truncated_image(mini_release: Any):
    buf = io.BytesIO()
    Image.effect_noise((64, 64), 40).convert("RGB").save(buf, format="PNG")
    (mini_release.train / "1.png").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    _raises(mini_release.root, f"train/{FOLDER}/1.png: ", "truncated")


def test_truncated_jpeg(tmp_path: Path):
    buf = io.BytesIO()
    Image.effect_noise((64, 64), 40).convert("RGB").save(buf, format="JPEG")
    p = tmp_path / "x.png"
    p.write_bytes(buf.getvalue()[:300])
    with pytest.raises(InputError, match=r"x\.png: unreadable or truncated image \(JPEG\)"):
        inspect_image(p, p.read_bytes())


def png_header_only(width: int, height: int) -> bytes:
    """A PNG with a valid IHDR claiming width x height and no pixel data at all."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    iend = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    return b"\x89PNG\r\n\x1a\n" + chunk + iend


def test_image_over_64_megapixels_refused_before_decoding(mini_release: Any, monkeypatch):
    (mini_release.train / "0.png").write_bytes(
        png_header_only(9000, 8000)
    )  # 72 MP, under PIL's own bomb limit

    def boom(self):  # decoding must never start
        raise AssertionError("decoded an oversized image")

    monkeypatch.setattr(Image.Image, "load", boom)
    from PIL import ImageFile

    monkeypatch.setattr(ImageFile.ImageFile, "load", boom)
    _raises(
        mini_release.root, f"train/{FOLDER}/0.png: ", "9000x8000", "64 megapixel limit", "before decoding"
    )
    assert MAX_PIXELS == 64_000_000


def test_decompression_bomb_refused(tmp_path: Path):
    p = tmp_path / "bomb.png"
    p.write_bytes(png_header_only(20000, 20000))  # 400 MP: PIL itself refuses it while reading the header
    with pytest.raises(InputError, match=r"bomb\.png: .*(decompression bomb|megapixel)"):
        inspect_image(p, p.read_bytes())


# ------------------------------------------------------------------------------------ required files

REQUIRED_TRAIN = [
    "annotation.json",
    "{P}_with_image.json",
    "{P}_t2i_instruction.json",
    "{P}_full_profile.txt",
    "{P}_personality_simplified_profile.txt",
    "{P}_dialogue_text_extension_train.json",
    "{P}_dialogue_text_extension_test.json",
    "{P}_knowledge_qa.json",
    "{P}_knowledge_qa_test.json",
    "{P}_memorization_test.json",
    "{P}_personality_test.json",
]
REQUIRED_TEST = ["annotation.json", "{P}_with_image.json", "{P}_t2i_instruction.json"]


@pytest.mark.parametrize(
    ("split", "name"), [("train", n) for n in REQUIRED_TRAIN] + [("test", n) for n in REQUIRED_TEST]
)
def test_missing_required_file(mini_release: Any, split: str, name: str):
    mini_release.file(name, split).unlink()
    _raises(
        mini_release.root,
        f"{split}/{FOLDER}/{name.format(P=PREFIX)}: ",
        "required file is missing",
        repr(FOLDER),
    )


def test_optional_inputs_are_not_errors(mini_release: Any):
    shutil.rmtree(mini_release.root / "flow_grpo")
    shutil.rmtree(mini_release.train / "processed")
    mini_release.file("{P}_full_profile.txt", "test").unlink()
    parsed = mini_release.parse()
    assert {f.code for f in parsed.findings} == {"RS007", "RS204"}
    assert parsed.grpo_prompts == [] and parsed.characters[0].test_profile_missing


def test_lenient_inputs_are_not_errors(mini_release: Any):
    p = mini_release.grpo / f"{DS}_pure_t2i.jsonl"
    p.write_bytes(p.read_bytes().replace(b"\n", b"\r\n", 1) + b"\n\n")
    (mini_release.train / ".DS_Store").write_bytes(b"\x00")
    mini_release.edit(
        mini_release.file("{P}_knowledge_qa_test.json"),
        lambda o: o["mcq_items"][0].update(options={"A": 1, "B": 2.5, "C": "3", "D": 4}),
    )
    parsed = mini_release.parse()
    assert {f.code for f in parsed.findings} == {"RS001", "RS002", "RS004", "RS208"}
    assert parsed.knowledge_mcq[0].options.B == "2.5"
    assert json.dumps([f.model_dump() for f in parsed.findings])
