"""Assemble config rows (plain dicts) from a ParsedRelease: the metadata configs and one per task."""

from __future__ import annotations

from typing import Any

from rolescape.builders.parsers import rp_prompt
from rolescape.builders.release import ParsedRelease
from rolescape.schemas import (
    TASKS,
    DialogueItem,
    KnowledgeMCQItem,
    ProbeItem,
    RoleplayItem,
    T2IItem,
    T2IVQAItem,
    VisualMCQItem,
    item_id,
)
from rolescape.schemas.base import ImageData

Rows = list[dict[str, Any]]


def _num(s: str) -> tuple[int, str]:
    return (int(s), "") if s.isdigit() else (1 << 30, s)


def task_rows(parsed: ParsedRelease) -> dict[str, Rows]:
    """One list of validated task items per task of the protocol, sorted by id."""
    chars = {c.id: c for c in parsed.characters}
    exts = {r.key: (".jpg" if r.container == "JPEG" else "." + r.container.lower()) for r in parsed.images}

    def img(key: str) -> ImageData:
        return ImageData(bytes=parsed.image_bytes[key], path=key.replace("/", "_") + exts[key])

    train_keys: dict[str, list[str]] = {}
    for r in parsed.images:  # parsed.images is sorted by (character, split, numeric image id)
        if r.split == "train":
            train_keys.setdefault(r.character, []).append(r.key)
    profiles = {
        "memorization": {c.id: c.full_profile_clean for c in parsed.characters},
        "personality": {c.id: c.personality_profile for c in parsed.characters},
    }

    out: dict[str, list[Any]] = {t: [] for t in TASKS}
    for s in parsed.scenes:
        c = chars[s.character]
        if s.split == "test":
            out["roleplay"].append(
                RoleplayItem(
                    id=item_id("roleplay", c.id, s.scene_id),
                    character=c.id,
                    item=s.scene_id,
                    description=c.description,
                    opening=c.opening,
                    user_text=s.user_text,
                    prompt=rp_prompt(c.description, c.opening, s.user_text, c.prefix),
                    reference_response=s.response,
                    reference_image=img(s.image_key),
                    reference_image_key=s.image_key,
                    reference_generation_instruction=s.generation_instruction,
                    reference_thinking_process=s.thinking_process,
                    t2i_instruction=s.t2i_instruction,
                    train_image_keys=train_keys.get(c.id, []),
                )
            )
            out["t2i"].append(
                T2IItem(
                    id=item_id("t2i", c.id, s.scene_id),
                    character=c.id,
                    item=s.scene_id,
                    prompt=s.t2i_instruction,
                    reference_image=img(s.image_key),
                    reference_image_key=s.image_key,
                    train_image_keys=train_keys.get(c.id, []),
                )
            )
        else:
            for q in s.mcq_items:
                it = f"{s.scene_id}-{q.id}"
                out["visual_mcq"].append(
                    VisualMCQItem(
                        id=item_id("visual_mcq", c.id, it),
                        character=c.id,
                        item=it,
                        image=img(s.image_key),
                        image_key=s.image_key,
                        question=q.question,
                        options=q.options,
                        answer_key=q.answer_key,
                        difficulty=q.difficulty,
                    )
                )
    for g in parsed.grpo_prompts:
        out["t2i_vqa"].append(
            T2IVQAItem(
                id=item_id("t2i_vqa", g.character, g.scene_id),
                character=g.character,
                item=g.scene_id,
                prompt=g.text,
                vqa_questions_raw=g.vqa_questions_raw,
                vqa_questions=g.vqa_questions,
                train_image_keys=train_keys.get(g.character, []),
            )
        )
    for m in parsed.knowledge_mcq:
        out["knowledge_mcq"].append(
            KnowledgeMCQItem(
                id=item_id("knowledge_mcq", m.character, m.id),
                character=m.character,
                item=m.id,
                question=m.question,
                options=m.options,
                answer_key=m.answer_key,
                difficulty=m.difficulty,
                evidence=m.evidence,
            )
        )
    for d in parsed.dialogues:
        if d.split != "test":
            continue
        c = chars[d.character]
        it = f"{d.index:03d}"
        out["dialogue"].append(
            DialogueItem(
                id=item_id("dialogue", c.id, it),
                character=c.id,
                item=it,
                description=c.description,
                opening=c.opening,
                user_text=d.user_text,
                prompt=rp_prompt(c.description, c.opening, d.user_text, c.prefix),
                reference_response=d.response,
            )
        )
    for p in parsed.probes:
        if not p.usable:
            continue
        c = chars[p.character]
        it = f"{p.index:03d}"
        out[p.kind].append(
            ProbeItem(
                id=item_id(p.kind, c.id, it),
                task=p.kind,
                character=c.id,
                item=it,
                question=p.text,
                question_raw=p.raw,
                description=c.description,
                opening=c.opening,
                reference_profile=profiles[p.kind][c.id],
            )
        )

    def key(x: Any) -> tuple:
        return (x.character, *_num(x.item.split("-")[0]), x.item)

    return {t: [x.model_dump() for x in sorted(items, key=key)] for t, items in out.items()}


def metadata_rows(parsed: ParsedRelease) -> dict[tuple[str, str], Rows]:
    """The non-task configs, keyed by (config, split)."""
    rows: dict[tuple[str, str], Rows] = {}
    rows[("characters", "full")] = [c.model_dump() for c in parsed.characters]
    for split in ("train", "test"):
        imgs = []
        for r in parsed.images:
            if r.split != split:
                continue
            d = r.model_dump()
            ext = ".jpg" if r.container == "JPEG" else "." + r.container.lower()
            d["image"] = {"bytes": parsed.image_bytes[r.key], "path": r.key.replace("/", "_") + ext}
            imgs.append(d)
        rows[("images", split)] = imgs
        rows[("scenes", split)] = [s.model_dump() for s in parsed.scenes if s.split == split]
        rows[("dialogues", split)] = [d.model_dump() for d in parsed.dialogues if d.split == split]
    rows[("knowledge_qa", "train")] = [q.model_dump() for q in parsed.knowledge_qa]
    rows[("probes", "full")] = [p.model_dump() for p in parsed.probes]
    rows[("grpo_prompts", "train")] = [g.model_dump() for g in parsed.grpo_prompts]
    return rows
