"""One record per evaluation item (benchmark-protocol.md, "Tasks"). Id: `<task>/<slug>/<item>`.

Each task is one dataset config; a model runner iterates it and writes one prediction per `id`.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from rolescape.schemas.base import Difficulty, ImageData, Letter, Record, Slug
from rolescape.schemas.release import MCQOptions, VQAQuestion

TaskName = Literal[
    "roleplay", "t2i", "t2i_vqa", "knowledge_mcq", "visual_mcq", "dialogue", "memorization", "personality"
]
TASKS: tuple[str, ...] = (
    "roleplay",
    "t2i",
    "t2i_vqa",
    "knowledge_mcq",
    "visual_mcq",
    "dialogue",
    "memorization",
    "personality",
)


def item_id(task: str, slug: str, item: str) -> str:
    return f"{task}/{slug}/{item}"


class TaskItem(Record):
    id: str
    task: str
    character: Slug
    item: str
    # Which prediction fields the task accepts, and which it requires (any one of each tuple).
    accepts: ClassVar[frozenset[str]] = frozenset()
    requires: ClassVar[tuple[tuple[str, ...], ...]] = ()


class RoleplayItem(TaskItem):
    task: Literal["roleplay"] = "roleplay"
    description: str
    opening: str
    user_text: str
    prompt: str = Field(
        description="the release's RP training template filled in (rolescape20-release.md §2.13)"
    )
    reference_response: str
    reference_image: ImageData
    reference_image_key: str
    reference_generation_instruction: str
    reference_thinking_process: str
    t2i_instruction: str
    train_image_keys: list[str] = Field(
        default_factory=list,
        description="the character's train images (references for clip_i / dino / face_sim): keys into the "
        "`images` config, in image-id order",
    )
    accepts: ClassVar[frozenset[str]] = frozenset({"text", "image", "images"})
    requires: ClassVar[tuple[tuple[str, ...], ...]] = (("text",), ("image", "images"))


class T2IItem(TaskItem):
    task: Literal["t2i"] = "t2i"
    prompt: str
    reference_image: ImageData
    reference_image_key: str
    train_image_keys: list[str] = Field(
        default_factory=list,
        description="the character's train images (references for clip_i / dino / face_sim): keys into the "
        "`images` config, in image-id order",
    )
    accepts: ClassVar[frozenset[str]] = frozenset({"image", "images"})
    requires: ClassVar[tuple[tuple[str, ...], ...]] = (("image", "images"),)


class T2IVQAItem(TaskItem):
    task: Literal["t2i_vqa"] = "t2i_vqa"
    prompt: str
    vqa_questions_raw: list[VQAQuestion]
    vqa_questions: list[VQAQuestion]
    train_image_keys: list[str] = Field(
        default_factory=list,
        description="the character's train images (references for clip_i / dino / face_sim): keys into the "
        "`images` config, in image-id order",
    )
    accepts: ClassVar[frozenset[str]] = frozenset({"image", "images"})
    requires: ClassVar[tuple[tuple[str, ...], ...]] = (("image", "images"),)


class KnowledgeMCQItem(TaskItem):
    task: Literal["knowledge_mcq"] = "knowledge_mcq"
    question: str
    options: MCQOptions
    answer_key: Letter
    difficulty: Difficulty
    evidence: str
    accepts: ClassVar[frozenset[str]] = frozenset({"choice", "text"})
    requires: ClassVar[tuple[tuple[str, ...], ...]] = (("choice", "text"),)


class VisualMCQItem(TaskItem):
    task: Literal["visual_mcq"] = "visual_mcq"
    image: ImageData
    image_key: str
    question: str
    options: MCQOptions
    answer_key: Letter
    difficulty: Difficulty
    accepts: ClassVar[frozenset[str]] = frozenset({"choice", "text"})
    requires: ClassVar[tuple[tuple[str, ...], ...]] = (("choice", "text"),)


class DialogueItem(TaskItem):
    task: Literal["dialogue"] = "dialogue"
    description: str
    opening: str
    user_text: str
    prompt: str
    reference_response: str
    accepts: ClassVar[frozenset[str]] = frozenset({"text"})
    requires: ClassVar[tuple[tuple[str, ...], ...]] = (("text",),)


class ProbeItem(TaskItem):
    task: Literal["memorization", "personality"]
    question: str
    question_raw: str
    description: str
    opening: str
    reference_profile: str = Field(
        "",
        description="what a response is judged against (no reference answer exists): memorization -> the full "
        "profile (meta-text removed), personality -> the simplified personality profile (chatter removed)",
    )
    accepts: ClassVar[frozenset[str]] = frozenset({"text"})
    requires: ClassVar[tuple[tuple[str, ...], ...]] = (("text",),)


TASK_MODELS: dict[str, type[TaskItem]] = {
    "roleplay": RoleplayItem,
    "t2i": T2IItem,
    "t2i_vqa": T2IVQAItem,
    "knowledge_mcq": KnowledgeMCQItem,
    "visual_mcq": VisualMCQItem,
    "dialogue": DialogueItem,
    "memorization": ProbeItem,
    "personality": ProbeItem,
}
