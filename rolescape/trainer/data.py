"""Training examples and GRPO prompts of one character, from a built dataset's train splits only.

Prompts are rendered with `rolescape.models.prompts` (the same renderers `rolescape generate` uses),
so a trained model sees at test time the prompt format it was trained on.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field
from typing import Any

from rolescape.errors import InputError
from rolescape.models.base import Message, Prompt
from rolescape.models.prompts import IMAGE_TOKEN, render_dialogue, render_roleplay_image
from rolescape.trainer.config import GRPO_KINDS, SFT_KINDS, DataConfig
from rolescape.trainer.protocol import SFTExample


def prompt_parts(prompt: Prompt | str) -> list[Any]:
    """A rendered Prompt as adapter parts: each message's images (PIL) then its text; turns joined."""
    if isinstance(prompt, str):
        return [prompt]
    from PIL import Image

    parts: list[Any] = []
    for i, m in enumerate(prompt.messages):
        for b in m.images:
            parts.append(Image.open(io.BytesIO(b)).convert("RGB"))
        text = m.content.replace(IMAGE_TOKEN, "")
        parts.append(("\n\n" if i else "") + text)
    return parts


def _image(raw: Any) -> Any:
    from PIL import Image

    return Image.open(io.BytesIO(raw["bytes"])).convert("RGB")


def _character(data: Any, slug: str, path: Any) -> dict[str, Any]:
    ids = [c["id"] for c in data.characters()]
    if slug not in ids:
        import difflib

        close = difflib.get_close_matches(slug, ids, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(ids)})"
        raise InputError(f"data.character: no character {slug!r} in the dataset{hint}", path=path)
    return data.character(slug)  # type: ignore[no-any-return]


def _check_kinds(kinds: list[str], allowed: tuple[str, ...], path: Any) -> None:
    for k in kinds:
        if k not in allowed:
            raise InputError(f"data.kinds: unknown kind {k!r} (one of {', '.join(allowed)})", path=path)


def _limit(rows: list[Any], limit: int | None, seed: int) -> list[Any]:
    if limit is None or limit >= len(rows):
        return rows
    rnd = random.Random(seed)
    idx = sorted(rnd.sample(range(len(rows)), limit))
    return [rows[i] for i in idx]


def sft_examples(cfg: DataConfig, seed: int = 0) -> list[SFTExample]:
    """Scenes (reply text, and the scene image from the T2I prompt), dialogues, knowledge QA, visual QA."""
    from rolescape.dataset import BuiltDataset

    _check_kinds(cfg.kinds, SFT_KINDS, cfg.path)
    data = BuiltDataset(cfg.path)
    char = _character(data, cfg.character, cfg.path)
    slug, style = cfg.character, cfg.prompt_style
    images = {r["key"]: r["image"] for r in data.images("train") if r["character"] == slug}
    out: list[SFTExample] = []
    base = {"description": char.get("description", ""), "opening": char.get("opening", "")}
    for s in (r for r in data.read("scenes", "train") if r["character"] == slug):
        sid = f"{slug}/scene/{s['scene_id']}"
        if "scene_text" in cfg.kinds:
            p = render_dialogue({**base, "user_text": s["user_text"]}, char, style)
            out.append(SFTExample(prompt_parts(p), text=s["response"], kind="scene_text", id=sid))
        if "scene_image" in cfg.kinds and s.get("image_key") in images:
            item = {**base, "user_text": s["user_text"]}
            p2 = render_roleplay_image(item, char, style, s["response"])
            out.append(SFTExample([p2], image=_image(images[s["image_key"]]), kind="scene_image", id=sid))
        if "visual_qa" in cfg.kinds and s.get("image_key") in images:
            raw = images[s["image_key"]]["bytes"]
            for j, qa in enumerate(s.get("qa_pairs") or []):
                p3 = Prompt((Message("user", IMAGE_TOKEN + str(qa["question"]), (raw,)),), style)
                out.append(
                    SFTExample(prompt_parts(p3), text=str(qa["answer"]), kind="visual_qa", id=f"{sid}/qa{j}")
                )
    if "dialogue" in cfg.kinds:
        for d in (r for r in data.read("dialogues", "train") if r["character"] == slug):
            p = render_dialogue({**base, "user_text": d["user_text"]}, char, style)
            out.append(
                SFTExample(
                    prompt_parts(p), text=d["response"], kind="dialogue", id=f"{slug}/dialogue/{d['index']}"
                )
            )
    if "knowledge_qa" in cfg.kinds:
        for q in (r for r in data.read("knowledge_qa", "train") if r["character"] == slug):
            if q.get("duplicate_of"):
                continue
            p = Prompt((Message("user", str(q["question"])),), style)
            out.append(
                SFTExample(
                    prompt_parts(p), text=str(q["answer"]), kind="knowledge_qa", id=f"{slug}/kqa/{q['id']}"
                )
            )
    if not out:
        raise InputError(
            f"data: character {slug!r} has no train examples of kinds {cfg.kinds}", path=cfg.path
        )
    return _limit(out, cfg.limit, seed)


@dataclass
class GRPOPrompt:
    """One GRPO prompt: what to sample and the fields rewards receive (trl passes columns as kwargs)."""

    id: str
    kind: str  # t2i (image rollouts) | roleplay (text rollouts)
    prompt: list[Any]
    fields: dict[str, Any] = field(default_factory=dict)


def grpo_prompts(cfg: DataConfig, seed: int = 0) -> tuple[list[GRPOPrompt], dict[str, Any]]:
    """The character's GRPO T2I prompts (image rollouts) and role-play scenes (text rollouts)."""
    from rolescape.dataset import BuiltDataset

    _check_kinds(cfg.kinds, GRPO_KINDS, cfg.path)
    data = BuiltDataset(cfg.path)
    char = _character(data, cfg.character, cfg.path)
    slug, style = cfg.character, cfg.prompt_style
    name = str(char.get("prefix") or char.get("grpo_name") or slug)
    out: list[GRPOPrompt] = []
    if "t2i" in cfg.kinds:
        for g in (r for r in data.read("grpo_prompts", "train") if r["character"] == slug):
            out.append(
                GRPOPrompt(
                    f"{slug}/t2i/{g['scene_id']}",
                    "t2i",
                    [str(g["text"])],
                    {
                        "prompt": str(g["text"]),
                        "character": slug,
                        "vqa_questions": g.get("vqa_questions"),
                        "name": name,
                    },
                )
            )
    if "roleplay" in cfg.kinds:
        base = {"description": char.get("description", ""), "opening": char.get("opening", "")}
        for s in (r for r in data.read("scenes", "train") if r["character"] == slug):
            p = render_dialogue({**base, "user_text": s["user_text"]}, char, style)
            out.append(
                GRPOPrompt(
                    f"{slug}/roleplay/{s['scene_id']}",
                    "roleplay",
                    prompt_parts(p),
                    {
                        "prompt": p.as_text(),
                        "user_text": s["user_text"],
                        "reference_response": s["response"],
                        "character": slug,
                        "name": name,
                    },
                )
            )
    if not out:
        raise InputError(f"data: character {slug!r} has no GRPO prompts of kinds {cfg.kinds}", path=cfg.path)
    return _limit(out, cfg.limit, seed), char
