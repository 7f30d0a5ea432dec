"""Every parser and reader on small inline fixtures (rolescape20-release.md §2)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from rolescape.builders.audit import Auditor, FileCtx, ProfileIndex
from rolescape.builders.clean import (
    clean_full_profile,
    clean_probe,
    clean_simplified_profile,
    evidence_parts,
    normalize_evidence,
    normalize_text,
    repair_text,
)
from rolescape.builders.naming import (
    CharacterNames,
    character_id,
    description_name,
    grpo_name_of,
    mentions,
    name_tokens,
    prefix_of,
)
from rolescape.builders.parsers import (
    THINK_SYSTEM_PROMPT,
    AnnotatedScene,
    ExtScene,
    Header,
    expected_t2i_files,
    expected_vlm_files,
    parse_annotation,
    parse_dialogue_ext,
    parse_grpo_lines,
    parse_knowledge_mcq,
    parse_knowledge_qa,
    parse_t2i_instruction,
    parse_test_questions,
    parse_with_image,
    rp_prompt,
    t2i_prompt,
    t2i_think_prompt,
    think_prompt,
    think_target,
)
from rolescape.builders.raw import (
    JsonlLine,
    Shape,
    decode_text,
    inspect_image,
    numeric_image_files,
    parse_json,
    parse_jsonl,
    sniff_container,
)

H = {"description": "Tess is a kite maker.", "opening": ""}


def ctx() -> tuple[Auditor, FileCtx, Shape]:
    a = Auditor()
    p = Path("/r/data/personalized_data/train/T/x.json")
    return a, FileCtx(a, "tess", "data/personalized_data/train/T/x.json", p), Shape(p)


def codes(a: Auditor) -> list[str]:
    return [f.code for f in a.findings()]


# ------------------------------------------------------------------------------------------- naming


@pytest.mark.parametrize(
    ("folder", "prefix", "ds", "slug"),
    [
        ("Friends-Chandler", "Chandler", "Chandler", "chandler"),
        ("Gao Qiqiang", "Gao Qiqiang", "Gao_Qiqiang", "gao-qiqiang"),
        ("Will In Vietnam", "Will In Vietnam", "Will_In_Vietnam", "will-in-vietnam"),
        ("Mahjong Soul-Miki Nikaidou", "Miki Nikaidou", "Miki_Nikaidou", "miki-nikaidou"),
        ("Mahjong Soul-YuiYagi", "YuiYagi", "YuiYagi", "yuiyagi"),
        ("A-B-C", "B-C", "B-C", "b-c"),
    ],
)
def test_naming_keys(folder, prefix, ds, slug):
    assert prefix_of(folder) == prefix
    assert grpo_name_of(prefix) == ds
    assert character_id(prefix) == slug
    names = CharacterNames.from_folder(folder)
    assert names.slug == slug and {folder, prefix, ds} <= names.aliases


@pytest.mark.parametrize(
    ("description", "prefix", "name"),
    [
        ("Chandler Bing is defined by his sharp wit.", "Chandler", "Chandler Bing"),
        ("Introduced as the flamboyant Hydro Archon, Furina's theatrics are revealed.", "Furina", "Furina"),
        ("Yagi Yui is a genius with an IQ of 180.", "YuiYagi", "Yagi Yui"),
        ("My Dieu is a ginger tabby cat.", "Mydieu", "My Dieu"),
        ("Sun Wukong, the Monkey King, is mischievous.", "Wukong", "Sun Wukong"),
        ("One of the first characters. To Ichihime, nothing matters more than naps.", "Ichihime", "Ichihime"),
        ("Bo is a charismatic Shiba Inu.", "Bo", "Bo"),
        ("A dog who loves naps.", "Rex", None),
    ],
)
def test_description_name(description, prefix, name):
    assert description_name(description, prefix) == name


def test_mentions_and_tokens():
    assert name_tokens("YuiYagi") == ["yui", "yagi"]
    assert mentions("Meet Gao Qiqiang.", "Gao_Qiqiang")
    assert not mentions("Meet Gao.", "Gao Qiqiang")


# ----------------------------------------------------------------------------------------- raw files


def test_decode_text_crlf_bom_final_newline():
    tf = decode_text(Path("x"), b"\xef\xbb\xbfa\r\nb")
    assert (tf.text, tf.crlf, tf.bom, tf.final_newline) == ("a\nb", True, True, False)
    tf = decode_text(Path("x"), b"a\nb\n")
    assert (tf.crlf, tf.bom, tf.final_newline) == (False, False, True)


def test_parse_jsonl_skips_blank_lines_and_keeps_numbers():
    tf = decode_text(Path("x.jsonl"), b'{"a": 1}\n\n  \n{"a": 2}\n')
    rows, blank = parse_jsonl(tf)
    assert [(r.lineno, r.obj) for r in rows] == [(1, {"a": 1}), (4, {"a": 2})]
    assert blank == [2, 3]
    assert parse_jsonl(decode_text(Path("x"), b'{"a": 1}'))[1] == []


def test_parse_json():
    assert parse_json(decode_text(Path("x"), b'{"a": [1]}')) == {"a": [1]}


def test_shape_messages():
    s = Shape(Path("/f.json"), lineno=3)
    with pytest.raises(Exception, match=r"/f\.json:3: \$\.x: expected a string, got an integer"):
        s.as_str(1, "$.x")
    assert Shape(Path("f")).str_or_list("a", "$") == (["a"], False)
    assert Shape(Path("f")).str_or_list(["a", "b"], "$") == (["a", "b"], True)


def _img_bytes(mode: str, fmt: str, **kw: Any) -> bytes:
    buf = io.BytesIO()
    color = {"RGB": (1, 2, 3), "RGBA": (1, 2, 3, 255), "LA": (5, 255), "P": 1, "L": 7}[mode]
    im = Image.new(mode, (12, 10), color)
    if mode == "RGBA" and kw.get("transparent"):
        im.putpixel((0, 0), (0, 0, 0, 0))
    if mode == "P" and kw.get("transparent"):
        im.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0])
        im.putpixel((0, 0), 2)
        im.save(buf, format=fmt, transparency=2)  # palette index 2 is transparent
        return buf.getvalue()
    im.save(buf, format=fmt)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("mode", "fmt", "kw", "expect"),
    [
        ("RGB", "PNG", {}, ("PNG", True, "RGB", False, False)),
        ("RGBA", "PNG", {}, ("PNG", True, "RGBA", True, False)),
        ("RGBA", "PNG", {"transparent": True}, ("PNG", True, "RGBA", True, True)),
        ("LA", "PNG", {}, ("PNG", True, "LA", True, False)),
        ("P", "PNG", {"transparent": True}, ("PNG", True, "P", True, True)),
        ("RGB", "JPEG", {}, ("JPEG", False, "RGB", False, False)),  # JPEG bytes in a .png file
        ("RGB", "GIF", {}, ("GIF", False, "P", False, False)),
        ("RGB", "WEBP", {}, ("WEBP", False, "RGB", False, False)),
    ],
)
def test_inspect_image(tmp_path: Path, mode, fmt, kw, expect):
    data = _img_bytes(mode, fmt, **kw)
    p = tmp_path / "0.png"
    p.write_bytes(data)
    info = inspect_image(p, data)
    assert (
        info.container,
        info.extension_matches,
        info.mode,
        info.has_alpha,
        info.uses_transparency,
    ) == expect
    assert (info.width, info.height, info.n_bytes) == (12, 10, len(data))
    assert len(info.sha256) == 64 and sniff_container(data) == fmt


def test_numeric_image_files(tmp_path: Path):
    for n in ("0.png", "1.PNG", "10.jpg", "a.png", "2.txt", ".DS_Store"):
        (tmp_path / n).write_bytes(b"x")
    assert sorted(numeric_image_files(tmp_path)) == ["0", "1", "10"]


# ------------------------------------------------------------------------------------------ parsers


def _scene(u: str, m: str, img: str, **extra: Any) -> list[dict[str, Any]]:
    return [{"role": "user", "text": u}, {"role": "machine", "text": m, "image": img, **extra}]


def test_parse_annotation():
    a, c, s = ctx()
    header, scenes = parse_annotation(
        {**H, "scenes": [_scene("hi", "hello", "0"), _scene("yo", "hey", "1")]}, c, s
    )
    assert header == Header(H["description"], "")
    assert [(x.index, x.user_text, x.response, x.image_id, x.jpath) for x in scenes] == [
        (0, "hi", "hello", "0", "$.scenes[0]"),
        (1, "yo", "hey", "1", "$.scenes[1]"),
    ]
    assert codes(a) == []


def test_parse_annotation_extra_keys_are_reported():
    a, c, s = ctx()
    parse_annotation({**H, "extra_top": 1, "scenes": [_scene("hi", "hello", "0", mood="sad")]}, c, s)
    assert [(f.code, f.location) for f in a.findings()] == [
        ("RS207", "$.extra_top"),
        ("RS207", "$.scenes[0][1].mood"),
    ]


def _mcq(**kw: Any) -> dict[str, Any]:
    return {
        "id": "q1",
        "question": "How many?",
        "options": {"A": "1", "B": "2", "C": "3", "D": "4"},
        "answer_key": "B",
        "difficulty": "easy",
        "rationale": "Count.",
        **kw,
    }


def test_parse_with_image_train():
    a, c, s = ctx()
    machine_extra = {
        "thinking_process": "The image shows a kite.",
        "generation_instruction": "kite, hill",
        "qa_pairs": [{"question": "What?", "answer": "A kite.", "type": "objective"}],
        "mcq_items": [
            _mcq(options={"A": 1, "B": 2, "C": 3, "D": 4}),
            _mcq(id="q2", description="why"),
            _mcq(id="q3", options={"A": "Looking严肃 with lips", "B": "b", "C": "c", "D": "d"}),
        ],
    }
    _h, scenes = parse_with_image({**H, "scenes": [_scene("hi", "hello", "0", **machine_extra)]}, c, s)
    sc = scenes[0]
    assert sc.thinking_process == "The image shows a kite." and sc.generation_instruction == "kite, hill"
    assert sc.qa_pairs[0].type == "objective"
    q1, q2, q3 = sc.mcq_items
    assert q1.options.A == "1" and q1.options_raw is None
    assert q2.extra == {"description": "why"}
    assert q3.options.A == "Looking with lips" and q3.options_raw.A == "Looking严肃 with lips"
    assert sorted(codes(a)) == ["RS207", "RS208", "RS701"]


def test_parse_with_image_test_has_no_qa():
    a, c, s = ctx()
    _h, scenes = parse_with_image(
        {**H, "scenes": [_scene("hi", "hello", "0", thinking_process="t", generation_instruction="g")]}, c, s
    )
    assert scenes[0].qa_pairs == [] and scenes[0].mcq_items == [] and codes(a) == []


def test_parse_t2i_instruction():
    a, c, s = ctx()
    _h, items = parse_t2i_instruction(
        {**H, "t2i_instructions": [{"image_id": "0", "t2i_instruction": "Tess, hill"}]}, c, s
    )
    assert [(i.image_id, i.text) for i in items] == [("0", "Tess, hill")]


def test_parse_dialogue_ext_returns_the_image_key():
    a, c, s = ctx()
    doc = {
        **H,
        "scenes": [
            [{"role": "user", "text": "u"}, {"role": "machine", "text": "m", "image": "12"}],
            [{"role": "user", "text": "u2"}, {"role": "machine", "text": "m2"}],
        ],
    }
    _h, scenes = parse_dialogue_ext(doc, c, s)
    assert [(x.user_text, x.response, x.image) for x in scenes] == [("u", "m", "12"), ("u2", "m2", None)]


PROFILE = "* **Full Name:** Furina de Fontaine\n* **Title:** The former Hydro Archon\nShe likes cake.\n"


def _kqa(**kw: Any) -> dict[str, Any]:
    return {
        "id": "qa_001",
        "question": "What is her full name?",
        "answer": "Furina de Fontaine",
        "evidence": "**Full Name:** Furina de Fontaine",
        "type": "fact",
        "difficulty": "easy",
        "reasoning_steps": ["Stated."],
        "confidence": 1.0,
        **kw,
    }


def test_parse_knowledge_qa_clean():
    a, c, s = ctx()
    _h, items, locs = parse_knowledge_qa({**H, "qa_items": [_kqa()]}, c, s, "furina", ProfileIndex(PROFILE))
    q = items[0]
    assert (q.id, q.evidence, q.type_allowed, q.reasoning_steps, q.evidence_verbatim) == (
        "qa_001",
        ["**Full Name:** Furina de Fontaine"],
        True,
        ["Stated."],
        True,
    )
    assert locs == {"qa_001": "$.qa_items[0]"} and codes(a) == []


def test_parse_knowledge_qa_repairs():
    a, c, s = ctx()
    corrupted = _kqa(id="qa_002", answer="The former Hydro Arch游戏副本, God")
    corrupted["reason游戏副本_steps"] = corrupted.pop("reasoning_steps")
    items_in = [
        corrupted,
        _kqa(id="qa_003", evidence=["She likes cake.", "Full Name: Furina de Fontaine"], type="trait"),
        _kqa(id="qa_004", reasoning_steps="one string", evidence="She hates cake.", extra_field=3),
        {k: v for k, v in _kqa(id="qa_005").items() if k != "reasoning_steps"},
    ]
    _h, items, _l = parse_knowledge_qa({**H, "qa_items": items_in}, c, s, "furina", ProfileIndex(PROFILE))
    q2, q3, q4, q5 = items
    assert q2.reasoning_steps == ["Stated."] and q2.answer == "The former Hydro Arch, God"
    assert q2.answer_raw == "The former Hydro Arch游戏副本, God"
    assert q3.evidence == ["She likes cake.", "Full Name: Furina de Fontaine"] and not q3.type_allowed
    assert q3.evidence_verbatim is False
    assert q4.reasoning_steps == ["one string"] and q4.extra == {"extra_field": 3}
    assert q5.reasoning_steps == []
    assert sorted(codes(a)) == sorted(
        ["RS406", "RS701", "RS404", "RS403", "RS407", "RS405", "RS207", "RS408", "RS405"]
    )


def test_parse_knowledge_mcq():
    a, c, s = ctx()
    doc = {
        **H,
        "mcq_items": [
            {
                "id": "mcq_001",
                "question": "Birthday?",
                "options": {"A": "July31,1979", "B": "September19,1979", "C": "x", "D": "y"},
                "answer_key": "B",
                "difficulty": "medium",
                "evidence": "She likes cake.",
                "rationale": "r",
            }
        ],
    }
    _h, items = parse_knowledge_mcq(doc, c, s, "hermione", ProfileIndex(PROFILE))
    m = items[0]
    assert m.options.B == "September 19, 1979" and m.options_raw.B == "September19,1979"
    assert m.evidence_verbatim and m.answer_key == "B"
    assert codes(a) == ["RS702", "RS702"]


def test_parse_test_questions():
    a, c, s = ctx()
    _h, qs = parse_test_questions({**H, "test_questions": ["a?", "b?"]}, c, s)
    assert qs == ["a?", "b?"]


def test_parse_grpo_lines():
    a, c, s = ctx()
    vqa = [
        {
            "question": "Is it red?",
            "type": "yes_no",
            "category": "color",
            "answer": "yes",
            "weight": 1,
            "is_negative": False,
        },
        {
            "question": "Which?",
            "type": "multiple_choice",
            "category": "x",
            "answer": "cap",
            "weight": 0.5,
            "is_negative": False,
            "choices": ["cap", "hat"],
        },
    ]
    line = {
        "text": "A photo",
        "character": "Gao_Qiqiang",
        "scene_id": 0,
        "reference_images_path": "dataset/personalized_t2i/Gao_Qiqiang",
        "vqa_questions": vqa,
    }
    rows = parse_grpo_lines(
        [JsonlLine(3, line)], c, lambda n: Shape(Path("/g.jsonl"), lineno=n), with_vqa=True
    )
    r = rows[0]
    assert (r.lineno, r.scene_id, r.character) == (3, "0", "Gao_Qiqiang")
    assert [q.weight for q in r.vqa_questions] == [1.0, 0.5] and r.vqa_questions[1].choices == ["cap", "hat"]
    pure = {k: v for k, v in line.items() if k != "vqa_questions"}
    assert (
        parse_grpo_lines([JsonlLine(1, pure)], c, lambda n: Shape(Path("/g"), lineno=n), with_vqa=False)[
            0
        ].vqa_questions
        is None
    )


# ---------------------------------------------------------------------------------------- templates


def test_templates_match_the_documented_strings():
    assert t2i_prompt("D", "U", "R") == (
        "Character Description: D\n\nUser Input: U\n\nCharacter Response: R\n\nPlease generate an image that "
        "visualizes this scene with the character responding to the user's input based on the character description."
    )
    assert t2i_think_prompt("D", "U", "R", "T", "G").endswith(
        "Thinking Process: T\n\nGeneration Instruction: G\n\nPlease generate an image that visualizes this scene "
        "with the character responding to the user's input based on the character description, thinking process, "
        "and generation instruction."
    )
    assert rp_prompt("D", "", "U", "Chandler") == (
        "Character Description: D\n\nOpening: \n\nUser Input: U\n\nBased on the character description, opening, "
        "conversation history, current user input, and the reference image, please generate Chandler's response."
    )
    assert think_prompt("D", "U", "R") == t2i_prompt("D", "U", "R") + (
        "\n\nSystem Instruction for Thinking and Generation:\n" + THINK_SYSTEM_PROMPT
    )
    assert THINK_SYSTEM_PROMPT.startswith("You should first think") and THINK_SYSTEM_PROMPT.endswith(
        "</gen>\n"
    )
    assert think_target("T", "G") == "<think>T</think>\n<gen>G</gen>"


def test_expected_derived_files():
    sc = AnnotatedScene(0, "u", "r", "3", "$.scenes[0]", thinking_process="t", generation_instruction="g")
    t2i = expected_t2i_files("Tess", "X-Tess", "train", "D", [sc], {"3": "pure"})
    assert t2i["Tess_pure_t2i.jsonl"] == [
        {
            "text": "pure",
            "image": "personalized_data/train/X-Tess/3.png",
            "character": "Tess",
            "scene_id": "3",
        }
    ]
    assert t2i["Tess_t2i_generation_instruction_only.jsonl"][0]["scene_id"] == 3
    vlm = expected_vlm_files(
        "Tess", "X-Tess", Header("D", "O"), [sc], [ExtScene(0, "eu", "er", "9", "$")], []
    )
    assert vlm["Tess_vlm_extension.jsonl"][0]["conversations"][1] == {"from": "gpt", "value": "er"}
    assert "image" not in vlm["Tess_vlm.jsonl"][0]
    assert vlm["Tess_vqa.jsonl"] == [] and vlm["Tess_knowledge_qa.jsonl"] == []


def test_derived_templates_match_the_release(raw_release: Path):
    # one real line of each template kind, straight from the release copy
    ch = raw_release / "data/personalized_data/train/Friends-Chandler"
    ann = json.loads((ch / "annotation.json").read_text(encoding="utf-8"))
    wi = json.loads((ch / "Chandler_with_image.json").read_text(encoding="utf-8"))
    u, m = ann["scenes"][0][0]["text"], ann["scenes"][0][1]["text"]
    tp, gi = wi["scenes"][0][1]["thinking_process"], wi["scenes"][0][1]["generation_instruction"]
    first = {
        p: json.loads((ch / "processed" / p).read_text(encoding="utf-8").splitlines()[0])
        for p in (
            "t2i/Chandler_t2i.jsonl",
            "t2i/Chandler_t2i_with_thinking.jsonl",
            "vlm/Chandler_vlm.jsonl",
            "vlm/Chandler_vlm_thinking.jsonl",
        )
    }
    d, o = ann["description"], ann["opening"]
    assert first["t2i/Chandler_t2i.jsonl"]["text"] == t2i_prompt(d, u, m)
    assert first["t2i/Chandler_t2i_with_thinking.jsonl"]["text"] == t2i_think_prompt(d, u, m, tp, gi)
    assert first["vlm/Chandler_vlm.jsonl"]["conversations"][0]["value"] == rp_prompt(d, o, u, "Chandler")
    conv = first["vlm/Chandler_vlm_thinking.jsonl"]["conversations"]
    assert conv[0]["value"] == think_prompt(d, u, m) and conv[1]["value"] == think_target(tp, gi)


# -------------------------------------------------------------------------------------------- clean


def test_normalize_text():
    assert normalize_text('1. **"I Don’t know?"**') == "i don't know"
    assert normalize_text("> *Why?*") == "why"
    assert normalize_text("  Hello   world!! ") == "hello world"


def test_normalize_evidence_and_parts():
    assert normalize_evidence("* **Full Name:** Chandler   Bing") == "full name: chandler bing"
    assert evidence_parts("A b ... c d") == ["a b", "c d"]


def test_repair_text_combines_both():
    assert repair_text("since1998 the Arch游戏副本 fell")[0] == "since 1998 the Arch fell"
    assert repair_text("plain text") == ("plain text", [])


def test_clean_probe_flags():
    p = clean_probe('*"Why is the couch your throne?"*')
    assert p.text == "Why is the couch your throne?" and p.flags == ["italic", "quoted"]
    assert clean_probe("> Boss, the harbour is ours.").flags == ["blockquote"]
    assert clean_probe('"a" and "b"').text == '"a" and "b"'


def test_profile_cleaners():
    raw = (
        "Certainly! Below is the extracted section:\n\n---\n\n### Personality\n- Brave.\n\n---\n\n"
        "This distilled profile captures her core.\n"
    )
    out = clean_simplified_profile(raw)
    assert out.text == "### Personality\n- Brave.\n" and [n for n, _t in out.removed] == [1, 10]
    full = (
        "Here is a detailed profile of Furina.\n\n### Profile\n\nThe images provided capture her. She is brave. "
        "This analysis delves into conversational scenarios.\n"
    )
    out = clean_full_profile(full)
    assert out.text == "### Profile\n\nShe is brave.\n" and len(out.removed) == 3


def test_accepts_the_personalized_data_folder(mini_release: Any):
    a = mini_release.parse()
    from rolescape.builders.parse_release import parse_release

    b = parse_release(mini_release.data)
    c = parse_release(mini_release.root / "data")
    assert a == b == c and a.root == str(mini_release.root.resolve())


@pytest.mark.parametrize(
    ("fmt", "mode", "kw"),
    [
        ("PNG", "RGBA", {}),
        ("JPEG", "RGB", {}),
        ("JPEG", "RGB", {"progressive": True}),
        ("GIF", "P", {}),
        ("BMP", "RGB", {}),
        ("WEBP", "RGB", {"lossless": True}),
        ("WEBP", "RGB", {"quality": 50}),
        ("WEBP", "RGBA", {"quality": 50}),
    ],
)
def test_header_size_agrees_with_pil(fmt, mode, kw):
    import io as _io

    from rolescape.builders.raw import header_size, sniff_container

    buf = _io.BytesIO()
    Image.new(mode, (317, 129)).save(buf, format=fmt, **kw)
    data = buf.getvalue()
    assert sniff_container(data) == fmt
    assert tuple(header_size(data, fmt)) == (317, 129)
    assert header_size(data[:5], fmt) is None  # too short: left to PIL
