"""Reading one release: its layout, a :class:`Reader` that records what it read, and a character's files.

Everything the per-family readers share (:mod:`~rolescape.builders.scenes`,
:mod:`~rolescape.builders.dialogues`, :mod:`~rolescape.builders.derived`,
:mod:`~rolescape.builders.grpo`) lives here, below them, so none of them imports another.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rolescape.builders.audit import Auditor, FileCtx
from rolescape.builders.clean import shorten
from rolescape.builders.naming import CharacterNames, prefix_of
from rolescape.builders.parsers import Header
from rolescape.builders.raw import JsonlLine, Shape, TextFile, parse_json, parse_jsonl, read_text
from rolescape.errors import InputError
from rolescape.schemas import (
    Character,
    DialogueScene,
    GrpoPrompt,
    KnowledgeMCQ,
    KnowledgeQA,
    Probe,
    Scene,
)

DATA_REL = "data/personalized_data"
GRPO_REL = "flow_grpo/dataset/personalized_t2i"
JUNK_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini"}


def is_junk(name: str) -> bool:
    return name in JUNK_NAMES or name.startswith("._")


# ------------------------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class Layout:
    root: Path
    data_dir: Path
    grpo_dir: Path


def resolve_root(path: str | Path) -> Layout:
    """Accept the repository root, its ``data/`` folder or ``data/personalized_data`` itself."""
    p = Path(path).expanduser()
    if not p.exists():
        raise InputError("source folder not found", path=p)
    if not p.is_dir():
        raise InputError("source is not a folder", path=p)
    p = p.resolve()
    if (p / DATA_REL).is_dir():
        root = p
    elif p.name == "personalized_data" and p.parent.name == "data":
        root = p.parent.parent
    elif p.name == "data" and (p / "personalized_data").is_dir():
        root = p.parent
    else:
        raise InputError(
            f"not the RoleScape-20 release: expected {DATA_REL}/train and {DATA_REL}/test inside", path=p
        )
    data_dir = root / DATA_REL
    for split in ("train", "test"):
        if not (data_dir / split).is_dir():
            raise InputError(f"not the RoleScape-20 release: the {split}/ folder is missing", path=data_dir)
    return Layout(root=root, data_dir=data_dir, grpo_dir=root / GRPO_REL)


# ------------------------------------------------------------------------------------------- reader


class Reader:
    """Reads text/JSON/JSONL files, records what it read and the cosmetic facts as findings."""

    def __init__(self, layout: Layout, auditor: Auditor):
        self.layout = layout
        self.auditor = auditor
        self.files_read: set[str] = set()
        self.no_newline: dict[tuple[str | None, str], list[str]] = defaultdict(list)

    def rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.layout.root).as_posix()
        except ValueError:
            return path.as_posix()

    def ctx(self, path: Path, character: str | None) -> FileCtx:
        return FileCtx(self.auditor, character, self.rel(path), path)

    def text(self, path: Path, character: str | None) -> TextFile:
        tf = read_text(path)
        rel = self.rel(path)
        self.files_read.add(rel)
        if tf.crlf:
            self.auditor.add(
                "RS002", character=character, file=rel, message="CRLF line endings", repair="read as LF"
            )
        if tf.bom:
            self.auditor.add(
                "RS008", character=character, file=rel, message="UTF-8 byte-order mark", repair="removed"
            )
        if not tf.final_newline:
            self.no_newline[(character, self.rel(path.parent))].append(path.name)
        return tf

    def json(self, path: Path, character: str | None) -> tuple[Any, Shape, FileCtx]:
        tf = self.text(path, character)
        return parse_json(tf), Shape(path), self.ctx(path, character)

    def jsonl(self, path: Path, character: str | None) -> list[JsonlLine]:
        tf = self.text(path, character)
        rows, blank = parse_jsonl(tf)
        for lineno in blank:
            self.auditor.add(
                "RS004",
                character=character,
                file=self.rel(path),
                location=f"{lineno}",
                message="blank line inside JSONL",
                repair="skipped",
            )
        return rows

    def flush_newline_findings(self) -> None:
        for (character, folder), names in sorted(
            self.no_newline.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])
        ):
            self.auditor.add(
                "RS003",
                character=character,
                file=folder,
                message=f"{len(names)} text file(s) have no final newline: {', '.join(sorted(names)[:4])}"
                + (" …" if len(names) > 4 else ""),
            )


# --------------------------------------------------------------------------------------- characters


@dataclass
class ImageJob:
    key: str
    path: Path
    rel: str
    character: str
    split: str
    image_id: str


@dataclass
class CharacterResult:
    character: Character | None = None
    scenes: list[Scene] = field(default_factory=list)
    dialogues: list[DialogueScene] = field(default_factory=list)
    knowledge_qa: list[KnowledgeQA] = field(default_factory=list)
    knowledge_mcq: list[KnowledgeMCQ] = field(default_factory=list)
    probes: list[Probe] = field(default_factory=list)
    grpo_prompts: list[GrpoPrompt] = field(default_factory=list)
    images: list[ImageJob] = field(default_factory=list)


TRAIN_FILES = {
    "with_image": "{P}_with_image.json",
    "t2i_instruction": "{P}_t2i_instruction.json",
    "full_profile": "{P}_full_profile.txt",
    "simplified_profile": "{P}_personality_simplified_profile.txt",
    "ext_train": "{P}_dialogue_text_extension_train.json",
    "ext_test": "{P}_dialogue_text_extension_test.json",
    "knowledge_qa": "{P}_knowledge_qa.json",
    "knowledge_qa_test": "{P}_knowledge_qa_test.json",
    "memorization": "{P}_memorization_test.json",
    "personality": "{P}_personality_test.json",
}
TEST_FILES = {"with_image": "{P}_with_image.json", "t2i_instruction": "{P}_t2i_instruction.json"}
T2I_KINDS = ("pure_t2i", "t2i_generation_instruction_only", "t2i", "t2i_with_thinking")
VLM_KINDS = ("vlm", "vlm_extension", "vlm_thinking", "knowledge_qa", "vqa")


def detect_prefix(folder_path: Path) -> str | None:
    hits = sorted(
        p.name[: -len("_with_image.json")] for p in folder_path.glob("*_with_image.json") if p.is_file()
    )
    return hits[0] if len(hits) == 1 else None


class CharacterFiles:
    """One character's two folders, its names and its header: what every file-family reader needs.

    The file families (scenes, dialogues, derived files, GRPO prompts) each take one of these and
    report their findings through its :class:`Reader`.
    """

    def __init__(self, reader: Reader, layout: Layout, folder: str):
        self.reader = reader
        self.layout = layout
        self.folder = folder
        self.train_dir = layout.data_dir / "train" / folder
        self.test_dir = layout.data_dir / "test" / folder
        rule_prefix = prefix_of(folder)
        detected = detect_prefix(self.train_dir)
        prefix = rule_prefix
        if (
            detected is not None
            and detected != rule_prefix
            and not (self.train_dir / f"{rule_prefix}_with_image.json").exists()
        ):
            prefix = detected
        self.names = CharacterNames.from_folder(folder, prefix)
        self.slug = self.names.slug
        if prefix != rule_prefix:
            reader.auditor.add(
                "RS010",
                character=self.slug,
                file=reader.rel(self.train_dir),
                message=f"files use the prefix {prefix!r}, not {rule_prefix!r} from the folder name",
                repair=f"prefix {prefix!r} used",
            )
        self.header: Header | None = None

    def path(self, split: str, template: str) -> Path:
        base = self.train_dir if split == "train" else self.test_dir
        return base / template.format(P=self.names.prefix)

    def required(self, split: str, template: str) -> Path:
        p = self.path(split, template)
        if not p.is_file():
            raise InputError(f"required file is missing for character {self.folder!r}", path=p)
        return p

    def check_header(self, ctx: FileCtx, header: Header) -> None:
        assert self.header is not None
        for name in ("description", "opening"):
            got, want = getattr(header, name), getattr(self.header, name)
            if got != want:
                ctx.add(
                    "RS201",
                    f"$.{name}",
                    f"{name} differs from train/annotation.json: "
                    f"{shorten(got, 50)!r} vs {shorten(want, 50)!r}",
                    repair="the train annotation.json value is used",
                )
