"""Shared fixtures.

* ``raw_release``: the test copy of the RoleScape-20 release (``$ROLESCAPE_RAW``), or skip.
* ``demo_release``: a temporary copy of the packaged demo release (safe to mutate).
* ``demo_built``: the demo release built once per session (read it, never change it).
* ``runs``: three written result runs (strong, middle, weak; tests/fixtures/runs.py), once per session.
* ``mini_release``: a factory for a tiny, defect-free release with one character written by these
  tests, so each audit rule can be shown to fire on one planted defect and to stay silent otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def raw_release() -> Path:
    value = os.environ.get("ROLESCAPE_RAW")
    if not value:
        pytest.skip("ROLESCAPE_RAW is not set (path of the RoleScape-20 release copy)")
    path = Path(value)
    if not (path / "data" / "personalized_data").is_dir():
        pytest.skip(f"ROLESCAPE_RAW={value} does not hold data/personalized_data")
    return path


@pytest.fixture
def demo_release(tmp_path: Path) -> Path:
    from rolescape.demo import release_root

    src = release_root()
    if not (src / "data" / "personalized_data").is_dir():
        pytest.skip("the packaged demo release is not available")
    dst = tmp_path / "demo"
    shutil.copytree(src, dst)
    for p in dst.rglob("*"):  # package data may be read-only
        p.chmod(0o755 if p.is_dir() else 0o644)
    return dst


@pytest.fixture(scope="session")
def demo_built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rolescape.builders.build import build

    out = tmp_path_factory.mktemp("demo-built") / "built"
    build("demo", out)
    return out


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    from tests.fixtures.runs import three_runs

    return three_runs(tmp_path_factory.mktemp("runs"))


# --------------------------------------------------------------------------------------- mini release

MINI_FOLDER = "Skyline-Tess Ray"
MINI_PREFIX = "Tess Ray"
MINI_DS = "Tess_Ray"
MINI_DESCRIPTION = (
    "Tess Ray is a cheerful kite maker who lives on a windy hill and names every kite she builds."
)
MINI_OPENING = "Oh, hello! Mind the strings, they tangle."
MINI_PROFILE = (
    "### Character Profile: Tess Ray\n\n"
    "* **Full Name:** Tess Ray\n"
    "* **Home:** a windy hill above the harbour\n"
    "* **Craft:** She builds kites from bamboo and silk.\n"
    "* **Favourite kite:** a red dragon called Ember\n\n"
    "Tess speaks quickly and laughs often.\n"
)
MINI_SIMPLIFIED = "**Personality:**\n- Cheerful and quick-witted.\n- Patient with beginners.\n"


def _header() -> dict[str, str]:
    return {"description": MINI_DESCRIPTION, "opening": MINI_OPENING}


def _scene(user: str, machine: str, image: str) -> list[dict[str, Any]]:
    return [{"role": "user", "text": user}, {"role": "machine", "text": machine, "image": image}]


TRAIN_SCENES = [
    ("Tess, what are you building today?", "A kite shaped like a heron. It wants to fly already.", "0"),
    ("Why is your kite red?", "Because Ember likes to be seen from the harbour.", "1"),
]
TEST_SCENES = [("Can I fly one too?", "Of course, hold the line tight and run.", "0")]


def _with_image(scenes: list[tuple[str, str, str]], train: bool) -> dict[str, Any]:
    out = []
    for n, (u, m, img) in enumerate(scenes):
        turn: dict[str, Any] = {
            "role": "machine",
            "text": m,
            "image": img,
            "thinking_process": f"The image shows Tess with kite number {n}.",
            "generation_instruction": f"Tess Ray holding kite {n}, windy hill, bright day",
        }
        if train:
            turn["qa_pairs"] = [
                {"question": "What is Tess holding?", "answer": "A kite.", "type": "objective"}
            ]
            turn["mcq_items"] = [
                {
                    "id": "q1",
                    "question": "What colour is the sky?",
                    "options": {"A": "Blue", "B": "Green", "C": "Purple", "D": "Black"},
                    "answer_key": "ABCD"[n % 4],
                    "difficulty": "easy",
                    "rationale": "It is clear.",
                }
            ]
        out.append([{"role": "user", "text": u}, turn])
    return {**_header(), "scenes": out}


class MiniRelease:
    """A one-character release in the real layout; helpers read and rewrite its files."""

    def __init__(self, root: Path):
        self.root = root
        self.data = root / "data" / "personalized_data"
        self.train = self.data / "train" / MINI_FOLDER
        self.test = self.data / "test" / MINI_FOLDER
        self.grpo = root / "flow_grpo" / "dataset" / "personalized_t2i" / MINI_DS

    def file(self, name: str, split: str = "train") -> Path:
        base = self.train if split == "train" else self.test
        return base / name.format(P=MINI_PREFIX)

    def load(self, path: Path) -> Any:
        return json.loads(path.read_text(encoding="utf-8"))

    def dump(self, path: Path, obj: Any) -> None:
        path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    def edit(self, path: Path, fn) -> None:  # fn mutates the loaded JSON in place
        obj = self.load(path)
        fn(obj)
        self.dump(path, obj)

    def parse(self):
        from rolescape.builders.parse_release import parse_release

        return parse_release(self.root)

    def codes(self) -> set[str]:
        return {f.code for f in self.parse().findings}

    def write(self) -> MiniRelease:
        from PIL import Image

        from rolescape.builders.parsers import (
            AnnotatedScene,
            ExtScene,
            Header,
            expected_t2i_files,
            expected_vlm_files,
        )
        from rolescape.schemas import KnowledgeQA, VisualQA

        for d in (self.train, self.test, self.grpo):
            d.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (32, 24), (200, 40, 40)).save(self.train / "0.png")
        Image.new("RGBA", (24, 24), (40, 40, 200, 255)).save(self.train / "1.png")  # opaque alpha
        Image.new("RGB", (20, 20), (10, 200, 10)).save(self.test / "0.png")

        for split, scenes in (("train", TRAIN_SCENES), ("test", TEST_SCENES)):
            self.dump(
                self.file("annotation.json", split), {**_header(), "scenes": [_scene(*s) for s in scenes]}
            )
            self.dump(self.file("{P}_with_image.json", split), _with_image(scenes, split == "train"))
            self.dump(
                self.file("{P}_t2i_instruction.json", split),
                {
                    **_header(),
                    "t2i_instructions": [
                        {"image_id": img, "t2i_instruction": f"Tess Ray on a hill with kite {img}"}
                        for _u, _m, img in scenes
                    ],
                },
            )
            self.file("{P}_full_profile.txt", split).write_text(MINI_PROFILE, encoding="utf-8")
        self.file("{P}_personality_simplified_profile.txt").write_text(MINI_SIMPLIFIED, encoding="utf-8")
        ext_train = [
            ("Do kites get cold?", "Only the silly ones."),
            ("What is your best kite?", "Ember, obviously."),
        ]
        ext_train += [(u, m) for u, m, _i in TRAIN_SCENES]
        self.dump(
            self.file("{P}_dialogue_text_extension_train.json"),
            {
                **_header(),
                "scenes": [
                    [{"role": "user", "text": u}, {"role": "machine", "text": m}] for u, m in ext_train
                ],
            },
        )
        self.dump(
            self.file("{P}_dialogue_text_extension_test.json"),
            {
                **_header(),
                "scenes": [
                    [
                        {"role": "user", "text": "Can kites dream?"},
                        {"role": "machine", "text": "Mine dream of storms."},
                    ]
                ],
            },
        )
        kqa = [
            {
                "id": "qa_001",
                "question": "What is Tess Ray's favourite kite called?",
                "answer": "Ember",
                "evidence": "a red dragon called Ember",
                "type": "fact",
                "difficulty": "easy",
                "reasoning_steps": ["The profile names it."],
                "confidence": 1.0,
            },
            {
                "id": "qa_002",
                "question": "What does Tess build kites from?",
                "answer": "Bamboo and silk",
                "evidence": "She builds kites from bamboo and silk.",
                "type": "list",
                "difficulty": "medium",
                "reasoning_steps": ["Stated under Craft."],
                "confidence": 0.9,
            },
        ]
        self.dump(self.file("{P}_knowledge_qa.json"), {**_header(), "qa_items": kqa})
        mcq = [
            {
                "id": "mcq_001",
                "question": "Where does Tess live?",
                "options": {"A": "On a windy hill", "B": "In a cave", "C": "On a boat", "D": "In a tower"},
                "answer_key": "A",
                "difficulty": "easy",
                "evidence": "a windy hill above the harbour",
                "rationale": "The profile says so.",
            }
        ]
        self.dump(self.file("{P}_knowledge_qa_test.json"), {**_header(), "mcq_items": mcq})
        self.dump(
            self.file("{P}_memorization_test.json"),
            {
                **_header(),
                "test_questions": ["What is your favourite kite called?", "What do you make kites from?"],
            },
        )
        self.dump(
            self.file("{P}_personality_test.json"),
            {
                **_header(),
                "test_questions": [
                    "My kite broke on its first flight. Should I give up?",
                    "Why do you laugh so much?",
                ],
            },
        )

        # derived files, regenerated with the release's templates
        header = Header(MINI_DESCRIPTION, MINI_OPENING)
        for split, scenes in (("train", TRAIN_SCENES), ("test", TEST_SCENES)):
            wi = self.load(self.file("{P}_with_image.json", split))["scenes"]
            ann = [
                AnnotatedScene(
                    i,
                    u,
                    m,
                    img,
                    f"$.scenes[{i}]",
                    thinking_process=wi[i][1]["thinking_process"],
                    generation_instruction=wi[i][1]["generation_instruction"],
                    qa_pairs=[VisualQA(**q) for q in wi[i][1].get("qa_pairs", [])],
                )
                for i, (u, m, img) in enumerate(scenes)
            ]
            t2i = {img: f"Tess Ray on a hill with kite {img}" for _u, _m, img in scenes}
            base = self.train if split == "train" else self.test
            for name, rows in expected_t2i_files(
                MINI_PREFIX, MINI_FOLDER, split, MINI_DESCRIPTION, ann, t2i
            ).items():
                self._jsonl(base / "processed" / "t2i" / name, rows)
                if split == "train":  # §2.11: the jsonl plus the raw image bytes, train only
                    self.write_t2i_parquet(name, rows)
            if split == "train":
                ext = [ExtScene(i, u, m, None, f"$.scenes[{i}]") for i, (u, m) in enumerate(ext_train)]
                kq = [
                    KnowledgeQA(
                        character="tess-ray",
                        id=q["id"],
                        question=q["question"],
                        question_raw=q["question"],
                        answer=q["answer"],
                        answer_raw=q["answer"],
                        evidence=[q["evidence"]],
                        type=q["type"],
                        type_allowed=True,
                        difficulty=q["difficulty"],
                        reasoning_steps=q["reasoning_steps"],
                        confidence=q["confidence"],
                    )
                    for q in kqa
                ]
                for name, rows in expected_vlm_files(MINI_PREFIX, MINI_FOLDER, header, ann, ext, kq).items():
                    self._jsonl(base / "processed" / "vlm" / name, rows)

        # GRPO prompts
        vqa = [
            {
                "question": "Is Tess holding a kite?",
                "type": "yes_no",
                "category": "action",
                "answer": "yes",
                "weight": 1.0,
                "is_negative": False,
            },
            {
                "question": "What colour is the kite?",
                "type": "multiple_choice",
                "category": "object",
                "answer": "red",
                "choices": ["red", "blue", "green"],
                "weight": 0.8,
                "is_negative": False,
            },
            {
                "question": "Is Tess wearing a crown?",
                "type": "yes_no",
                "category": "character_attributes",
                "answer": "no",
                "weight": 0.5,
                "is_negative": True,
            },
        ]
        texts = [
            "A photo of Tess Ray flying a kite on a hill",
            "A photo of Tess Ray repairing a kite indoors",
        ]
        pure = [
            {
                "text": t,
                "character": MINI_PREFIX,
                "scene_id": str(i),
                "reference_images_path": f"dataset/personalized_t2i/{MINI_DS}",
            }
            for i, t in enumerate(texts)
        ]
        self._jsonl(self.grpo / f"{MINI_DS}_pure_t2i.jsonl", pure)
        self._jsonl(
            self.grpo / f"{MINI_DS}_pure_t2i_with_vqa.jsonl", [{**p, "vqa_questions": vqa} for p in pure]
        )
        (self.grpo / f"{MINI_DS}_full_profile.txt").write_text(MINI_PROFILE, encoding="utf-8")
        return self

    def t2i_parquet(self, jsonl_name: str) -> Path:
        stem = jsonl_name.removesuffix(".jsonl")
        return self.train / "processed" / "t2i" / f"{stem}_parquet" / "chunk_000.parquet"

    def write_t2i_parquet(self, jsonl_name: str, rows: list[dict[str, Any]]) -> None:
        """A derived parquet as the release has them: columns image (raw file bytes) and captions."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = self.t2i_parquet(jsonl_name)
        path.parent.mkdir(parents=True, exist_ok=True)
        table = pa.table(
            {
                "image": pa.array(
                    [(self.train / f"{r['scene_id']}.png").read_bytes() for r in rows], pa.binary()
                ),
                "captions": pa.array([json.dumps({"caption": r["text"]}) for r in rows], pa.string()),
            }
        )
        pq.write_table(table, path)

    @staticmethod
    def _jsonl(path: Path, rows: list[Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")

    def read_jsonl(self, path: Path) -> list[Any]:
        return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]

    def write_jsonl(self, path: Path, rows: list[Any]) -> None:
        self._jsonl(path, rows)


@pytest.fixture
def mini_release(tmp_path: Path) -> MiniRelease:
    """A fresh defect-free one-character release under tmp_path."""
    return MiniRelease(tmp_path / "mini").write()
