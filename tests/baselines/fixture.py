"""A tiny built dataset written through BuiltDataset's documented layout (rolescape/dataset.py).

Three characters with distinct topics, rows validated through the pydantic schemas, images made by
PIL (one JPEG among PNGs, as in the release). Used until/besides the real builder.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from rolescape.dataset import parquet_relpath
from rolescape.schemas.release import Character, DialogueScene, ImageRecord, KnowledgeQA, Scene
from rolescape.schemas.tasks import TASK_MODELS, item_id

CHARS = {
    "alpha": ("cats", (200, 30, 30)),
    "beta": ("trains", (30, 200, 30)),
    "gamma": ("cooking", (30, 30, 200)),
}


def _img(color: tuple[int, int, int], fmt: str = "PNG", shade: int = 0) -> bytes:
    buf = io.BytesIO()
    c = tuple(max(0, v - shade) for v in color)
    Image.new("RGB", (16, 16), c).save(buf, format=fmt)
    return buf.getvalue()


def _drop_empty_extra(v: Any) -> Any:
    """Parquet cannot store an empty struct: drop the schemas' empty `extra` dicts."""
    if isinstance(v, dict):
        return {k: _drop_empty_extra(x) for k, x in v.items() if not (k == "extra" and x == {})}
    if isinstance(v, list):
        return [_drop_empty_extra(x) for x in v]
    return v


def _write(root: Path, config: str, split: str, rows: list[dict[str, Any]]) -> None:
    rows = [_drop_empty_extra(r) for r in rows]
    p = root / parquet_relpath(config, split)
    p.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), p)


def make_built(root: Path, *, with_qa: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    configs: dict[str, list[str]] = {}
    chars, images_tr, images_te, scenes, dialogues, kqa = [], [], [], [], [], []
    tasks: dict[str, list[dict[str, Any]]] = {t: [] for t in TASK_MODELS}
    for slug, (topic, color) in CHARS.items():
        name = slug.capitalize()
        chars.append(
            Character(
                id=slug,
                folder=name,
                prefix=name,
                grpo_name=name,
                description=f"{name} loves {topic}.",
                opening=f"Hi, I am {name}.",
                full_profile=f"{name} is obsessed with {topic}.",
                full_profile_clean=f"{name} is obsessed with {topic}.",
                personality_profile_raw=f"{name}: cheerful.",
                personality_profile=f"{name}: cheerful.",
            ).model_dump()
        )
        for split, n, rows in (("train", 2, images_tr), ("test", 2, images_te)):
            for i in range(n):
                fmt = "JPEG" if (slug == "alpha" and split == "train" and i == 1) else "PNG"
                data = _img(color, fmt, shade=40 * i + (10 if split == "test" else 0))
                rec = ImageRecord(
                    character=slug,
                    split=split,
                    image_id=str(i),
                    key=f"{split}/{slug}/{i}",
                    source_path=f"data/{split}/{name}/{i}.png",
                    sha256="0" * 64,
                    container=fmt,
                    extension_matches=fmt == "PNG",
                    mode="RGB",
                    width=16,
                    height=16,
                    has_alpha=False,
                    uses_transparency=False,
                    n_bytes=len(data),
                ).model_dump()
                rec["image"] = {"bytes": data, "path": f"{i}.png"}
                rows.append(rec)
        train_users = [
            f"Tell me about your favourite {topic} story.",
            f"What do you eat for breakfast, {name}?",
        ]
        for i, u in enumerate(train_users):
            scenes.append(
                Scene(
                    character=slug,
                    split="train",
                    scene_id=str(i),
                    user_text=u,
                    response=f"{name} answers about {topic} #{i}.",
                    image_key=f"train/{slug}/{i}",
                    thinking_process="t",
                    generation_instruction="g",
                    t2i_instruction=f"{name} with {topic}, picture {i}",
                    qa_pairs=[
                        {
                            "question": f"What is {name} holding in picture {i}?",
                            "answer": f"{topic} toy {i}",
                            "type": "objective",
                        }
                    ]
                    if with_qa
                    else [],
                ).model_dump()
            )
        for i in range(3):
            dialogues.append(
                DialogueScene(
                    character=slug,
                    split="train",
                    index=i,
                    user_text=f"{name}, small talk number {i} about {topic}?",
                    user_text_raw="x",
                    response=f"{name} chats about {topic} ({i}).",
                    response_raw="x",
                    is_original=False,
                ).model_dump()
            )
        for i in range(2):
            kqa.append(
                KnowledgeQA(
                    character=slug,
                    id=f"qa_{i:03d}",
                    question=f"What is {name}'s favourite thing number {i}?",
                    question_raw="x",
                    answer=f"{topic} number {i}",
                    answer_raw="x",
                    evidence=[],
                    type="fact",
                    type_allowed=True,
                    difficulty="easy",
                    reasoning_steps=[],
                    confidence=1.0,
                ).model_dump()
            )
        desc, opening = f"{name} loves {topic}.", f"Hi, I am {name}."
        for i in range(2):
            gt = _img(color, "PNG", shade=40 * i + 10)
            common = {"character": slug, "item": str(i)}
            tasks["roleplay"].append(
                dict(
                    id=item_id("roleplay", slug, str(i)),
                    **common,
                    description=desc,
                    opening=opening,
                    user_text=train_users[i] if i == 0 else f"Any news on {topic}?",
                    prompt="p",
                    reference_response=f"{name} replies about {topic} in test {i}.",
                    reference_image={"bytes": gt, "path": f"{i}.png"},
                    reference_image_key=f"test/{slug}/{i}",
                    reference_generation_instruction="g",
                    reference_thinking_process="t",
                    t2i_instruction="t2i",
                )
            )
            tasks["t2i"].append(
                dict(
                    id=item_id("t2i", slug, str(i)),
                    **common,
                    prompt=f"{name} with {topic}, picture {i}",
                    reference_image={"bytes": gt, "path": f"{i}.png"},
                    reference_image_key=f"test/{slug}/{i}",
                )
            )
            tasks["knowledge_mcq"].append(
                dict(
                    id=item_id("knowledge_mcq", slug, f"mcq_{i:03d}"),
                    character=slug,
                    item=f"mcq_{i:03d}",
                    question=f"Which is {name}'s favourite thing number {i}?",
                    options={
                        "A": "nothing",
                        "B": f"{topic} number {i}",
                        "C": "C is the longest option of all",
                        "D": "d",
                    },
                    answer_key="B",
                    difficulty="easy",
                    evidence="e",
                )
            )
            tasks["visual_mcq"].append(
                dict(
                    id=item_id("visual_mcq", slug, f"{i}-q1"),
                    character=slug,
                    item=f"{i}-q1",
                    image={"bytes": _img(color), "path": "0.png"},
                    image_key=f"train/{slug}/{i}",
                    question=f"What does {name} hold in picture {i}?",
                    options={
                        "A": "a rock",
                        "B": "a shoe",
                        "C": f"{topic} toy {i}",
                        "D": "the longest option text here",
                    },
                    answer_key="C",
                    difficulty="easy",
                )
            )
            tasks["dialogue"].append(
                dict(
                    id=item_id("dialogue", slug, str(i)),
                    **common,
                    description=desc,
                    opening=opening,
                    user_text=f"{name}, small talk number {i} about {topic}?",
                    prompt="p",
                    reference_response=f"{name} gives a held-out answer {i}.",
                )
            )
        tasks["t2i_vqa"].append(
            dict(
                id=item_id("t2i_vqa", slug, "0"),
                character=slug,
                item="0",
                prompt=f"{name} with {topic}, picture 1",
                vqa_questions_raw=[],
                vqa_questions=[],
            )
        )
        for kind in ("memorization", "personality"):
            tasks[kind].append(
                dict(
                    id=item_id(kind, slug, "0"),
                    character=slug,
                    item="0",
                    task=kind,
                    question=f"Do you remember your favourite {topic} story?",
                    question_raw="x",
                    description=desc,
                    opening=opening,
                )
            )
    _write(root, "characters", "full", chars)
    _write(root, "images", "train", images_tr)
    _write(root, "images", "test", images_te)
    _write(root, "scenes", "train", scenes)
    _write(root, "dialogues", "train", dialogues)
    _write(root, "knowledge_qa", "train", kqa)
    configs.update(
        characters=["full"],
        images=["train", "test"],
        scenes=["train"],
        dialogues=["train"],
        knowledge_qa=["train"],
    )
    for task, rows in tasks.items():
        rows = [TASK_MODELS[task].model_validate(r).model_dump() for r in rows]
        _write(root, task, "test", rows)
        configs[task] = ["test"]
    manifest = {"source": {"identity": "fixture"}, "configs": configs}
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return root
