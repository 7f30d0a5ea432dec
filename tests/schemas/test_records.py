"""rolescape.schemas: what the records accept and refuse (strict release records, open predictions,
finite results, the score spec) and the task table the engine and the families rely on."""

from __future__ import annotations

import math
from typing import Any

import pytest
from pydantic import ValidationError

from rolescape.schemas import (
    TASK_MODELS,
    TASKS,
    Character,
    ItemScore,
    KnowledgeMCQItem,
    MCQOptions,
    Prediction,
    ProbeItem,
    ScoreSpec,
    item_id,
    slugify,
)
from rolescape.schemas.spec import FamilyConfig, config_for, parse_shard

CHAR: dict[str, Any] = {
    "id": "tess-ray",
    "folder": "Skyline-Tess Ray",
    "prefix": "Tess Ray",
    "grpo_name": "Tess_Ray",
    "description": "d",
    "opening": "o",
    "full_profile": "p",
    "full_profile_clean": "p",
    "personality_profile_raw": "p",
    "personality_profile": "p",
}
MCQ: dict[str, Any] = {
    "id": "knowledge_mcq/tess-ray/mcq_001",
    "character": "tess-ray",
    "item": "mcq_001",
    "question": "q?",
    "options": {"A": "a", "B": "b", "C": "c", "D": "d"},
    "answer_key": "B",
    "difficulty": "easy",
    "evidence": "e",
}


def _first_error(model: type, data: dict[str, Any]) -> tuple[str, str]:
    with pytest.raises(ValidationError) as e:
        model.model_validate(data)
    err = e.value.errors()[0]
    return ".".join(str(x) for x in err["loc"]), err["type"]


def test_release_records_are_strict() -> None:
    assert Character.model_validate(CHAR).id == "tess-ray"
    assert _first_error(Character, {**CHAR, "colour": "red"}) == ("colour", "extra_forbidden")
    assert _first_error(Character, {**CHAR, "id": "Tess Ray"}) == ("id", "string_pattern_mismatch")
    missing = {k: v for k, v in CHAR.items() if k != "opening"}
    assert _first_error(Character, missing) == ("opening", "missing")
    c = Character.model_validate(CHAR)
    with pytest.raises(ValidationError):  # checked on assignment too
        c.id = "Not A Slug"


def test_task_items_check_letters_difficulty_and_nested_options() -> None:
    item = KnowledgeMCQItem.model_validate(MCQ)
    assert item.task == "knowledge_mcq" and isinstance(item.options, MCQOptions)
    assert _first_error(KnowledgeMCQItem, {**MCQ, "answer_key": "E"}) == ("answer_key", "literal_error")
    assert _first_error(KnowledgeMCQItem, {**MCQ, "difficulty": "brutal"}) == ("difficulty", "literal_error")
    assert _first_error(KnowledgeMCQItem, {**MCQ, "options": {"A": "a", "B": "b", "C": "c"}}) == (
        "options.D",
        "missing",
    )
    assert _first_error(KnowledgeMCQItem, {**MCQ, "task": "visual_mcq"}) == ("task", "literal_error")


def test_the_task_table_covers_every_task_and_its_prediction_fields() -> None:
    assert set(TASK_MODELS) == set(TASKS)
    for task, model in TASK_MODELS.items():
        task_field = model.model_fields["task"]
        if model is ProbeItem:
            assert task in ("memorization", "personality") and task_field.is_required()
        else:
            assert task_field.default == task
        assert model.accepts and model.requires
        assert all(set(alternatives) <= model.accepts for alternatives in model.requires), task
    assert item_id("t2i", "tess-ray", "003") == "t2i/tess-ray/003"
    assert slugify("Will In Vietnam") == "will-in-vietnam" and slugify("  Gao_Qiqiang!") == "gao-qiqiang"


def test_predictions_keep_unknown_keys_as_metadata_but_check_known_ones() -> None:
    p = Prediction.model_validate({"id": "x", "choice": "C", "seed": 3, "model": "m"})
    assert p.metadata == {"seed": 3, "model": "m"} and p.image_refs() == []
    assert Prediction.model_validate({"id": "x", "image": "a.png"}).image_refs() == ["a.png"]
    assert Prediction.model_validate({"id": "x", "image": "a.png", "images": ["b.png"]}).image_refs() == [
        "b.png"
    ]
    assert _first_error(Prediction, {"id": "x", "choice": "e"}) == ("choice", "literal_error")
    assert _first_error(Prediction, {"text": "no id"}) == ("id", "missing")


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_result_numbers_must_be_finite(bad: float) -> None:
    row = {"id": "t/a/0", "task": "t", "character": "a", "key": "k", "metrics": {"m": 0.5}}
    assert ItemScore.model_validate(row).metrics == {"m": 0.5}
    loc, kind = _first_error(ItemScore, {**row, "metrics": {"m": bad}})
    assert loc.startswith("metrics.m") and kind == "finite_number"


def test_score_spec_checks_and_types_its_family_configs() -> None:
    base = {"data": "built", "predictions": "p.jsonl"}
    spec = ScoreSpec.model_validate({**base, "families": ["mcq", "my_own_family"]})
    assert spec.families is not None and isinstance(spec.families["mcq"], type(config_for("mcq")))
    assert type(spec.families["my_own_family"]) is FamilyConfig  # unregistered: open config
    assert spec.family_config("vqa") == config_for("vqa") and not spec.partial
    assert ScoreSpec.model_validate({**base, "limit": 2}).partial
    for bad, words in [
        ({"batch_size": 0}, "batch size must be at least 1"),
        ({"limit": 0}, "limit must be at least 1"),
        ({"shard": "4/4"}, "need 0 <= I < N"),
        ({"families": {"judge": {"timeout": -1}}}, "judge.timeout: Input should be greater than 0"),
        ({"familys": ["mcq"]}, "Extra inputs are not permitted"),
    ]:
        with pytest.raises(ValidationError, match=words):
            ScoreSpec.model_validate({**base, **bad})
    assert parse_shard(" 1/3 ") == (1, 3) and parse_shard(None) is None
