"""Pydantic v2 records for every artefact rolescape reads or writes; `export_json_schemas` dumps them."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from rolescape.schemas.audit import Finding
from rolescape.schemas.base import ImageData, slugify
from rolescape.schemas.predictions import Prediction
from rolescape.schemas.release import (
    Character,
    DialogueScene,
    GrpoPrompt,
    ImageRecord,
    KnowledgeMCQ,
    KnowledgeQA,
    MCQOptions,
    Probe,
    Scene,
    VisualMCQ,
    VisualQA,
    VQAQuestion,
)
from rolescape.schemas.results import ItemScore, Results
from rolescape.schemas.spec import ScoreSpec, spec_json_schema
from rolescape.schemas.tasks import (
    TASK_MODELS,
    TASKS,
    DialogueItem,
    KnowledgeMCQItem,
    ProbeItem,
    RoleplayItem,
    T2IItem,
    T2IVQAItem,
    TaskItem,
    VisualMCQItem,
    item_id,
)

SCHEMAS: dict[str, type[BaseModel]] = {
    "character": Character,
    "image": ImageRecord,
    "scene": Scene,
    "dialogue_scene": DialogueScene,
    "knowledge_qa": KnowledgeQA,
    "knowledge_mcq": KnowledgeMCQ,
    "visual_mcq": VisualMCQ,
    "probe": Probe,
    "grpo_prompt": GrpoPrompt,
    "finding": Finding,
    "task_roleplay": RoleplayItem,
    "task_t2i": T2IItem,
    "task_t2i_vqa": T2IVQAItem,
    "task_knowledge_mcq": KnowledgeMCQItem,
    "task_visual_mcq": VisualMCQItem,
    "task_dialogue": DialogueItem,
    "task_probe": ProbeItem,
    "prediction": Prediction,
    "item_score": ItemScore,
    "results": Results,
    "score_spec": ScoreSpec,
}


def export_json_schemas(out: str | Path) -> list[Path]:
    """Write one `<name>.schema.json` per record into `out`; returns the paths, sorted."""
    from rolescape.io import write_text_atomic

    out = Path(out)
    paths = []
    for name, model in sorted(SCHEMAS.items()):
        p = out / f"{name}.schema.json"
        schema = spec_json_schema() if model is ScoreSpec else model.model_json_schema()
        write_text_atomic(p, json.dumps(schema, indent=2, sort_keys=True) + "\n")
        paths.append(p)
    return paths


__all__ = [
    "SCHEMAS",
    "export_json_schemas",
    "slugify",
    "ImageData",
    "Character",
    "DialogueScene",
    "GrpoPrompt",
    "ImageRecord",
    "KnowledgeMCQ",
    "KnowledgeQA",
    "MCQOptions",
    "Probe",
    "Scene",
    "VisualMCQ",
    "VisualQA",
    "VQAQuestion",
    "Finding",
    "Prediction",
    "ItemScore",
    "Results",
    "ScoreSpec",
    "TASK_MODELS",
    "TASKS",
    "TaskItem",
    "RoleplayItem",
    "T2IItem",
    "T2IVQAItem",
    "KnowledgeMCQItem",
    "VisualMCQItem",
    "DialogueItem",
    "ProbeItem",
    "item_id",
]
