"""Prompt rendering: one function per task, from a built dataset's item (and its character) to a Prompt.

Two styles:

* `release`: the prompt texts of the release's SFT data (`processed/vlm/*.jsonl`, rolescape20-release.md
  §2.13), so a model trained on the release sees what it was trained on: the RP template for roleplay,
  dialogue and the probes (the probe question as the user input), the bare question for knowledge QA
  (followed by the lettered options, which the SFT data never shows), `<image>` + question for visual
  QA, the T2I template for the image half of roleplay. One user turn, no system turn.
* `chat`: system = the character (name, description, opening), user = the turn.

MCQ prompts end with an instruction to answer with one letter in both styles.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from rolescape.builders.parsers import rp_prompt, t2i_prompt
from rolescape.errors import InputError
from rolescape.models.base import LETTERS, Message, Prompt

STYLES: tuple[str, ...] = ("release", "chat")
MCQ_INSTRUCTION = "Answer with the letter of the correct option (A, B, C or D) only."
IMAGE_TOKEN = "<image>"  # the release's VQA marker; adapters with image input replace it

Item = Mapping[str, Any]
Char = Mapping[str, Any]


def _check_style(style: str) -> None:
    if style not in STYLES:
        raise InputError(f"unknown prompt style {style!r} (known: {', '.join(STYLES)})")


def _name(char: Char) -> str:
    return str(char.get("prefix") or char.get("id") or "the character")


def _system(char: Char, description: str | None = None, opening: str | None = None) -> Message:
    desc = description if description is not None else str(char.get("description", ""))
    op = opening if opening is not None else str(char.get("opening", ""))
    parts = [f"You are {_name(char)}. Stay in character and answer as {_name(char)} would."]
    if desc.strip():
        parts.append(f"Character description: {desc.strip()}")
    if op.strip():
        parts.append(f"Opening: {op.strip()}")
    return Message("system", "\n\n".join(parts))


def _options_block(options: Mapping[str, Any]) -> str:
    return "\n".join(f"{k}. {options[k]}" for k in LETTERS if k in options)


def _turn(item: Item, char: Char, style: str, user_text: str, images: tuple[bytes, ...] = ()) -> Prompt:
    """Roleplay / dialogue / probe: the RP template (release) or system + user (chat)."""
    desc = str(item.get("description", char.get("description", "")))
    opening = str(item.get("opening", char.get("opening", "")))
    if style == "release":
        text = rp_prompt(desc, opening, user_text, _name(char))
        return Prompt((Message("user", text, images),), style)
    return Prompt((_system(char, desc, opening), Message("user", user_text, images)), style)


def render_roleplay(item: Item, char: Char, style: str, images: tuple[bytes, ...] = ()) -> Prompt:
    """Roleplay text half; `images` is the character's reference image for image-in adapters."""
    _check_style(style)
    if style == "release" and not images and item.get("prompt"):
        return Prompt((Message("user", str(item["prompt"])),), style)  # the built item's own RP prompt
    return _turn(item, char, style, str(item["user_text"]), images)


def render_dialogue(item: Item, char: Char, style: str, images: tuple[bytes, ...] = ()) -> Prompt:
    _check_style(style)
    if style == "release" and not images and item.get("prompt"):
        return Prompt((Message("user", str(item["prompt"])),), style)
    return _turn(item, char, style, str(item["user_text"]), images)


def render_probe(item: Item, char: Char, style: str, images: tuple[bytes, ...] = ()) -> Prompt:
    """Memorization and personality: the probe question as the user's input."""
    _check_style(style)
    return _turn(item, char, style, str(item["question"]), images)


def render_knowledge_mcq(item: Item, char: Char, style: str, images: tuple[bytes, ...] = ()) -> Prompt:
    _check_style(style)
    body = f"{item['question']}\n\n{_options_block(item['options'])}\n\n{MCQ_INSTRUCTION}"
    if style == "release":
        return Prompt((Message("user", body),), style)
    return Prompt((_system(char), Message("user", body)), style)


def render_visual_mcq(item: Item, char: Char, style: str, images: tuple[bytes, ...] = ()) -> Prompt:
    """The item's image goes with the user turn; release style keeps the `<image>` marker in the text."""
    _check_style(style)
    image = item.get("image") or {}
    imgs = images or ((image["bytes"],) if isinstance(image, Mapping) and image.get("bytes") else ())
    body = f"{item['question']}\n\n{_options_block(item['options'])}\n\n{MCQ_INSTRUCTION}"
    if style == "release":
        return Prompt((Message("user", IMAGE_TOKEN + body, imgs),), style)
    return Prompt((_system(char), Message("user", body, imgs)), style)


def render_t2i(item: Item, char: Char, style: str) -> str:
    """T2I and T2I-VQA: the instruction itself (the release's `t2i_instruction` / GRPO prompt)."""
    _check_style(style)
    return str(item["prompt"])


def render_roleplay_image(item: Item, char: Char, style: str, response: str) -> str:
    """The image prompt of roleplay from the text reply: the release's T2I template (both styles)."""
    _check_style(style)
    desc = str(item.get("description", char.get("description", "")))
    return t2i_prompt(desc, str(item["user_text"]), response)


TEXT_RENDERERS: dict[str, Callable[..., Prompt]] = {
    "roleplay": render_roleplay,
    "dialogue": render_dialogue,
    "memorization": render_probe,
    "personality": render_probe,
    "knowledge_mcq": render_knowledge_mcq,
    "visual_mcq": render_visual_mcq,
}
IMAGE_RENDERERS: dict[str, Callable[..., str]] = {"t2i": render_t2i, "t2i_vqa": render_t2i}


def render(task: str, item: Item, char: Char, style: str, images: tuple[bytes, ...] = ()) -> Prompt:
    """The text prompt of `item` for `task` in `style` (roleplay: its text half)."""
    if task not in TEXT_RENDERERS:
        raise InputError(f"task {task!r} has no text prompt (its prompt is an image instruction)")
    return TEXT_RENDERERS[task](item, char, style, images)
