"""The in-memory result of parsing and auditing a release: what export and the task assembly consume."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rolescape.schemas import (
    Character,
    DialogueScene,
    Finding,
    GrpoPrompt,
    ImageRecord,
    KnowledgeMCQ,
    KnowledgeQA,
    Probe,
    Scene,
)

# progress(stage, done, total): the one callback shape of the build's stages (parse, images, export)
Progress = Callable[[str, int, int], None]


@dataclass
class ParsedRelease:
    """Everything read from one release, repaired, with the audit findings that record each repair.

    All lists are sorted deterministically (character id, split, then numeric item id), so two parses
    of one source are equal.
    """

    root: str  # the release repository root that was read
    characters: list[Character]
    images: list[ImageRecord]
    image_bytes: dict[str, bytes]  # ImageRecord.key -> original file bytes
    scenes: list[Scene]  # annotation scenes, train and test
    dialogues: list[DialogueScene]  # dialogue extension, train and test
    knowledge_qa: list[KnowledgeQA]  # train
    knowledge_mcq: list[KnowledgeMCQ]  # eval
    probes: list[Probe]  # memorization + personality, all of them (usable flag)
    grpo_prompts: list[GrpoPrompt]
    findings: list[Finding]
    leakage: dict[str, Any] = field(default_factory=dict)  # see builders/leakage.py
    floors: dict[str, Any] = field(default_factory=dict)  # MCQ answer-key floors
    files_read: list[str] = field(default_factory=list)  # release-relative paths, sorted
