"""Parsers for every source file kind of the release (rolescape20-release.md §2), and the templates
that regenerate the derived ``processed/`` files from them (§2.10, §2.13).

Each ``parse_*`` function takes one parsed JSON document (or JSONL lines) and a :class:`FileCtx`,
checks its shape (wrong shape -> InputError naming the file and JSON path), applies the lenient
repairs the release needs (int options, evidence as list, the corrupted ``reason游戏副本_steps`` key,
extra keys) and records each one as a finding. They know nothing about the 20 released characters.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from rolescape.builders.audit import (
    ALLOWED_KQA_TYPES,
    FileCtx,
    ProfileIndex,
    flag_field,
    mcq_duplicate_options,
    repair_field,
    report_evidence,
)
from rolescape.builders.clean import CJK_RANGES
from rolescape.builders.raw import JsonlLine, Shape
from rolescape.schemas import KnowledgeMCQ, KnowledgeQA, MCQOptions, VisualMCQ, VisualQA, VQAQuestion

LETTERS = ("A", "B", "C", "D")
DIFFICULTIES = ("easy", "medium", "hard")

# ------------------------------------------------------------------------------------------ templates
# Facts of the release (rolescape20-release.md §2.10 and §2.13): the derived files are these strings.

T2I_TEMPLATE = (
    "Character Description: {description}\n\nUser Input: {user_text}\n\nCharacter Response: {response}\n\n"
    "Please generate an image that visualizes this scene with the character responding to the user's input "
    "based on the character description."
)
T2I_THINK_TEMPLATE = (
    "Character Description: {description}\n\nUser Input: {user_text}\n\nCharacter Response: {response}\n\n"
    "Thinking Process: {thinking_process}\n\nGeneration Instruction: {generation_instruction}\n\n"
    "Please generate an image that visualizes this scene with the character responding to the user's input "
    "based on the character description, thinking process, and generation instruction."
)
RP_TEMPLATE = (
    "Character Description: {description}\n\nOpening: {opening}\n\nUser Input: {user_text}\n\n"
    "Based on the character description, opening, conversation history, current user input, and the "
    "reference image, please generate {prefix}'s response."
)
THINK_SYSTEM_PROMPT = (
    "You should first think about the planning process in the mind and then generate the image.\n"
    "The planning process must be enclosed within <think></think>.\n"
    "Then provide a concise, standardized generation instruction enclosed within <gen></gen> that can be fed "
    "to a text-to-image model.\n"
    "The <gen> instruction should be a single descriptive sentence or a short list of comma-separated "
    "attributes, focusing on character, pose/expression, scene context, composition, style, and quality words.\n"
    "Output format (no additional text):\n"
    "<think>...your planning process...</think>\n"
    "<gen>...your generation instruction...</gen>\n"
)
THINK_SEPARATOR = "\n\nSystem Instruction for Thinking and Generation:\n"


def t2i_prompt(description: str, user_text: str, response: str) -> str:
    return T2I_TEMPLATE.format(description=description, user_text=user_text, response=response)


def t2i_think_prompt(
    description: str, user_text: str, response: str, thinking_process: str, generation_instruction: str
) -> str:
    return T2I_THINK_TEMPLATE.format(
        description=description,
        user_text=user_text,
        response=response,
        thinking_process=thinking_process,
        generation_instruction=generation_instruction,
    )


def rp_prompt(description: str, opening: str, user_text: str, prefix: str) -> str:
    return RP_TEMPLATE.format(description=description, opening=opening, user_text=user_text, prefix=prefix)


def think_prompt(description: str, user_text: str, response: str) -> str:
    return t2i_prompt(description, user_text, response) + THINK_SEPARATOR + THINK_SYSTEM_PROMPT


def think_target(thinking_process: str, generation_instruction: str) -> str:
    return f"<think>{thinking_process}</think>\n<gen>{generation_instruction}</gen>"


# ------------------------------------------------------------------------------------ intermediate


@dataclass
class Header:
    description: str
    opening: str


@dataclass
class AnnotatedScene:
    """One scene of annotation.json / with_image.json (raw texts, exactly as released)."""

    index: int
    user_text: str
    response: str
    image_id: str
    jpath: str
    thinking_process: str | None = None
    generation_instruction: str | None = None
    qa_pairs: list[VisualQA] = field(default_factory=list)
    mcq_items: list[VisualMCQ] = field(default_factory=list)


@dataclass
class T2IInstruction:
    index: int
    image_id: str
    text: str
    jpath: str


@dataclass
class ExtScene:
    index: int
    user_text: str
    response: str
    image: str | None
    jpath: str


@dataclass
class GrpoRow:
    lineno: int
    text: str
    character: str
    scene_id: str
    reference_images_path: str
    vqa_questions: list[VQAQuestion] | None  # None in a _pure_t2i.jsonl line
    extra: dict[str, Any] = field(default_factory=dict)


def _extra_keys(ctx: FileCtx, obj: dict[str, Any], known: set[str], jpath: str, kept: bool) -> dict[str, Any]:
    extra = {k: v for k, v in obj.items() if k not in known}
    for k in sorted(extra):
        where = "kept in `extra`" if kept else "ignored"
        ctx.add("RS207", f"{jpath}.{k}", f"unexpected key {k!r}: {where}")
    return extra


def parse_header(obj: Any, ctx: FileCtx, shape: Shape) -> tuple[dict[str, Any], Header]:
    """The CharacterHeader every source JSON starts with: ``description`` and ``opening`` strings."""
    doc = shape.as_obj(obj, "$")
    return doc, Header(
        description=shape.str_key(doc, "description", "$"), opening=shape.str_key(doc, "opening", "$")
    )


# ------------------------------------------------------------------------------------- annotation


def _turn_pair(scene: Any, shape: Shape, jpath: str) -> tuple[dict[str, Any], dict[str, Any]]:
    pair = shape.as_list(scene, jpath)
    if len(pair) != 2:
        shape.fail(jpath, f"expected a [user, machine] pair, got {len(pair)} turns")
    user = shape.as_obj(pair[0], f"{jpath}[0]")
    machine = shape.as_obj(pair[1], f"{jpath}[1]")
    if user.get("role") != "user":
        shape.fail(f"{jpath}[0].role", f"expected 'user', got {user.get('role')!r}")
    if machine.get("role") != "machine":
        shape.fail(f"{jpath}[1].role", f"expected 'machine', got {machine.get('role')!r}")
    return user, machine


def _image_id(value: Any, shape: Shape, jpath: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    s = shape.as_str(value, jpath)
    if not re.fullmatch(r"\d+", s):
        shape.fail(jpath, f"expected a decimal image id, got {s!r}")
    return s


def parse_annotation(obj: Any, ctx: FileCtx, shape: Shape) -> tuple[Header, list[AnnotatedScene]]:
    """``annotation.json``: ``{description, opening, scenes: [[user, machine{text, image}], ...]}``."""
    doc, header = parse_header(obj, ctx, shape)
    _extra_keys(ctx, doc, {"description", "opening", "scenes"}, "$", kept=False)
    scenes = []
    for i, sc in enumerate(shape.as_list(shape.key(doc, "scenes", "$"), "$.scenes")):
        jp = f"$.scenes[{i}]"
        user, machine = _turn_pair(sc, shape, jp)
        _extra_keys(ctx, user, {"role", "text"}, f"{jp}[0]", kept=False)
        _extra_keys(ctx, machine, {"role", "text", "image"}, f"{jp}[1]", kept=False)
        scenes.append(
            AnnotatedScene(
                index=i,
                user_text=shape.str_key(user, "text", f"{jp}[0]"),
                response=shape.str_key(machine, "text", f"{jp}[1]"),
                image_id=_image_id(shape.key(machine, "image", f"{jp}[1]"), shape, f"{jp}[1].image"),
                jpath=jp,
            )
        )
    return header, scenes


def _visual_qa(ctx: FileCtx, shape: Shape, obj: Any, jp: str) -> VisualQA:
    d = shape.as_obj(obj, jp)
    extra = _extra_keys(ctx, d, {"question", "answer", "type"}, jp, kept=True)
    q = shape.str_key(d, "question", jp)
    a = shape.str_key(d, "answer", jp)
    flag_field(ctx, f"{jp}.question", q)
    flag_field(ctx, f"{jp}.answer", a)
    return VisualQA(
        question=q,
        answer=a,
        type=shape.as_choice(shape.key(d, "type", jp), f"{jp}.type", ("objective", "subjective")),
        extra=extra,
    )


def parse_options(ctx: FileCtx, shape: Shape, value: Any, jp: str, item_id: str) -> dict[str, str]:
    """MCQ options: exactly A-D; number values are coerced to strings (RS208)."""
    d = shape.as_obj(value, jp)
    if sorted(d) != list(LETTERS):
        shape.fail(jp, f"expected options A, B, C, D, got {', '.join(map(str, d)) or 'none'}")
    out: dict[str, str] = {}
    coerced = []
    for k in LETTERS:
        v = d[k]
        if isinstance(v, int | float) and not isinstance(v, bool):
            coerced.append(k)
            v = str(v)
        out[k] = shape.as_str(v, f"{jp}.{k}")
    if coerced:
        ctx.add(
            "RS208",
            jp,
            f"{item_id}: option values are numbers ({', '.join(f'{k}={d[k]!r}' for k in coerced)})",
            repair="coerced to strings",
        )
    return out


def _visual_mcq(ctx: FileCtx, shape: Shape, obj: Any, jp: str) -> VisualMCQ:
    d = shape.as_obj(obj, jp)
    known = {"id", "question", "options", "answer_key", "difficulty", "rationale"}
    extra = _extra_keys(ctx, d, known, jp, kept=True)
    item_id = shape.str_key(d, "id", jp)
    options_raw = parse_options(ctx, shape, shape.key(d, "options", jp), f"{jp}.options", item_id)
    options = {k: repair_field(ctx, f"{jp}.options.{k}", v) for k, v in options_raw.items()}
    mcq_duplicate_options(ctx, f"{jp}.options", item_id, options)
    question = shape.str_key(d, "question", jp)
    rationale = shape.str_key(d, "rationale", jp)
    flag_field(ctx, f"{jp}.question", question)
    return VisualMCQ(
        id=item_id,
        question=question,
        options=MCQOptions(**options),
        answer_key=shape.as_choice(shape.key(d, "answer_key", jp), f"{jp}.answer_key", LETTERS),
        difficulty=shape.as_choice(shape.key(d, "difficulty", jp), f"{jp}.difficulty", DIFFICULTIES),
        rationale=rationale,
        extra={
            k: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, sort_keys=True)
            for k, v in extra.items()
        },
        options_raw=MCQOptions(**options_raw) if options != options_raw else None,
    )


def parse_with_image(obj: Any, ctx: FileCtx, shape: Shape) -> tuple[Header, list[AnnotatedScene]]:
    """``<P>_with_image.json``: annotation scenes whose machine turn adds ``thinking_process``,
    ``generation_instruction`` and (train only) ``qa_pairs`` and ``mcq_items``."""
    doc, header = parse_header(obj, ctx, shape)
    _extra_keys(ctx, doc, {"description", "opening", "scenes"}, "$", kept=False)
    scenes = []
    for i, sc in enumerate(shape.as_list(shape.key(doc, "scenes", "$"), "$.scenes")):
        jp = f"$.scenes[{i}]"
        user, machine = _turn_pair(sc, shape, jp)
        mj = f"{jp}[1]"
        _extra_keys(ctx, user, {"role", "text"}, f"{jp}[0]", kept=False)
        _extra_keys(
            ctx,
            machine,
            {"role", "text", "image", "thinking_process", "generation_instruction", "qa_pairs", "mcq_items"},
            mj,
            kept=False,
        )
        thinking = shape.str_key(machine, "thinking_process", mj)
        gen = shape.str_key(machine, "generation_instruction", mj)
        flag_field(ctx, f"{mj}.thinking_process", thinking)
        flag_field(ctx, f"{mj}.generation_instruction", gen)
        qa = [
            _visual_qa(ctx, shape, q, f"{mj}.qa_pairs[{j}]")
            for j, q in enumerate(shape.as_list(machine.get("qa_pairs", []), f"{mj}.qa_pairs"))
        ]
        mcq = [
            _visual_mcq(ctx, shape, m, f"{mj}.mcq_items[{j}]")
            for j, m in enumerate(shape.as_list(machine.get("mcq_items", []), f"{mj}.mcq_items"))
        ]
        scenes.append(
            AnnotatedScene(
                index=i,
                user_text=shape.str_key(user, "text", f"{jp}[0]"),
                response=shape.str_key(machine, "text", mj),
                image_id=_image_id(shape.key(machine, "image", mj), shape, f"{mj}.image"),
                jpath=jp,
                thinking_process=thinking,
                generation_instruction=gen,
                qa_pairs=qa,
                mcq_items=mcq,
            )
        )
    return header, scenes


def parse_t2i_instruction(obj: Any, ctx: FileCtx, shape: Shape) -> tuple[Header, list[T2IInstruction]]:
    """``<P>_t2i_instruction.json``: ``t2i_instructions: [{image_id, t2i_instruction}]``."""
    doc, header = parse_header(obj, ctx, shape)
    _extra_keys(ctx, doc, {"description", "opening", "t2i_instructions"}, "$", kept=False)
    out = []
    for i, it in enumerate(shape.as_list(shape.key(doc, "t2i_instructions", "$"), "$.t2i_instructions")):
        jp = f"$.t2i_instructions[{i}]"
        d = shape.as_obj(it, jp)
        _extra_keys(ctx, d, {"image_id", "t2i_instruction"}, jp, kept=False)
        text = shape.str_key(d, "t2i_instruction", jp)
        flag_field(ctx, f"{jp}.t2i_instruction", text)
        out.append(
            T2IInstruction(i, _image_id(shape.key(d, "image_id", jp), shape, f"{jp}.image_id"), text, jp)
        )
    return header, out


def parse_dialogue_ext(obj: Any, ctx: FileCtx, shape: Shape) -> tuple[Header, list[ExtScene]]:
    """``<P>_dialogue_text_extension_{train,test}.json``: text-only scenes; an ``image`` key may be present
    on the machine turn (hallucinated by the generating LLM) and is returned for the caller to drop."""
    doc, header = parse_header(obj, ctx, shape)
    _extra_keys(ctx, doc, {"description", "opening", "scenes"}, "$", kept=False)
    out = []
    for i, sc in enumerate(shape.as_list(shape.key(doc, "scenes", "$"), "$.scenes")):
        jp = f"$.scenes[{i}]"
        user, machine = _turn_pair(sc, shape, jp)
        _extra_keys(ctx, user, {"role", "text"}, f"{jp}[0]", kept=False)
        _extra_keys(ctx, machine, {"role", "text", "image"}, f"{jp}[1]", kept=False)
        image = machine.get("image")
        if image is not None and not isinstance(image, str | int):
            shape.fail(f"{jp}[1].image", "expected a string image id")
        out.append(
            ExtScene(
                i,
                shape.str_key(user, "text", f"{jp}[0]"),
                shape.str_key(machine, "text", f"{jp}[1]"),
                None if image is None else str(image),
                jp,
            )
        )
    return header, out


# ---------------------------------------------------------------------------------- knowledge QA


def _fuzzy_key(key: str) -> str:
    """Key with CJK runs removed and lower-cased: ``reason游戏副本_steps`` -> ``reason_steps``."""
    return re.sub(rf"[{CJK_RANGES}]+", "", key).lower()


_REASONING_ALIASES = re.compile(r"^reason\w*_?steps?$")


def parse_knowledge_qa(
    obj: Any, ctx: FileCtx, shape: Shape, character: str, profile: ProfileIndex
) -> tuple[Header, list[KnowledgeQA], dict[str, str]]:
    """``<P>_knowledge_qa.json``: returns the items and ``{id: JSON path}`` for later findings."""
    doc, header = parse_header(obj, ctx, shape)
    _extra_keys(ctx, doc, {"description", "opening", "qa_items"}, "$", kept=False)
    known = {"id", "question", "answer", "evidence", "type", "difficulty", "reasoning_steps", "confidence"}
    items: list[KnowledgeQA] = []
    locations: dict[str, str] = {}
    for i, it in enumerate(shape.as_list(shape.key(doc, "qa_items", "$"), "$.qa_items")):
        jp = f"$.qa_items[{i}]"
        d = dict(shape.as_obj(it, jp))
        item_id = shape.str_key(d, "id", jp)
        if item_id in locations:
            shape.fail(f"{jp}.id", f"duplicate id {item_id!r} (first at {locations[item_id]})")
        locations[item_id] = jp
        # A corrupted key that stands for a missing known key (Furina qa_076: reason游戏副本_steps).
        if "reasoning_steps" not in d:
            for k in sorted(d):
                if k not in known and _REASONING_ALIASES.match(_fuzzy_key(k)):
                    ctx.add(
                        "RS406",
                        f"{jp}.{k}",
                        f"{item_id}: corrupted key {k!r} stands for 'reasoning_steps'",
                        repair=f"{k!r} used as reasoning_steps",
                    )
                    d["reasoning_steps"] = d.pop(k)
                    break
        extra = _extra_keys(ctx, d, known, jp, kept=True)
        if "reasoning_steps" not in d:
            ctx.add("RS405", jp, f"{item_id}: reasoning_steps missing", repair="reasoning_steps=[]")
            steps: list[str] = []
        else:
            steps, was_list = shape.str_or_list(d["reasoning_steps"], f"{jp}.reasoning_steps")
            if not was_list:
                ctx.add(
                    "RS405",
                    f"{jp}.reasoning_steps",
                    f"{item_id}: reasoning_steps is a string",
                    repair="wrapped in a list",
                )
        evidence, ev_list = shape.str_or_list(shape.key(d, "evidence", jp), f"{jp}.evidence")
        if ev_list:
            ctx.add("RS404", f"{jp}.evidence", f"{item_id}: evidence is a list of {len(evidence)} strings")
        question_raw = shape.str_key(d, "question", jp)
        answer_raw = shape.str_key(d, "answer", jp)
        qtype = shape.str_key(d, "type", jp)
        if qtype not in ALLOWED_KQA_TYPES:
            ctx.add("RS403", f"{jp}.type", f"{item_id}: type {qtype!r} is not one of the 14 allowed types")
        for j, e in enumerate(evidence):
            flag_field(ctx, f"{jp}.evidence" + (f"[{j}]" if ev_list else ""), e)
        for j, step in enumerate(steps):  # kept verbatim (no raw sibling field): flagged, not repaired
            flag_field(ctx, f"{jp}.reasoning_steps[{j}]", step)
        status = profile.status(evidence)
        report_evidence(ctx, f"{jp}.evidence", item_id, status, evidence)
        confidence = shape.as_number(shape.key(d, "confidence", jp), f"{jp}.confidence")
        if not 0.0 <= confidence <= 1.0:
            shape.fail(f"{jp}.confidence", f"expected a number in [0, 1], got {confidence}")
        items.append(
            KnowledgeQA(
                character=character,
                id=item_id,
                question=repair_field(ctx, f"{jp}.question", question_raw),
                question_raw=question_raw,
                answer=repair_field(ctx, f"{jp}.answer", answer_raw),
                answer_raw=answer_raw,
                evidence=evidence,
                type=qtype,
                type_allowed=qtype in ALLOWED_KQA_TYPES,
                difficulty=shape.as_choice(shape.key(d, "difficulty", jp), f"{jp}.difficulty", DIFFICULTIES),
                reasoning_steps=steps,
                confidence=confidence,
                evidence_verbatim=status == "verbatim",
                extra=extra,
            )
        )
    return header, items, locations


def parse_knowledge_mcq(
    obj: Any, ctx: FileCtx, shape: Shape, character: str, profile: ProfileIndex
) -> tuple[Header, list[KnowledgeMCQ]]:
    """``<P>_knowledge_qa_test.json``: the knowledge MCQ (eval)."""
    doc, header = parse_header(obj, ctx, shape)
    _extra_keys(ctx, doc, {"description", "opening", "mcq_items"}, "$", kept=False)
    known = {"id", "question", "options", "answer_key", "difficulty", "evidence", "rationale"}
    items: list[KnowledgeMCQ] = []
    ids: dict[str, str] = {}
    for i, it in enumerate(shape.as_list(shape.key(doc, "mcq_items", "$"), "$.mcq_items")):
        jp = f"$.mcq_items[{i}]"
        d = shape.as_obj(it, jp)
        item_id = shape.str_key(d, "id", jp)
        if item_id in ids:
            shape.fail(f"{jp}.id", f"duplicate id {item_id!r} (first at {ids[item_id]})")
        ids[item_id] = jp
        extra = _extra_keys(ctx, d, known, jp, kept=True)
        options_raw = parse_options(ctx, shape, shape.key(d, "options", jp), f"{jp}.options", item_id)
        options = {k: repair_field(ctx, f"{jp}.options.{k}", v) for k, v in options_raw.items()}
        mcq_duplicate_options(ctx, f"{jp}.options", item_id, options)
        evidence, ev_list = shape.str_or_list(shape.key(d, "evidence", jp), f"{jp}.evidence")
        if ev_list:
            ctx.add(
                "RS404",
                f"{jp}.evidence",
                f"{item_id}: evidence is a list of {len(evidence)} strings",
                repair="joined with newlines",
            )
        status = profile.status(evidence)
        report_evidence(ctx, f"{jp}.evidence", item_id, status, evidence)
        question = shape.str_key(d, "question", jp)
        rationale = shape.str_key(d, "rationale", jp)
        for name, text in (("question", question), ("rationale", rationale)):
            flag_field(ctx, f"{jp}.{name}", text)
        for j, e in enumerate(evidence):
            flag_field(ctx, f"{jp}.evidence" + (f"[{j}]" if ev_list else ""), e)
        items.append(
            KnowledgeMCQ(
                character=character,
                id=item_id,
                question=question,
                options=MCQOptions(**options),
                options_raw=MCQOptions(**options_raw),
                answer_key=shape.as_choice(shape.key(d, "answer_key", jp), f"{jp}.answer_key", LETTERS),
                difficulty=shape.as_choice(shape.key(d, "difficulty", jp), f"{jp}.difficulty", DIFFICULTIES),
                evidence="\n".join(evidence),
                evidence_verbatim=status == "verbatim",
                rationale=rationale,
                extra=extra,
            )
        )
    return header, items


def parse_test_questions(obj: Any, ctx: FileCtx, shape: Shape) -> tuple[Header, list[str]]:
    """``<P>_memorization_test.json`` / ``<P>_personality_test.json``: ``test_questions: [str]``."""
    doc, header = parse_header(obj, ctx, shape)
    _extra_keys(ctx, doc, {"description", "opening", "test_questions"}, "$", kept=False)
    return header, shape.str_list(shape.key(doc, "test_questions", "$"), "$.test_questions")


# ------------------------------------------------------------------------------------------ GRPO


def _vqa_question(ctx: FileCtx, shape: Shape, obj: Any, jp: str) -> VQAQuestion:
    d = shape.as_obj(obj, jp)
    known = {"question", "type", "category", "answer", "weight", "is_negative", "choices"}
    extra = _extra_keys(ctx, d, known, jp, kept=True)
    answer = shape.key(d, "answer", jp)
    if isinstance(answer, int | float) and not isinstance(answer, bool):
        answer = str(answer)
    choices = d.get("choices")
    if choices is not None:
        choices = [
            str(c) if isinstance(c, int | float) and not isinstance(c, bool) else c
            for c in shape.as_list(choices, f"{jp}.choices")
        ]
        choices = shape.str_list(choices, f"{jp}.choices")
    weight = shape.as_number(shape.key(d, "weight", jp), f"{jp}.weight")
    return VQAQuestion(
        question=shape.str_key(d, "question", jp),
        type=shape.as_choice(
            shape.key(d, "type", jp), f"{jp}.type", ("yes_no", "multiple_choice", "open_ended")
        ),
        category=shape.str_key(d, "category", jp),
        answer=shape.as_str(answer, f"{jp}.answer"),
        weight=weight,
        is_negative=shape.as_bool(shape.key(d, "is_negative", jp), f"{jp}.is_negative"),
        choices=choices,
        extra=extra,
    )


def parse_grpo_lines(
    lines: list[JsonlLine], ctx: FileCtx, shape_for: Any, *, with_vqa: bool
) -> list[GrpoRow]:
    """``<DsName>_pure_t2i.jsonl`` (``with_vqa=False``) or ``<DsName>_pure_t2i_with_vqa.jsonl`` lines.

    ``shape_for(lineno)`` returns a :class:`Shape` whose errors name that line.
    """
    rows = []
    known = {"text", "character", "scene_id", "reference_images_path"} | (
        {"vqa_questions"} if with_vqa else set()
    )
    for ln in lines:
        shape: Shape = shape_for(ln.lineno)
        d = shape.as_obj(ln.obj, "$")
        extra = {k: v for k, v in d.items() if k not in known}
        for k in sorted(extra):
            ctx.add("RS207", f"{ln.lineno}: $.{k}", f"unexpected key {k!r}: ignored")
        scene_id = shape.key(d, "scene_id", "$")
        if isinstance(scene_id, int) and not isinstance(scene_id, bool):
            scene_id = str(scene_id)
        vqa = None
        if with_vqa:
            vqa = [
                _vqa_question(ctx, shape, q, f"$.vqa_questions[{j}]")
                for j, q in enumerate(shape.as_list(shape.key(d, "vqa_questions", "$"), "$.vqa_questions"))
            ]
        text = shape.str_key(d, "text", "$")
        rows.append(
            GrpoRow(
                lineno=ln.lineno,
                text=text,
                character=shape.str_key(d, "character", "$"),
                scene_id=shape.as_str(scene_id, "$.scene_id"),
                reference_images_path=shape.str_key(d, "reference_images_path", "$"),
                vqa_questions=vqa,
                extra=extra,
            )
        )
    return rows


# ----------------------------------------------------------------------------- derived (processed/)


def image_rel(split: str, folder: str, image_id: str, suffix: str = ".png") -> str:
    """The image path the derived files use: relative to ``data/``."""
    return f"personalized_data/{split}/{folder}/{image_id}{suffix}"


def expected_t2i_files(
    prefix: str, folder: str, split: str, description: str, scenes: list[AnnotatedScene], t2i: dict[str, str]
) -> dict[str, list[dict[str, Any]]]:
    """Regenerate ``processed/t2i/<P>_{pure_t2i,t2i_generation_instruction_only,t2i,t2i_with_thinking}.jsonl``."""
    pure, gen_only, plain, think = [], [], [], []
    for sc in scenes:
        img = image_rel(split, folder, sc.image_id)
        sid = int(sc.image_id)
        pure.append(
            {"text": t2i.get(sc.image_id), "image": img, "character": prefix, "scene_id": sc.image_id}
        )
        gen_only.append(
            {"text": sc.generation_instruction, "image": img, "character": prefix, "scene_id": sid}
        )
        plain.append(
            {
                "text": t2i_prompt(description, sc.user_text, sc.response),
                "image": img,
                "character": prefix,
                "scene_id": sid,
            }
        )
        think.append(
            {
                "text": t2i_think_prompt(
                    description,
                    sc.user_text,
                    sc.response,
                    sc.thinking_process or "",
                    sc.generation_instruction or "",
                ),
                "image": img,
                "character": prefix,
                "scene_id": sid,
            }
        )
    return {
        f"{prefix}_pure_t2i.jsonl": pure,
        f"{prefix}_t2i_generation_instruction_only.jsonl": gen_only,
        f"{prefix}_t2i.jsonl": plain,
        f"{prefix}_t2i_with_thinking.jsonl": think,
    }


def _conv(human: str, gpt: str) -> list[dict[str, str]]:
    return [{"from": "human", "value": human}, {"from": "gpt", "value": gpt}]


def expected_vlm_files(
    prefix: str,
    folder: str,
    header: Header,
    scenes: list[AnnotatedScene],
    ext_train: list[ExtScene],
    kqa: list[KnowledgeQA],
) -> dict[str, list[dict[str, Any]]]:
    """Regenerate ``processed/vlm/<P>_{vlm,vlm_extension,vlm_thinking,knowledge_qa,vqa}.jsonl`` (train only)."""
    d, o = header.description, header.opening
    vlm = [
        {"id": i, "conversations": _conv(rp_prompt(d, o, sc.user_text, prefix), sc.response)}
        for i, sc in enumerate(scenes)
    ]
    ext = [
        {"id": i, "conversations": _conv(rp_prompt(d, o, sc.user_text, prefix), sc.response)}
        for i, sc in enumerate(ext_train)
    ]
    thinking = [
        {
            "id": i,
            "conversations": _conv(
                think_prompt(d, sc.user_text, sc.response),
                think_target(sc.thinking_process or "", sc.generation_instruction or ""),
            ),
        }
        for i, sc in enumerate(scenes)
    ]
    kq = [{"id": i, "conversations": _conv(it.question_raw, it.answer_raw)} for i, it in enumerate(kqa)]
    vqa = []
    for s, sc in enumerate(scenes):
        for q, qa in enumerate(sc.qa_pairs):
            vqa.append(
                {
                    "id": f"{s}_{q}",
                    "image": image_rel("train", folder, sc.image_id),
                    "conversations": _conv("<image>" + qa.question, qa.answer),
                    "qa_type": qa.type,
                }
            )
    return {
        f"{prefix}_vlm.jsonl": vlm,
        f"{prefix}_vlm_extension.jsonl": ext,
        f"{prefix}_vlm_thinking.jsonl": thinking,
        f"{prefix}_knowledge_qa.jsonl": kq,
        f"{prefix}_vqa.jsonl": vqa,
    }


__all__ = [
    "T2I_TEMPLATE",
    "T2I_THINK_TEMPLATE",
    "RP_TEMPLATE",
    "THINK_SYSTEM_PROMPT",
    "THINK_SEPARATOR",
    "t2i_prompt",
    "t2i_think_prompt",
    "rp_prompt",
    "think_prompt",
    "think_target",
    "Header",
    "AnnotatedScene",
    "T2IInstruction",
    "ExtScene",
    "GrpoRow",
    "parse_header",
    "parse_annotation",
    "parse_with_image",
    "parse_t2i_instruction",
    "parse_dialogue_ext",
    "parse_options",
    "parse_knowledge_qa",
    "parse_knowledge_mcq",
    "parse_test_questions",
    "parse_grpo_lines",
    "image_rel",
    "expected_t2i_files",
    "expected_vlm_files",
    "LETTERS",
    "DIFFICULTIES",
]
