"""Shared helpers for the metrics tests: a tiny built dataset written by us, images, predictions.

The tiny dataset follows the layout of `rolescape.dataset` (parquet per config + manifest.json) and
its task rows are validated against the task item schemas, so the engine reads it like a real build.
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path
from typing import Any

from rolescape.dataset import TASK_SPLIT, parquet_relpath
from rolescape.schemas import Character, DialogueItem, ImageData, KnowledgeMCQItem, MCQOptions, T2IItem

CHARS = ("bo", "chandler", "gao-qiqiang")
# knowledge MCQ items per character: (answer key, difficulty, options); option texts vary in length.
MCQ_SPEC: dict[str, list[tuple[str, str]]] = {
    "bo": [("B", "easy"), ("B", "medium"), ("C", "hard"), ("A", "easy")],
    "chandler": [("C", "easy"), ("B", "hard")],
    "gao-qiqiang": [("C", "medium"), ("D", "easy"), ("C", "hard")],
}


def png_bytes(w: int = 8, h: int = 8, color: tuple[int, ...] = (200, 30, 30), mode: str = "RGB") -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new(mode, (w, h), color).save(buf, format="PNG")
    return buf.getvalue()


def huge_png_header(w: int, h: int) -> bytes:
    """A PNG whose header claims w x h pixels (no pixel data): only a header check can refuse it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    )


def mcq_options(i: int) -> dict[str, str]:
    return {
        "A": f"Option alpha {i}",
        "B": f"The considerably longer beta answer {i}",
        "C": f"Gamma {i}",
        "D": f"Delta choice {i}",
    }


def _write_config(root: Path, config: str, rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = root / parquet_relpath(config, TASK_SPLIT if config not in ("characters",) else "all")
    p.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), p)


def make_tiny_dataset(root: Path) -> Path:
    """3 characters; knowledge_mcq (9 items, skewed keys), t2i (2 per character), dialogue (1 each)."""
    root = Path(root)
    chars = []
    for slug in CHARS:
        prefix = "".join(w.capitalize() for w in slug.split("-"))
        chars.append(
            Character(
                id=slug,
                folder=f"Show-{prefix}",
                prefix=prefix,
                grpo_name=prefix.replace(" ", "_"),
                grpo_character_field=prefix,
                aliases=[prefix],
                description=f"{prefix} is a character.",
                opening="Hi.",
                full_profile="p",
                full_profile_clean="p",
                personality_profile_raw="p",
                personality_profile="p",
            ).model_dump()
        )
    mcq, t2i, dia = [], [], []
    for slug in CHARS:
        for j, (key, diff) in enumerate(MCQ_SPEC[slug], 1):
            item = f"mcq_{j:03d}"
            mcq.append(
                KnowledgeMCQItem(
                    id=f"knowledge_mcq/{slug}/{item}",
                    character=slug,
                    item=item,
                    question=f"Question {j} about {slug}?",
                    options=MCQOptions(**mcq_options(j)),
                    answer_key=key,
                    difficulty=diff,
                    evidence="e",
                ).model_dump()
            )
        for j in range(2):
            t2i.append(
                T2IItem(
                    id=f"t2i/{slug}/{j}",
                    character=slug,
                    item=str(j),
                    prompt=f"{slug} waving {j}",
                    reference_image=ImageData(bytes=png_bytes(color=(j * 50, 90, 90))),
                    reference_image_key=f"test/{slug}/{j}",
                ).model_dump()
            )
        dia.append(
            DialogueItem(
                id=f"dialogue/{slug}/0",
                character=slug,
                item="0",
                description="d",
                opening="o",
                user_text="hello",
                prompt="p",
                reference_response="hi there",
            ).model_dump()
        )
    _write_config(root, "characters", chars)
    _write_config(root, "knowledge_mcq", mcq)
    _write_config(root, "t2i", t2i)
    _write_config(root, "dialogue", dia)
    manifest = {
        "format": "rolescape-built",
        "format_version": 1,
        "source": {"identity": "test:tiny"},
        "configs": {
            "characters": ["all"],
            "knowledge_mcq": [TASK_SPLIT],
            "t2i": [TASK_SPLIT],
            "dialogue": [TASK_SPLIT],
        },
        "build_id": "tiny-build",
    }
    (root / "manifest.json").write_text(
        json.dumps(manifest, sort_keys=True, indent=2) + "\n", encoding="utf-8"
    )
    return root


def mcq_ids() -> list[tuple[str, str]]:
    """(id, answer key) of every knowledge MCQ item of the tiny dataset."""
    return [
        (f"knowledge_mcq/{slug}/mcq_{j:03d}", key)
        for slug in CHARS
        for j, (key, _) in enumerate(MCQ_SPEC[slug], 1)
    ]


def write_predictions(path: Path, rows: list[Any], raw_lines: dict[int, str] | None = None) -> Path:
    """JSONL of `rows` (dicts are dumped, strings written verbatim); raw_lines inserts lines at indexes."""
    lines = [r if isinstance(r, str) else json.dumps(r) for r in rows]
    for idx, line in sorted((raw_lines or {}).items()):
        lines.insert(idx, line)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
