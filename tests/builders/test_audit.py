"""Every audit rule fires on one planted defect and stays silent on clean data.

The clean baseline is the ``mini_release`` fixture (tests/conftest.py): a defect-free one-character
release on which the audit must report nothing. Each case below plants one defect and asserts that its
rule fires; near misses that must NOT fire are tested on the rule's function directly.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from rolescape.builders.audit import (
    RULES,
    Auditor,
    FileCtx,
    ProfileIndex,
    audit_knowledge_qa,
    audit_vqa,
)
from rolescape.builders.character import build_probes
from rolescape.builders.clean import (
    clean_full_profile,
    clean_probe,
    clean_simplified_profile,
    fix_cjk_glue,
    fix_glued_numbers,
)
from rolescape.schemas import KnowledgeQA, VQAQuestion

# The mini release of tests/conftest.py (fixture ``mini_release``); checked in test_clean_release...
MINI_FOLDER, MINI_PREFIX, MINI_DS = "Skyline-Tess Ray", "Tess Ray", "Tess_Ray"
MiniRelease = Any  # tests/conftest.py:MiniRelease (conftest is not imported directly)

# ------------------------------------------------------------------------------------------ catalogue


def test_catalogue_is_stable_and_documented():
    import rolescape.builders.audit as audit

    assert list(RULES) == sorted(RULES)
    assert len({r.name for r in RULES.values()}) == len(RULES)
    for code, rule in RULES.items():
        assert rule.code == code and code.startswith("RS") and len(code) == 5
        assert rule.severity in ("info", "warning", "error")
        # the module docstring table lists every rule with the same name and severity
        assert f"{code}  {rule.name}" in audit.__doc__
        line = next(x for x in audit.__doc__.splitlines() if x.startswith(code))
        assert line.split()[2] == rule.severity


def test_severity_policy():
    sev = {c: r.severity for c, r in RULES.items()}
    for code in ("RS501", "RS402", "RS301", "RS602", "RS603", "RS604", "RS203", "RS406", "RS204"):
        assert sev[code] == "error", code
    for code in ("RS101", "RS208", "RS702", "RS701", "RS401", "RS601", "RS302"):
        assert sev[code] == "warning", code
    for code in ("RS102", "RS002", "RS001", "RS005"):
        assert sev[code] == "info", code


def test_findings_are_sorted_and_carry_rule_metadata():
    a = Auditor()
    a.add("RS702", character="b", file="x.json", location="$.a[10]", message="m")
    a.add("RS702", character="b", file="x.json", location="$.a[9]", message="m")
    a.add("RS001", character=None, file="z", message="m")
    a.add("RS001", character=None, file="z", message="m")  # exact duplicate collapses
    out = a.findings()
    assert [(f.character, f.location) for f in out] == [(None, ""), ("b", "$.a[9]"), ("b", "$.a[10]")]
    assert out[1].rule == "glued-number" and out[1].severity == "warning"
    with pytest.raises(KeyError):
        a.add("RS999", character=None, file="x", message="m")


# ------------------------------------------------------------------------------------- clean baseline


def test_clean_release_has_no_findings(mini_release: MiniRelease):
    parsed = mini_release.parse()
    assert parsed.findings == []
    c = parsed.characters[0]
    assert len(parsed.characters) == 1 and c.id == "tess-ray"
    assert (c.folder, c.prefix, c.grpo_name) == (MINI_FOLDER, MINI_PREFIX, MINI_DS)


# --------------------------------------------------------------------------------- planted defects

Mut = Callable[[MiniRelease], None]


def _add_file(rel: str, data: bytes = b"x") -> Mut:
    def f(m: MiniRelease) -> None:
        p = m.root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)

    return f


def _edit(name: str, fn, split: str = "train") -> Mut:
    return lambda m: m.edit(m.file(name, split), fn)


def _edit_grpo(fn, files=("with_vqa", "pure")) -> Mut:
    def f(m: MiniRelease) -> None:
        for kind in files:
            p = m.grpo / (
                f"{MINI_DS}_pure_t2i_with_vqa.jsonl" if kind == "with_vqa" else f"{MINI_DS}_pure_t2i.jsonl"
            )
            rows = m.read_jsonl(p)
            fn(rows, kind)
            m.write_jsonl(p, rows)

    return f


def _vqa(fn) -> Mut:
    def g(rows, kind):
        if kind == "with_vqa":
            fn(rows[0]["vqa_questions"])

    return _edit_grpo(g, files=("with_vqa",))


def _crlf(m: MiniRelease) -> None:
    p = m.file("annotation.json")
    p.write_bytes(p.read_bytes().replace(b"\n", b"\r\n"))


def _no_newline(m: MiniRelease) -> None:
    p = m.file("{P}_personality_simplified_profile.txt")
    p.write_text(p.read_text().rstrip("\n"))


def _blank_line(m: MiniRelease) -> None:
    p = m.grpo / f"{MINI_DS}_pure_t2i.jsonl"
    p.write_text(p.read_text() + "\n")


def _bom(m: MiniRelease) -> None:
    p = m.file("annotation.json")
    p.write_bytes(b"\xef\xbb\xbf" + p.read_bytes())


def _rename_prefix(m: MiniRelease) -> None:
    for p in sorted(m.data.rglob(f"{MINI_PREFIX}_*")):
        p.rename(p.with_name(p.name.replace(MINI_PREFIX, "TessR")))


def _jpeg_in_png(m: MiniRelease) -> None:
    Image.new("RGB", (32, 24), (200, 40, 40)).save(m.train / "0.png", format="JPEG")


def _test_copies_train(m: MiniRelease) -> None:
    """A textured train image and, as the test image, its mirror (the flat fixture images never match)."""
    im = Image.linear_gradient("L").resize((32, 24)).convert("RGB")
    im.save(m.train / "0.png")
    im.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(m.test / "0.png")


def _transparent(m: MiniRelease) -> None:
    im = Image.new("RGBA", (24, 24), (40, 40, 200, 255))
    im.putpixel((0, 0), (0, 0, 0, 0))
    im.save(m.train / "1.png")


def _processed_line(m: MiniRelease) -> None:
    p = m.train / "processed" / "t2i" / f"{MINI_PREFIX}_pure_t2i.jsonl"
    rows = m.read_jsonl(p)
    rows[1]["text"] = "something else"
    m.write_jsonl(p, rows)


def _set(path: str, value) -> Callable:
    """fn(obj) that sets obj[a][b]... = value for a dotted/indexed path like 'qa_items.0.type'."""

    def fn(obj):
        keys = [int(k) if k.isdigit() else k for k in path.split(".")]
        for k in keys[:-1]:
            obj = obj[k]
        obj[keys[-1]] = value

    return fn


def _kqa_dup(answer: str) -> Callable:
    def fn(obj):
        item = dict(obj["qa_items"][0], id="qa_003", answer=answer)
        obj["qa_items"].append(item)

    return fn


def _kqa_corrupt(obj):
    item = obj["qa_items"][0]
    item["reason游戏副本_steps"] = item.pop("reasoning_steps")


def _mcq_biased(obj):
    base = obj["mcq_items"][0]
    obj["mcq_items"] = [dict(base, id=f"mcq_{i:03d}") for i in range(1, 9)]


def _append(key: str, value) -> Callable:
    return lambda obj: obj[key].append(value)


def _ext_reorder(obj):
    obj["scenes"][-1], obj["scenes"][-2] = obj["scenes"][-2], obj["scenes"][-1]


def _write_text(name: str, text: str, split: str = "train") -> Mut:
    return lambda m: m.file(name, split).write_text(text, encoding="utf-8")


def _dataset_info(entries: dict[str, tuple[str, int]]) -> Mut:
    """Write data/dataset_info.py the way the release does: a module with a DATASET_INFO dict literal."""

    def f(m: MiniRelease) -> None:
        body = "".join(
            f"        {name!r}: {{'data_dir': 'data', 'jsonl_path': {path!r}, 'num_total_samples': {n}}},\n"
            for name, (path, n) in entries.items()
        )
        (m.root / "data" / "dataset_info.py").write_text(
            "from .vlm_dataset import SftJSONLIterableDataset  # never imported by rolescape\n\n"
            "DATASET_INFO = {\n    'vlm_sft': {\n" + body + "    },\n}\n"
        )

    return f


VLM = f"data/personalized_data/train/{MINI_FOLDER}/processed/vlm/{MINI_PREFIX}"


def _quoted_description_in_prompt(m: MiniRelease) -> None:
    """Give the description double quotes everywhere it appears, and a prompt that pastes it raw."""
    for p in sorted(m.root.rglob("*.json*")):
        p.write_text(
            p.read_text(encoding="utf-8").replace("kite maker", '\\"kite maker\\"'), encoding="utf-8"
        )
    desc = m.load(m.file("annotation.json"))["description"]
    assert '"kite maker"' in desc
    prompt = m.train / "prompts" / f"{MINI_PREFIX}_dialogue_extension_prompt.txt"
    prompt.parent.mkdir()
    prompt.write_text(
        'Generate dialogues.\n{"description": "' + desc + '", "opening": "..."}\n', encoding="utf-8"
    )


CASES: dict[str, Mut] = {
    "RS001": _add_file(f"data/personalized_data/train/{MINI_FOLDER}/.DS_Store"),
    "RS002": _crlf,
    "RS003": _no_newline,
    "RS004": _blank_line,
    "RS005": _add_file(f"data/personalized_data/train/{MINI_FOLDER}/processed/vlm/{MINI_FOLDER}_full.jsonl"),
    "RS006": _add_file(f"data/personalized_data/train/{MINI_FOLDER}/notes.txt"),
    "RS007": lambda m: shutil.rmtree(m.grpo),
    "RS008": _bom,
    "RS009": _add_file("flow_grpo/data/personalized_data/README"),
    "RS010": _rename_prefix,
    "RS011": _add_file("flow_grpo/dataset/personalized_t2i/Somebody_Else/x.jsonl"),
    "RS012": _quoted_description_in_prompt,
    "RS013": _dataset_info({"pyra_vlm": ("data/ours/Xenoblade2-Pyra/Pyra_vlm.jsonl", 10)}),
    "RS014": _dataset_info({"tess_knowledge_qa": (f"{VLM}_knowledge_qa.jsonl", 50)}),
    "RS101": _jpeg_in_png,
    "RS102": _transparent,
    "RS103": lambda m: Image.new("RGB", (8, 8)).save(m.train / "2.png"),
    "RS104": _test_copies_train,
    "RS201": _edit("{P}_knowledge_qa.json", _set("opening", "Hi.")),
    "RS202": _edit("{P}_with_image.json", _set("scenes.0.0.text", "Different question?")),
    "RS203": _processed_line,
    "RS204": lambda m: m.file("{P}_full_profile.txt", "test").unlink(),
    "RS205": _write_text("{P}_full_profile.txt", "An older profile.\n", "test"),
    "RS206": _edit_grpo(lambda rows, kind: [r.update(character=MINI_DS) for r in rows]),
    "RS207": _edit("{P}_knowledge_qa.json", _set("qa_items.0.note", "kept")),
    "RS208": _edit(
        "{P}_knowledge_qa_test.json", _set("mcq_items.0.options", {"A": 1, "B": 2, "C": 3, "D": 4})
    ),
    "RS301": _edit("{P}_dialogue_text_extension_test.json", _set("scenes.0.1.image", "7")),
    "RS302": _edit(
        "{P}_dialogue_text_extension_train.json",
        lambda o: o["scenes"].insert(
            1, [{"role": "user", "text": "do kites get cold"}, {"role": "machine", "text": "No."}]
        ),
    ),
    "RS303": _edit("{P}_dialogue_text_extension_train.json", _ext_reorder),
    "RS401": _edit("{P}_knowledge_qa.json", _kqa_dup("Ember")),
    "RS402": _edit("{P}_knowledge_qa.json", _kqa_dup("Blaze")),
    "RS403": _edit("{P}_knowledge_qa.json", _set("qa_items.0.type", "trait")),
    "RS404": _edit("{P}_knowledge_qa.json", _set("qa_items.0.evidence", ["a red dragon called Ember"])),
    "RS405": _edit("{P}_knowledge_qa.json", lambda o: o["qa_items"][0].pop("reasoning_steps")),
    "RS406": _edit("{P}_knowledge_qa.json", _kqa_corrupt),
    "RS407": _edit(
        "{P}_knowledge_qa.json", _set("qa_items.0.evidence", "Favourite kite: a red dragon called Ember")
    ),
    "RS408": _edit("{P}_knowledge_qa.json", _set("qa_items.0.evidence", "She sails boats at night.")),
    "RS409": _edit("{P}_knowledge_qa_test.json", _set("mcq_items.0.options.B", "on a windy hill")),
    "RS410": _edit("{P}_knowledge_qa_test.json", _mcq_biased),
    "RS501": _edit(
        "{P}_personality_test.json",
        _append("test_questions", "Here are **20 carefully crafted User Inputs** designed to test her."),
    ),
    "RS502": _edit(
        "{P}_personality_test.json", _append("test_questions", "> Do you ever get tired of kites?")
    ),
    "RS503": _edit(
        "{P}_personality_test.json", _append("test_questions", '"Do you ever get tired of kites?"')
    ),
    "RS504": _edit("{P}_personality_test.json", _append("test_questions", "why do you laugh so much")),
    "RS505": _write_text(
        "{P}_personality_simplified_profile.txt",
        "Certainly! Below is the extracted section:\n\n---\n\n**Personality:**\n- Cheerful.\n",
    ),
    "RS506": lambda m: [
        m.file("{P}_full_profile.txt", s).write_text(
            "Here is a detailed profile of Tess Ray.\n\n" + m.file("{P}_full_profile.txt", s).read_text()
        )
        for s in ("train", "test")
    ],
    "RS507": _edit(
        "{P}_memorization_test.json", _append("test_questions", "What is my favourite kite called?")
    ),
    "RS508": _edit(
        "{P}_memorization_test.json", _append("test_questions", "What does Tess build kites from?")
    ),
    "RS509": _edit(
        "{P}_memorization_test.json", _append("test_questions", 'In image scene "1", why is the kite red?')
    ),
    "RS601": _vqa(lambda q: q.append(dict(q[0]))),
    "RS602": _vqa(lambda q: q.append(dict(q[0], answer="no", weight=0.4))),
    "RS603": _vqa(lambda q: q[0].update(answer="unknown")),
    "RS604": _vqa(lambda q: q[1].update(answer="yes")),
    "RS605": _vqa(lambda q: q[0].update(choices=["yes", "no"])),
    "RS606": _vqa(
        lambda q: q[1].update(answer="a bright red silk kite", choices=["a bright red silk kite", "blue"])
    ),
    "RS607": _vqa(lambda q: q[2].update(answer="yes")),
    "RS608": _edit_grpo(lambda rows, kind: rows[1].update(text=rows[0]["text"])),
    "RS609": _edit_grpo(lambda rows, kind: rows[0].update(text="A different prompt"), files=("pure",)),
    "RS610": _edit_grpo(
        lambda rows, kind: [r.update(reference_images_path="dataset/elsewhere") for r in rows]
    ),
    "RS611": _vqa(lambda q: q.append(dict(q[0], question="Is Tess running?", category="Actions"))),
    "RS701": _edit("{P}_knowledge_qa.json", _set("qa_items.0.answer", "Emb游戏副本 the dragon")),
    "RS702": _edit(
        "{P}_dialogue_text_extension_test.json", _set("scenes.0.1.text", "They get higher by19% at dusk.")
    ),
}


def test_every_rule_has_a_case():
    assert sorted(CASES) == sorted(RULES)


@pytest.mark.parametrize("code", sorted(CASES))
def test_rule_fires_on_planted_defect(mini_release: MiniRelease, code: str):
    CASES[code](mini_release)
    parsed = mini_release.parse()
    hits = [f for f in parsed.findings if f.code == code]
    assert hits, f"{code} did not fire; got {sorted({f.code for f in parsed.findings})}"
    f = hits[0]
    assert f.rule == RULES[code].name and f.severity == RULES[code].severity
    assert f.file and not f.file.startswith("/") and f.message
    if code not in ("RS009", "RS011", "RS013", "RS410"):
        assert f.character == (
            "tessr" if code == "RS010" else "tess-ray"
        )  # RS010: the detected prefix names it


# ------------------------------------------------------------------- repairs visible in the records


def test_repairs_are_applied_and_raw_kept(mini_release: MiniRelease):
    for code in ("RS208", "RS301", "RS406", "RS701", "RS702"):
        CASES[code](mini_release)
    parsed = mini_release.parse()
    mcq = parsed.knowledge_mcq[0]
    assert mcq.options.A == "1" and mcq.options_raw.A == "1"
    d = next(x for x in parsed.dialogues if x.split == "test")
    assert d.hallucinated_image == "7"
    assert (
        d.response == "They get higher by 19% at dusk." and d.response_raw == "They get higher by19% at dusk."
    )
    q = parsed.knowledge_qa[0]
    assert q.reasoning_steps == ["The profile names it."]
    assert q.answer == "Emb the dragon" and q.answer_raw == "Emb游戏副本 the dragon"
    by_code = {f.code: f for f in parsed.findings}
    assert by_code["RS702"].repair and "by 19" in by_code["RS702"].repair
    assert by_code["RS406"].repair


def test_vqa_audited_list_drops_invalid_and_keeps_raw(mini_release: MiniRelease):
    for code in ("RS601", "RS603"):
        CASES[code](mini_release)
    g = mini_release.parse().grpo_prompts[0]
    assert len(g.vqa_questions_raw) == 4
    assert [q.question for q in g.vqa_questions] == ["What colour is the kite?", "Is Tess wearing a crown?"]


# ------------------------------------------------------------------------ near misses: must NOT fire


def _ctx() -> tuple[Auditor, FileCtx]:
    a = Auditor()
    return a, FileCtx(a, "c", "f.json", Path("/x/f.json"))


def test_glued_numbers_near_misses():
    for s in (
        "Wishing Stones x5",
        "MP3 and PS5",
        "3,265 tiles",
        "qa_001",
        "Level 5",
        "It is 80 degrees",
        "September 19, 1979",
        "COVID19",
        "abc-12",
    ):
        assert fix_glued_numbers(s) == (s, []), s
    assert fix_glued_numbers("With34 tile types and4 copies")[0] == "With 34 tile types and 4 copies"
    assert fix_glued_numbers("July31,1979")[0] == "July 31, 1979"


def test_cjk_near_misses():
    for s in ("Sun Wukong (孫悟空)", "二階堂 美樹", "match.伸縮自在！Grows", "the kanji 水 on her hat"):
        assert fix_cjk_glue(s) == (s, []), s
    assert fix_cjk_glue("with a Charg游戏副本 Attack")[0] == "with a Charg Attack"
    assert fix_cjk_glue("That's my筋斗雲 (Jīndǒu Yún)!")[0] == "That's my 筋斗雲 (Jīndǒu Yún)!"


def test_probe_near_misses():
    for s in (
        "Here are some cookies for you!",
        'Miki says: "Have you been waiting long?"',
        "Translate this phrase: Pika-Pika!",
        "These cookies are for you, will you share?",
        "Master: are you hungry?",
    ):
        assert clean_probe(s).meta_reason is None, s
    plain = clean_probe("Why do you laugh so much?")
    assert plain.flags == [] and plain.text == "Why do you laugh so much?"
    a, ctx = _ctx()
    probes = build_probes(ctx, "c", "personality", ["Why?", "Why not?", "How?"], "test_questions")
    assert all(p.usable for p in probes) and len(a) == 0


def test_probe_meta_kinds():
    assert clean_probe("*(Tests: Rule-following vs. moral flexibility)*").meta_reason == "rationale"
    assert clean_probe("1. **(Testing Flirtatiousness & Playfulness)**").meta_reason == "rationale"
    assert clean_probe("Tone & Language: Are responses boastful?").meta_reason == "rubric"
    assert clean_probe('Use of "How you doin\'?" in flirtatious moments.').meta_reason == "rubric"
    assert (
        clean_probe("Each input is constructed to elicit responses that reveal her voice.").meta_reason
        == "preamble"
    )
    p = clean_probe('4. **"What if we sneak in tonight?"**')
    assert p.text == "What if we sneak in tonight?" and p.flags == ["bold", "numbered", "quoted"]


def test_profile_cleaners_near_misses():
    clean = "**Personality:**\n- Cheerful.\n\nThese kites are her pride.\n"
    assert clean_simplified_profile(clean).removed == []  # closing paragraph not after a rule line
    assert clean_full_profile("### Profile\n\nShe has provided food for the village.\n").removed == []


def _kqa(i: int, q: str, a: str) -> KnowledgeQA:
    return KnowledgeQA(
        character="c",
        id=f"qa_{i:03d}",
        question=q,
        question_raw=q,
        answer=a,
        answer_raw=a,
        evidence=["e"],
        type="fact",
        type_allowed=True,
        difficulty="easy",
        reasoning_steps=[],
        confidence=1.0,
    )


def test_kqa_duplicates_and_conflicts():
    a, ctx = _ctx()
    items = [_kqa(1, "What is X?", "Y"), _kqa(2, "What is Z?", "W"), _kqa(3, "**What is X?**", "Y.")]
    audit_knowledge_qa(ctx, items, {i.id: f"$.qa_items[{n}]" for n, i in enumerate(items)})
    assert [f.code for f in a.findings()] == ["RS401"]  # same answer after normalisation: no conflict
    assert items[2].duplicate_of == "qa_001" and not items[0].conflicting_duplicate
    a, ctx = _ctx()
    items = [_kqa(1, "Does P speak?", "No."), _kqa(2, "Does P speak?", "No, but it understands.")]
    audit_knowledge_qa(ctx, items, {i.id: "$" for i in items})
    assert sorted(f.code for f in a.findings()) == ["RS401", "RS402"]
    assert all(i.conflicting_duplicate for i in items)


def test_evidence_status():
    idx = ProfileIndex("* **Full Name:** Chandler Muriel Bing\n* **Born:** April 8, 1968\n")
    assert idx.status(["**Full Name:** Chandler Muriel Bing"]) == "verbatim"
    assert idx.status(["Full Name: Chandler Muriel Bing"]) == "normalised"
    assert idx.status(["Full Name: Chandler ... Bing"]) == "normalised"
    assert idx.status(["Born in Paris"]) == "missing"


def _q(**kw) -> VQAQuestion:
    base = {
        "question": "Is it red?",
        "type": "yes_no",
        "category": "color",
        "answer": "yes",
        "weight": 1.0,
        "is_negative": False,
    }
    return VQAQuestion(**{**base, **kw})


def test_vqa_valid_rows_pass_untouched():
    a, ctx = _ctx()
    rows = [
        _q(),
        _q(question="Is it blue?", answer="no", is_negative=True),
        _q(question="Which colour?", type="multiple_choice", answer="Red", choices=["red", "blue"]),
        _q(question="What is it?", type="open_ended", answer="a kite"),
    ]
    assert audit_vqa(ctx, 1, "0", rows) == rows
    assert len(a) == 0


def test_vqa_conflict_drops_every_row_of_the_question():
    a, ctx = _ctx()
    rows = [
        _q(
            question="Sitting or lying?", type="multiple_choice", answer="lying", choices=["sitting", "lying"]
        ),
        _q(
            question="Sitting or lying?",
            type="multiple_choice",
            answer="sitting",
            choices=["sitting", "lying"],
            is_negative=True,
        ),
        _q(),
    ]
    assert audit_vqa(ctx, 1, "0", rows) == [rows[2]]
    assert [f.code for f in a.findings()] == ["RS602"]


def test_transparency_and_container_need_real_defects(tmp_path: Path):
    from rolescape.builders.raw import inspect_image

    p = tmp_path / "a.png"
    Image.new("RGBA", (4, 4), (1, 2, 3, 255)).save(p)
    info = inspect_image(p, p.read_bytes())
    assert info.has_alpha and not info.uses_transparency and info.extension_matches
    j = tmp_path / "b.jpg"
    Image.new("RGB", (4, 4)).save(j, format="JPEG")
    assert inspect_image(j, j.read_bytes()).extension_matches


def test_name_near_miss_case_insensitive(mini_release: MiniRelease):
    # "Will in Vietnam" in the description still mentions the prefix "Will In Vietnam"
    from rolescape.builders.naming import mentions

    assert mentions("Will Courageux, known as 'Will in Vietnam,' is a creator.", "Will In Vietnam")
    assert not mentions("Yagi Yui is a genius.", "YuiYagi")
    assert json.loads(json.dumps(sorted(RULES)))  # catalogue keys are plain strings


def test_probe_perspective_near_misses():
    from rolescape.builders.clean import probe_perspective

    names = ["Tess Ray"]
    assert probe_perspective("What does Tess build kites from?", names) == "third-person"
    assert probe_perspective("In 2019, Tess won a prize. What was it?", names) == "third-person"
    assert probe_perspective("What is my favourite kite called?", names) == "first-person"
    # addressed to the character: a second-person pronoun, or the name as a vocative
    assert probe_perspective("Tess, what do you build kites from?", names) is None
    assert probe_perspective("What are you building, Tess?", names) is None
    assert probe_perspective("What's happening, Tess?", names) is None
    assert probe_perspective("Hey, Tess, want to fly one?", names) is None
    # the user speaking in the first person is not an inverted question
    assert probe_perspective("I heard a noise on the hill. Should we check it out?", names) is None
    # short name words (< 3 letters) and other people's names never count
    assert probe_perspective("What did Ray's friend Al bring?", ["Al"]) is None


def test_perspective_rules_only_for_memorization(mini_release: MiniRelease):
    mini_release.edit(
        mini_release.file("{P}_personality_test.json"),
        lambda o: o["test_questions"].append("What does Tess build kites from?"),
    )
    assert mini_release.parse().findings == []


def test_annotation_reference_near_misses():
    from rolescape.builders.clean import ANNOTATION_REF_RE

    for hit in (
        'In image scene "11", Will gives a thumbs-up.',
        "In her final dialogue excerpt, she says",
        "In one scene, Yui says",
    ):
        assert ANNOTATION_REF_RE.search(hit), hit
    for miss in (
        "What is your favourite scene in the film?",
        "Describe the image you want to paint.",
        "Scene 2 of the play",
    ):
        assert not ANNOTATION_REF_RE.search(miss), miss


# ------------------------------------------------------------------- derived parquet (§2.11)


def _rewrite_parquet(m: MiniRelease, fn) -> None:
    import pyarrow.parquet as pq

    p = m.t2i_parquet(f"{MINI_PREFIX}_t2i.jsonl")
    rows = pq.read_table(p).to_pylist()
    fn(rows)
    import pyarrow as pa

    pq.write_table(pa.Table.from_pylist(rows, schema=pq.read_schema(p)), p)


@pytest.mark.parametrize(
    ("plant", "code", "location", "needle"),
    [
        (
            lambda m: _rewrite_parquet(m, lambda r: r[1].update(image=r[0]["image"])),
            "RS203",
            "row 1",
            "bytes of 1.png",
        ),
        (
            lambda m: _rewrite_parquet(
                m, lambda r: r[0].update(captions=json.dumps({"caption": "old text"}))
            ),
            "RS203",
            "row 0",
            "captions",
        ),
        (lambda m: _rewrite_parquet(m, lambda r: r.pop()), "RS203", "", "1 rows, but"),
        (
            lambda m: m.t2i_parquet(f"{MINI_PREFIX}_t2i.jsonl").write_bytes(b"PAR1 not really"),
            "RS203",
            "",
            "unreadable derived parquet",
        ),
        (
            lambda m: m.t2i_parquet(f"{MINI_PREFIX}_t2i.jsonl").write_text(
                "version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 1\n"
            ),
            "RS007",
            "",
            "Git LFS pointer",
        ),
        (
            lambda m: shutil.rmtree(m.t2i_parquet(f"{MINI_PREFIX}_t2i.jsonl").parent),
            "RS007",
            "",
            "1 derived parquet folder(s) absent",
        ),
    ],
)
def test_derived_parquet_cross_check(mini_release: MiniRelease, plant, code, location, needle):
    plant(mini_release)
    findings = mini_release.parse().findings
    assert [f.code for f in findings] == [code], [(f.code, f.message) for f in findings]
    f = findings[0]
    assert f.location == location and needle in f.message
    assert f.file.startswith(f"data/personalized_data/train/{MINI_FOLDER}/processed/t2i")


def test_dataset_info_with_true_counts_is_silent(mini_release: MiniRelease):
    _dataset_info(
        {
            "tess_knowledge_qa": (f"{VLM}_knowledge_qa.jsonl", 2),
            "tess_vlm_extension": (f"{VLM}_vlm_extension.jsonl", 4),
        }
    )(mini_release)
    # a parquet folder entry (data_dir only) is counted by rows
    info = mini_release.root / "data" / "dataset_info.py"
    text = info.read_text().replace(
        "    },\n}",
        f"    }},\n    't2i_pretrain': {{'tess_t2i': {{'data_dir': "
        f"'data/personalized_data/train/{MINI_FOLDER}/processed/t2i/{MINI_PREFIX}_t2i_parquet', "
        "'num_files': 1, 'num_total_samples': 2, 'kind': 'parquet'}},\n}",
    )
    info.write_text(text)
    assert mini_release.parse().findings == []
    info.write_text(text.replace("'num_total_samples': 2, 'kind'", "'num_total_samples': 12, 'kind'"))
    f = [x for x in mini_release.parse().findings if x.code == "RS014"]
    assert len(f) == 1 and f[0].location == "t2i_pretrain.tess_t2i" and "has 2" in f[0].message
    assert f[0].character == "tess-ray"


def test_dataset_info_is_parsed_never_executed(mini_release: MiniRelease, tmp_path: Path):
    marker = tmp_path / "executed"
    (mini_release.root / "data" / "dataset_info.py").write_text(
        f"open({str(marker)!r}, 'w').write('x')\nDATASET_INFO = {{'g': {{'e': {{'data_dir': 'nowhere'}}}}}}\n"
    )
    codes = [f.code for f in mini_release.parse().findings]
    assert codes == ["RS013"] and not marker.exists()
