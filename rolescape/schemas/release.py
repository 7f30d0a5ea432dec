"""Typed records of the RoleScape-20 release after parsing and repair (rolescape20-release.md §2, §8)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from rolescape.schemas.base import Difficulty, Letter, Record, Slug, Split


class Character(Record):
    id: Slug
    folder: str = Field(description="train/test folder name, e.g. 'Friends-Chandler'")
    prefix: str = Field(description="file prefix <P>, e.g. 'Chandler'")
    grpo_name: str = Field(description="flow_grpo dataset folder <DsName>, e.g. 'Gao_Qiqiang'")
    grpo_character_field: str | None = Field(None, description="the `character` value used inside GRPO jsonl")
    aliases: list[str] = Field(default_factory=list, description="every spelling seen in the release, sorted")
    description: str
    opening: str
    full_profile: str
    full_profile_clean: str
    personality_profile_raw: str
    personality_profile: str = Field(
        description="simplified personality profile with assistant chatter removed"
    )
    test_profile_missing: bool = False


class ImageRecord(Record):
    character: Slug
    split: Split
    image_id: str = Field(description="decimal id, the file stem")
    key: str = Field(description="'<split>/<slug>/<image_id>': stable reference used across configs")
    source_path: str = Field(description="path relative to the release root")
    sha256: str
    container: Literal["PNG", "JPEG", "WEBP", "GIF", "BMP"]
    extension_matches: bool = Field(description="False when the bytes are not what the file name says")
    mode: str
    width: int
    height: int
    has_alpha: bool = Field(description="mode has an alpha channel")
    uses_transparency: bool = Field(description="some alpha value < 255")
    n_bytes: int


class VisualQA(Record):
    question: str
    answer: str
    type: Literal["objective", "subjective"]
    extra: dict[str, Any] = Field(default_factory=dict, description="unexpected keys kept verbatim")


class MCQOptions(Record):
    A: str
    B: str
    C: str
    D: str


class VisualMCQ(Record):
    id: str
    question: str
    options: MCQOptions
    answer_key: Letter
    difficulty: Difficulty
    rationale: str
    extra: dict[str, str] = Field(default_factory=dict, description="unexpected keys kept verbatim")
    options_raw: MCQOptions | None = Field(
        None, description="the options as released, when a repair changed them"
    )


class Scene(Record):
    """One annotated (user text -> response + image) scene from annotation.json / with_image.json."""

    character: Slug
    split: Split
    scene_id: str
    user_text: str
    response: str
    image_key: str
    thinking_process: str
    generation_instruction: str
    t2i_instruction: str
    qa_pairs: list[VisualQA] = Field(default_factory=list)
    mcq_items: list[VisualMCQ] = Field(default_factory=list)


class DialogueScene(Record):
    """A text-only dialogue-extension scene; a hallucinated `image` id is dropped and kept only here."""

    character: Slug
    split: Split
    index: int
    user_text: str
    user_text_raw: str
    response: str
    response_raw: str
    is_original: bool = Field(description="one of the annotation scenes appended at the end of ext-train")
    hallucinated_image: str | None = None


class KnowledgeQA(Record):
    character: Slug
    id: str
    question: str
    question_raw: str
    answer: str
    answer_raw: str
    evidence: list[str]
    type: str
    type_allowed: bool
    difficulty: Difficulty
    reasoning_steps: list[str]
    confidence: float
    duplicate_of: str | None = None
    conflicting_duplicate: bool = False
    evidence_verbatim: bool | None = Field(
        None, description="every evidence string is a verbatim substring of the profile"
    )
    extra: dict[str, Any] = Field(default_factory=dict, description="unexpected keys kept verbatim")


class KnowledgeMCQ(Record):
    character: Slug
    id: str
    question: str
    options: MCQOptions
    options_raw: MCQOptions
    answer_key: Letter
    difficulty: Difficulty
    evidence: str
    evidence_verbatim: bool
    rationale: str
    extra: dict[str, Any] = Field(default_factory=dict, description="unexpected keys kept verbatim")


class Probe(Record):
    """A memorization or personality test input: raw text kept beside the cleaned one."""

    character: Slug
    kind: Literal["memorization", "personality"]
    index: int
    raw: str
    text: str
    flags: list[str] = Field(default_factory=list)
    usable: bool = Field(description="False for meta/rubric lines and duplicates; such items are not tasks")
    duplicate_of: int | None = None


class VQAQuestion(Record):
    question: str
    type: Literal["yes_no", "multiple_choice", "open_ended"]
    category: str
    answer: str
    weight: float
    is_negative: bool
    choices: list[str] | None = None
    extra: dict[str, Any] = Field(default_factory=dict, description="unexpected keys kept verbatim")


class GrpoPrompt(Record):
    character: Slug
    scene_id: str
    text: str
    character_field: str
    reference_images_path: str
    vqa_questions_raw: list[VQAQuestion]
    vqa_questions: list[VQAQuestion] = Field(
        description="audited: duplicates, invalid and conflicting rows removed"
    )
    duplicate_text_of: str | None = None
