"""rolescape.metrics.base: the typed view families read (`task_item`, `ItemBatch.typed`) and the
context's dataset accessor."""

from __future__ import annotations

from pathlib import Path

import pytest

from rolescape.dataset import BuiltDataset
from rolescape.errors import InputError
from rolescape.metrics.base import ItemBatch, ScoreContext, task_item, task_items
from rolescape.metrics.predictions import available_tasks
from rolescape.schemas import (
    TASK_MODELS,
    ImageData,
    MCQOptions,
    ProbeItem,
    RoleplayItem,
    T2IVQAItem,
    VQAQuestion,
)
from rolescape.schemas.predictions import Prediction


def test_every_built_row_becomes_its_task_model(demo_built: Path) -> None:
    data = BuiltDataset(demo_built)
    tasks = available_tasks(data)
    assert {"roleplay", "t2i_vqa", "knowledge_mcq", "visual_mcq", "memorization"} <= set(tasks)
    for t in tasks:
        rows = data.task_items(t)
        items = task_items(t, rows)
        assert [type(i) for i in items] == [TASK_MODELS[t]] * len(rows)
        assert [i.id for i in items] == [r["id"] for r in rows]
    vqa = task_items("t2i_vqa", data.task_items("t2i_vqa"))[0]
    assert isinstance(vqa, T2IVQAItem) and isinstance(vqa.vqa_questions_raw[0], VQAQuestion)
    assert isinstance(vqa.vqa_questions_raw[0].extra, dict)  # stored as a JSON string, decoded here
    rp = task_items("roleplay", data.task_items("roleplay"))[0]
    assert (
        isinstance(rp, RoleplayItem)
        and isinstance(rp.reference_image, ImageData)
        and rp.reference_image.bytes
    )
    mcq = task_items("knowledge_mcq", data.task_items("knowledge_mcq"))[0]
    assert isinstance(mcq.options, MCQOptions)  # type: ignore[attr-defined]


def test_a_full_row_with_a_wrong_value_is_one_line_naming_the_item(demo_built: Path) -> None:
    row = dict(BuiltDataset(demo_built).task_items("knowledge_mcq")[0])
    row["answer_key"] = "E"
    with pytest.raises(InputError) as e:
        task_item("knowledge_mcq", row)
    msg = str(e.value)
    assert msg.startswith(f"{row['id']}: not a valid knowledge_mcq item: answer_key: ") and "\n" not in msg


def test_a_partial_row_reads_blanks_for_what_it_lacks() -> None:
    item = task_item("memorization", {"id": "x/tess/0", "character": "tess", "unknown_column": 3})
    assert isinstance(item, ProbeItem)
    assert (item.id, item.character, item.task, item.question, item.opening) == (
        "x/tess/0",
        "tess",
        "memorization",
        "",
        "",
    )
    assert not hasattr(item, "unknown_column")
    vqa = task_item(
        "t2i_vqa", {"id": "reward/0", "prompt": "a cat", "vqa_questions_raw": [{"question": "cat?"}]}
    )
    assert isinstance(vqa, T2IVQAItem)
    assert (
        vqa.prompt == "a cat" and vqa.vqa_questions == [] and vqa.vqa_questions_raw == [{"question": "cat?"}]
    )


def test_item_batch_builds_the_typed_view_once() -> None:
    rows = [{"id": f"dialogue/a/{i}", "character": "a", "reference_response": f"r{i}"} for i in range(3)]
    batch = ItemBatch("dialogue", rows, [Prediction(id=r["id"], text="t") for r in rows])
    first = batch.typed
    assert [i.reference_response for i in first] == ["r0", "r1", "r2"]  # type: ignore[attr-defined]
    assert batch.typed is first  # shared by every family scoring this batch


def test_dataset_accessor_names_the_family_when_there_is_no_dataset(demo_built: Path) -> None:
    with pytest.raises(InputError, match="persona_sim needs the built dataset"):
        ScoreContext(data=None).dataset("persona_sim")
    data = BuiltDataset(demo_built)
    assert ScoreContext(data=data).dataset("persona_sim") is data
