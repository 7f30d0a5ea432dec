"""Parse, audit and repair a RoleScape-20 release (or a user's own character in its layout).

:func:`parse_release` reads ``<root>/data/personalized_data/{train,test}/<Folder>/`` and, when present,
``<root>/flow_grpo/dataset/personalized_t2i/<DsName>/``, and returns a :class:`ParsedRelease`.

Policies (rolescape20-release.md §8):

* A character is a folder present in **both** ``train/`` and ``test/``. A folder in only one of them is
  an :class:`~rolescape.errors.InputError` (its test scenes or its training data would silently be
  missing from the built dataset otherwise).
* Sources of truth: annotation.json, ``<P>_with_image.json``, ``<P>_t2i_instruction.json``, the profile
  texts, the dialogue-extension / knowledge / test JSONs, and the GRPO ``_pure_t2i_with_vqa.jsonl``.
  ``processed/`` files are regenerated from them and compared line by line (RS203), never used; the
  ``*_parquet/`` folders row by row against the regenerated text and the image bytes (§2.11).
  ``*_full.jsonl``, ``*_full_new.jsonl`` and ``*_t2i_full.jsonl`` are stale (RS005) and never read.
* Optional: the whole ``flow_grpo`` folder (a character without GRPO prompts gets an RS007 finding),
  ``processed/``, ``prompts/`` (never used as data; the dialogue-extension prompt is read for RS012), and ``test/<P>_full_profile.txt`` (missing -> train copy
  and an RS204 finding).
* Findings on extra keys keep the value in ``extra`` where the record has such a field (knowledge QA,
  knowledge MCQ, visual QA/MCQ, VQA rows); on headers and dialogue turns they are reported and ignored.
"""

from __future__ import annotations

import gc
import os
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rolescape.builders.audit import (
    Auditor,
    FileCtx,
    ProfileIndex,
    answer_key_bias,
    audit_dialogue_duplicates,
    audit_duplicate_prompts,
    audit_knowledge_qa,
    audit_test_train_duplicates,
    audit_vqa,
    audit_vqa_categories,
    build_probes,
    compare_derived,
    flag_field,
    repair_field,
)
from rolescape.builders.clean import clean_full_profile, clean_simplified_profile, shorten
from rolescape.builders.confine import check_source_tree
from rolescape.builders.leakage import compute_floors, compute_leakage
from rolescape.builders.naming import CharacterNames, description_name, mentions, prefix_of
from rolescape.builders.parsers import (
    AnnotatedScene,
    ExtScene,
    GrpoRow,
    Header,
    expected_t2i_files,
    expected_vlm_files,
    parse_annotation,
    parse_dialogue_ext,
    parse_grpo_lines,
    parse_knowledge_mcq,
    parse_knowledge_qa,
    parse_t2i_instruction,
    parse_test_questions,
    parse_with_image,
)
from rolescape.builders.raw import (
    IMAGE_EXTENSIONS,
    JsonlLine,
    Shape,
    TextFile,
    inspect_image,
    numeric_image_files,
    parse_json,
    parse_jsonl,
    read_image_bytes,
    read_text,
)
from rolescape.builders.release import ParsedRelease
from rolescape.errors import InputError
from rolescape.io import resolve_inside
from rolescape.schemas import (
    Character,
    DialogueScene,
    GrpoPrompt,
    ImageRecord,
    KnowledgeMCQ,
    KnowledgeQA,
    Probe,
    Scene,
)

Progress = Callable[[str, int, int], None]

DATA_REL = "data/personalized_data"
GRPO_REL = "flow_grpo/dataset/personalized_t2i"
JUNK_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini"}


def _is_junk(name: str) -> bool:
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


def _detect_prefix(folder_path: Path) -> str | None:
    hits = sorted(
        p.name[: -len("_with_image.json")] for p in folder_path.glob("*_with_image.json") if p.is_file()
    )
    return hits[0] if len(hits) == 1 else None


class CharacterParser:
    def __init__(self, reader: Reader, layout: Layout, folder: str):
        self.reader = reader
        self.layout = layout
        self.folder = folder
        self.train_dir = layout.data_dir / "train" / folder
        self.test_dir = layout.data_dir / "test" / folder
        rule_prefix = prefix_of(folder)
        detected = _detect_prefix(self.train_dir)
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
        self._t2i_by_split: dict[str, dict[str, str]] = {}

    # -- helpers -----------------------------------------------------------------------------------

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

    # -- the whole character -----------------------------------------------------------------------

    def parse(self) -> CharacterResult:
        r = self.reader
        slug = self.slug
        ann_train_path = self.required("train", "annotation.json")
        obj, shape, ctx = r.json(ann_train_path, slug)
        self.header, ann_train = parse_annotation(obj, ctx, shape)
        for sc in ann_train:
            flag_field(ctx, f"{sc.jpath}[0].text", sc.user_text)
            flag_field(ctx, f"{sc.jpath}[1].text", sc.response)
        paths = {k: self.required("train", v) for k, v in TRAIN_FILES.items()}
        ann_test_path = self.required("test", "annotation.json")
        test_paths = {k: self.required("test", v) for k, v in TEST_FILES.items()}
        obj, shape, ctx = r.json(ann_test_path, slug)
        header_test, ann_test = parse_annotation(obj, ctx, shape)
        self.check_header(ctx, header_test)
        for sc in ann_test:
            flag_field(ctx, f"{sc.jpath}[0].text", sc.user_text)
            flag_field(ctx, f"{sc.jpath}[1].text", sc.response)

        # profiles
        full_tf = r.text(paths["full_profile"], slug)
        full_profile = full_tf.text
        profile_index = ProfileIndex(full_profile)
        full_clean = clean_full_profile(full_profile)
        simp_tf = r.text(paths["simplified_profile"], slug)
        simp_clean = clean_simplified_profile(simp_tf.text)
        for code, key, cleaned, what, target in (
            ("RS506", "full_profile", full_clean, "meta-text in the full profile", "full_profile_clean"),
            ("RS505", "simplified_profile", simp_clean, "assistant chatter", "personality_profile"),
        ):
            for line, txt in cleaned.removed:
                self.reader.auditor.add(
                    code,
                    character=slug,
                    file=r.rel(paths[key]),
                    location=f"{line}",
                    message=f"{what}: {shorten(txt, 70)!r}",
                    repair=f"removed from {target} (raw kept)",
                )
        test_profile_missing = self._check_test_profile(full_profile)

        result = CharacterResult()
        # scenes (train, test)
        result.scenes += self._scenes(
            "train", ann_train_path, ann_train, paths["with_image"], paths["t2i_instruction"], result
        )
        result.scenes += self._scenes(
            "test", ann_test_path, ann_test, test_paths["with_image"], test_paths["t2i_instruction"], result
        )
        self._unreferenced_images(result)

        # dialogue extension
        ext_train = self._dialogues("train", paths["ext_train"], ann_train, result)
        self._dialogues("test", paths["ext_test"], ann_train, result)

        # knowledge
        obj, shape, ctx = r.json(paths["knowledge_qa"], slug)
        header, kqa, kqa_locations = parse_knowledge_qa(obj, ctx, shape, slug, profile_index)
        self.check_header(ctx, header)
        audit_knowledge_qa(ctx, kqa, kqa_locations)
        result.knowledge_qa = kqa
        obj, shape, ctx = r.json(paths["knowledge_qa_test"], slug)
        header, mcq = parse_knowledge_mcq(obj, ctx, shape, slug, profile_index)
        self.check_header(ctx, header)
        result.knowledge_mcq = mcq

        # probes
        desc_name = description_name(self.header.description, self.names.prefix)
        probe_names = [n for n in (self.names.prefix, desc_name) if n]
        for kind in ("memorization", "personality"):
            obj, shape, ctx = r.json(paths[kind], slug)
            header, questions = parse_test_questions(obj, ctx, shape)
            self.check_header(ctx, header)
            result.probes += build_probes(ctx, slug, kind, questions, "test_questions", probe_names)
        self._check_prompts()

        # derived files and stray files
        self._derived(ann_train, ann_test, ext_train, kqa)
        self._scan_folder("train")
        self._scan_folder("test")

        # GRPO
        grpo_field = self._grpo(full_profile, result)

        self.names.add_alias(desc_name)
        self.names.add_alias(grpo_field)
        if not mentions(self.header.description, self.names.prefix):
            r.auditor.add(
                "RS206",
                character=slug,
                file=r.rel(ann_train_path),
                location="$.description",
                message=f"the description does not mention the prefix {self.names.prefix!r}"
                + (f" (it says {desc_name!r})" if desc_name else ""),
            )
        result.character = Character(
            id=slug,
            folder=self.folder,
            prefix=self.names.prefix,
            grpo_name=self.names.grpo_name,
            grpo_character_field=grpo_field,
            aliases=self.names.sorted_aliases(),
            description=self.header.description,
            opening=self.header.opening,
            full_profile=full_profile,
            full_profile_clean=full_clean.text,
            personality_profile_raw=simp_tf.text,
            personality_profile=simp_clean.text,
            test_profile_missing=test_profile_missing,
        )
        return result

    # -- pieces ------------------------------------------------------------------------------------

    def _check_prompts(self) -> None:
        """RS012: the dialogue-extension prompt pastes description/opening raw; double quotes break its JSON.

        prompts/ is never used as data; it is only read for this check when present.
        """
        assert self.header is not None
        p = self.train_dir / "prompts" / f"{self.names.prefix}_dialogue_extension_prompt.txt"
        risky = [(k, v) for k in ("description", "opening") if '"' in (v := getattr(self.header, k))]
        if not risky or not p.is_file():
            return
        text = self.reader.text(p, self.slug).text
        for name, value in risky:
            if value in text:
                self.reader.auditor.add(
                    "RS012",
                    character=self.slug,
                    file=self.reader.rel(p),
                    message=f"the {name} contains double quotes and is pasted unescaped into this prompt's "
                    f"JSON: {shorten(value[value.index(chr(34)) :], 50)!r}",
                )

    def _check_test_profile(self, full_profile: str) -> bool:
        r = self.reader
        p = self.path("test", "{P}_full_profile.txt")
        if not p.is_file():
            r.auditor.add(
                "RS204",
                character=self.slug,
                file=r.rel(p),
                message="test copy of the full profile is missing",
                repair="the train profile is used",
            )
            return True
        tf = r.text(p, self.slug)
        if tf.text != full_profile:
            r.auditor.add(
                "RS205",
                character=self.slug,
                file=r.rel(p),
                message="test copy of the full profile differs from the train profile",
                repair="the train profile is used",
            )
        return False

    def _scenes(
        self,
        split: str,
        ann_path: Path,
        ann: list[AnnotatedScene],
        wi_path: Path,
        t2i_path: Path,
        result: CharacterResult,
    ) -> list[Scene]:
        r = self.reader
        slug = self.slug
        # image ids: unique, and every referenced file must exist
        seen: dict[str, str] = {}
        files = numeric_image_files(ann_path.parent)
        for sc in ann:
            if sc.image_id in seen:
                raise InputError(
                    f"image id {sc.image_id!r} is used by two scenes (first at {seen[sc.image_id]})",
                    path=ann_path,
                    where=f"{sc.jpath}[1].image",
                )
            seen[sc.image_id] = sc.jpath
            img = ann_path.parent / f"{sc.image_id}.png"
            if not img.is_file():
                img = files.get(sc.image_id)  # type: ignore[assignment]
            if img is None or not img.is_file():
                raise InputError(
                    f"referenced image {sc.image_id!r} is absent: {r.rel(ann_path.parent / (sc.image_id + '.png'))}",
                    path=ann_path,
                    where=f"{sc.jpath}[1].image",
                )
            key = f"{split}/{slug}/{sc.image_id}"
            result.images.append(ImageJob(key, img, r.rel(img), slug, split, sc.image_id))

        obj, shape, ctx = r.json(wi_path, slug)
        header, wi = parse_with_image(obj, ctx, shape)
        self.check_header(ctx, header)
        wi_by_id: dict[str, AnnotatedScene] = {}
        for s in wi:
            wi_by_id.setdefault(s.image_id, s)
        ann_ids = [sc.image_id for sc in ann]
        if [s.image_id for s in wi] != ann_ids:
            ctx.add(
                "RS202",
                "$.scenes",
                f"scene image ids {[s.image_id for s in wi]} differ from annotation.json {ann_ids}",
            )
        for sc in ann:
            w = wi_by_id.get(sc.image_id)
            if w is None:
                raise InputError(
                    f"no scene for image id {sc.image_id!r} (annotation.json has one at {sc.jpath})",
                    path=wi_path,
                    where="$.scenes",
                )
            for name in ("user_text", "response"):
                if getattr(w, name) != getattr(sc, name):
                    where = f"{w.jpath}[0].text" if name == "user_text" else f"{w.jpath}[1].text"
                    ctx.add(
                        "RS202",
                        where,
                        f"image {sc.image_id}: {name} differs from annotation.json",
                        repair="the annotation.json text is used",
                    )
            sc.thinking_process = w.thinking_process
            sc.generation_instruction = w.generation_instruction
            sc.qa_pairs = w.qa_pairs
            sc.mcq_items = w.mcq_items

        obj, shape, ctx = r.json(t2i_path, slug)
        header, t2i = parse_t2i_instruction(obj, ctx, shape)
        self.check_header(ctx, header)
        t2i_by_id: dict[str, str] = {}
        for t in t2i:
            if t.image_id in t2i_by_id:
                ctx.add("RS202", t.jpath, f"image id {t.image_id!r} appears twice; the first entry is used")
                continue
            t2i_by_id[t.image_id] = t.text
        if [t.image_id for t in t2i] != ann_ids:
            ctx.add(
                "RS202",
                "$.t2i_instructions",
                f"image ids {[t.image_id for t in t2i]} differ from annotation.json {ann_ids}",
            )
        for sc in ann:
            if sc.image_id not in t2i_by_id:
                raise InputError(
                    f"no t2i_instruction for image id {sc.image_id!r}",
                    path=t2i_path,
                    where="$.t2i_instructions",
                )
        self._t2i_by_split[split] = t2i_by_id

        return [
            Scene(
                character=slug,
                split=split,  # type: ignore[arg-type]
                scene_id=sc.image_id,
                user_text=sc.user_text,
                response=sc.response,
                image_key=f"{split}/{slug}/{sc.image_id}",
                thinking_process=sc.thinking_process or "",
                generation_instruction=sc.generation_instruction or "",
                t2i_instruction=t2i_by_id[sc.image_id],
                qa_pairs=sc.qa_pairs,
                mcq_items=sc.mcq_items,
            )
            for sc in ann
        ]

    def _unreferenced_images(self, result: CharacterResult) -> None:
        r = self.reader
        referenced = {j.rel for j in result.images}
        for split, folder in (("train", self.train_dir), ("test", self.test_dir)):
            for _id, p in numeric_image_files(folder).items():
                if r.rel(p) not in referenced:
                    r.auditor.add(
                        "RS103",
                        character=self.slug,
                        file=r.rel(p),
                        message=f"{split} image {p.name} is not referenced by annotation.json",
                        repair="not built",
                    )

    def _dialogues(
        self, split: str, path: Path, ann_train: list[AnnotatedScene], result: CharacterResult
    ) -> list[ExtScene]:
        r = self.reader
        obj, shape, ctx = r.json(path, self.slug)
        header, scenes = parse_dialogue_ext(obj, ctx, shape)
        self.check_header(ctx, header)
        originals = {(a.user_text, a.response) for a in ann_train}
        image_files = set(numeric_image_files(self.train_dir))
        for sc in scenes:
            if sc.image is not None:
                exists = (
                    "an image of that id exists, but the scene is text-only"
                    if sc.image in image_files
                    else "no such image"
                )
                ctx.add(
                    "RS301",
                    f"{sc.jpath}[1].image",
                    f"scene {sc.index}: text-only turn carries image id {sc.image!r} ({exists})",
                    repair="dropped (kept in hallucinated_image)",
                )
            result.dialogues.append(
                DialogueScene(
                    character=self.slug,
                    split=split,  # type: ignore[arg-type]
                    index=sc.index,
                    user_text=repair_field(ctx, f"{sc.jpath}[0].text", sc.user_text),
                    user_text_raw=sc.user_text,
                    response=repair_field(ctx, f"{sc.jpath}[1].text", sc.response),
                    response_raw=sc.response,
                    is_original=split == "train" and (sc.user_text, sc.response) in originals,
                    hallucinated_image=sc.image,
                )
            )
        audit_dialogue_duplicates(ctx, [s.user_text for s in scenes])
        if split == "train" and ann_train:
            n = len(ann_train)
            tail = [(s.user_text, s.response) for s in scenes[-n:]]
            want = [(a.user_text, a.response) for a in ann_train]
            if tail != want:
                ctx.add(
                    "RS303",
                    "$.scenes",
                    f"the last {n} scenes are not the {n} annotation scenes in order "
                    f"({sum(1 for s in scenes if (s.user_text, s.response) in originals)} originals found in total)",
                )
        return scenes

    def _derived(
        self,
        ann_train: list[AnnotatedScene],
        ann_test: list[AnnotatedScene],
        ext_train: list[ExtScene],
        kqa: list[KnowledgeQA],
    ) -> None:
        r = self.reader
        assert self.header is not None
        P = self.names.prefix
        for split, ann in (("train", ann_train), ("test", ann_test)):
            base = self.train_dir if split == "train" else self.test_dir
            t2i_dir = base / "processed" / "t2i"
            if not (base / "processed").is_dir():
                r.auditor.add(
                    "RS007",
                    character=self.slug,
                    file=r.rel(base / "processed"),
                    message="no processed/ folder (derived files): nothing to cross-check",
                )
                continue
            expected = expected_t2i_files(
                P, self.folder, split, self.header.description, ann, self._t2i_by_split[split]
            )
            self._compare_all(t2i_dir, expected)
            if split == "train":
                vlm = expected_vlm_files(P, self.folder, self.header, ann, ext_train, kqa)
                self._compare_all(base / "processed" / "vlm", vlm)
                self._compare_parquets(t2i_dir, expected, ann)

    def _compare_parquets(
        self, t2i_dir: Path, expected: dict[str, list[dict[str, Any]]], ann: list[AnnotatedScene]
    ) -> None:
        """§2.11: each ``<P>_<kind>_parquet/`` is its sibling .jsonl plus the raw image bytes.

        Checked row by row: ``image`` must be the bytes of the scene's image file and ``captions`` the
        JSON ``{"caption": <text>}`` of the regenerated line. Absent folders and Git LFS pointers (blobs
        not downloaded) are RS007; a mismatch or an unreadable file is RS203. Never used as data.
        """
        r = self.reader
        images = numeric_image_files(self.train_dir)
        absent = []
        for name, rows in expected.items():
            folder = t2i_dir / (name.removesuffix(".jsonl") + "_parquet")
            if not folder.is_dir():
                absent.append(folder.name)
                continue
            chunks = sorted(x for x in folder.iterdir() if x.is_file() and x.suffix == ".parquet")
            if not chunks:
                absent.append(folder.name)
                continue
            got: list[tuple[str, int, Any]] = []
            for chunk in chunks:
                ctx = r.ctx(chunk, self.slug)
                r.files_read.add(r.rel(chunk))
                head = chunk.read_bytes()[:64]
                if head.startswith(b"version https://git-lfs"):
                    ctx.add(
                        "RS007",
                        "",
                        "Git LFS pointer, the parquet blob is not in this copy: not cross-checked",
                    )
                    got = []
                    break
                try:
                    import pyarrow.parquet as pq

                    table = pq.read_table(chunk, columns=["image", "captions"])
                except Exception as e:  # pyarrow raises several types for a corrupt file or a missing column
                    ctx.add("RS203", "", f"unreadable derived parquet: {shorten(str(e), 80)}")
                    got = []
                    break
                got += [(r.rel(chunk), i, row) for i, row in enumerate(table.to_pylist())]
            else:
                self._compare_parquet_rows(rows, got, ann, images)
        if absent:
            r.auditor.add(
                "RS007",
                character=self.slug,
                file=r.rel(t2i_dir),
                message=f"{len(absent)} derived parquet folder(s) absent: not cross-checked "
                f"({', '.join(absent[:2])}{' …' if len(absent) > 2 else ''})",
            )

    def _compare_parquet_rows(
        self,
        rows: list[dict[str, Any]],
        got: list[tuple[str, int, Any]],
        ann: list[AnnotatedScene],
        images: dict[str, Path],
    ) -> None:
        import json as _json

        r = self.reader
        if not got:
            return
        first_file = got[0][0]
        if len(got) != len(rows):
            r.auditor.add(
                "RS203",
                character=self.slug,
                file=first_file,
                message=f"{len(got)} rows, but the sibling .jsonl regenerated from the sources has {len(rows)}",
            )
        for (rel, i, row), exp, sc in zip(got, rows, ann, strict=False):
            problems = []
            img = images.get(sc.image_id)
            data = row.get("image")
            if not isinstance(data, bytes) or img is None or data != img.read_bytes():
                problems.append(f"image is not the bytes of {sc.image_id}.png")
            try:
                cap = _json.loads(row.get("captions") or "")
            except ValueError:
                cap = None
            if cap != {"caption": exp["text"]}:
                problems.append(
                    f"captions is not {{'caption': <line {i + 1} text>}}: {shorten(str(row.get('captions')), 50)!r}"
                )
            if problems:
                r.auditor.add(
                    "RS203", character=self.slug, file=rel, location=f"row {i}", message="; ".join(problems)
                )

    def _compare_all(self, folder: Path, expected: dict[str, list[dict[str, Any]]]) -> None:
        r = self.reader
        for name, rows in expected.items():
            p = folder / name
            if not p.is_file():
                r.auditor.add(
                    "RS007",
                    character=self.slug,
                    file=r.rel(p),
                    message="derived file absent: not cross-checked",
                )
                continue
            lines = r.jsonl(p, self.slug)
            compare_derived(r.ctx(p, self.slug), rows, [(ln.lineno, ln.obj) for ln in lines])

    def _scan_folder(self, split: str) -> None:
        """Report stale, unknown and junk files in a character folder (never read)."""
        r = self.reader
        base = self.train_dir if split == "train" else self.test_dir
        P = self.names.prefix
        known = {
            "annotation.json",
            f"{P}_with_image.json",
            f"{P}_t2i_instruction.json",
            f"{P}_full_profile.txt",
        }
        if split == "train":
            known |= {v.format(P=P) for v in TRAIN_FILES.values()}
        derived = {f"{P}_{k}.jsonl" for k in T2I_KINDS} | {f"{P}_{k}_parquet" for k in T2I_KINDS}
        if split == "train":
            derived |= {f"{P}_{k}.jsonl" for k in VLM_KINDS}
        stale_suffixes = ("_full.jsonl", "_full_new.jsonl", "_full_parquet", "_full_new_parquet")
        for entry in sorted(os.listdir(base)):
            p = base / entry
            if _is_junk(entry):
                continue  # reported by the release-wide junk scan
            if p.is_dir():
                if entry == "prompts" and split == "train":
                    continue
                if entry == "processed":
                    for sub in sorted(os.listdir(p)):
                        sp = p / sub
                        if _is_junk(sub):
                            continue
                        if sub not in ("t2i", "vlm") or not sp.is_dir():
                            r.auditor.add(
                                "RS006",
                                character=self.slug,
                                file=r.rel(sp),
                                message="unknown entry in processed/: not read",
                            )
                            continue
                        for f in sorted(os.listdir(sp)):
                            fp = sp / f
                            if _is_junk(f) or f in derived:
                                continue
                            if f.endswith(stale_suffixes):
                                r.auditor.add(
                                    "RS005",
                                    character=self.slug,
                                    file=r.rel(fp),
                                    message="stale derived file from an older annotation round",
                                    repair="not read",
                                )
                            else:
                                r.auditor.add(
                                    "RS006",
                                    character=self.slug,
                                    file=r.rel(fp),
                                    message="unknown derived file: not read",
                                )
                    continue
                r.auditor.add("RS006", character=self.slug, file=r.rel(p), message="unknown folder: not read")
                continue
            if entry in known or (p.suffix.lower() in IMAGE_EXTENSIONS and p.stem.isdigit()):
                continue
            r.auditor.add("RS006", character=self.slug, file=r.rel(p), message="unknown file: not read")

    def _grpo(self, full_profile: str, result: CharacterResult) -> str | None:
        r = self.reader
        ds = self.names.grpo_name
        gdir = self.layout.grpo_dir / ds
        if not gdir.is_dir():
            r.auditor.add(
                "RS007",
                character=self.slug,
                file=r.rel(gdir),
                message="no GRPO prompt folder for this character: no t2i_vqa items",
            )
            return None
        vqa_path = gdir / f"{ds}_pure_t2i_with_vqa.jsonl"
        pure_path = gdir / f"{ds}_pure_t2i.jsonl"
        prof_path = gdir / f"{ds}_full_profile.txt"
        if prof_path.is_file():
            if r.text(prof_path, self.slug).text != full_profile:
                r.auditor.add(
                    "RS205",
                    character=self.slug,
                    file=r.rel(prof_path),
                    message="GRPO copy of the full profile differs from the train profile",
                    repair="the train profile is used",
                )
        for entry in sorted(os.listdir(gdir)):
            p = gdir / entry
            if _is_junk(entry) or p.name in (vqa_path.name, pure_path.name, prof_path.name):
                continue
            if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and p.stem.isdigit():
                continue  # byte-identical copies of the train images (§1)
            r.auditor.add(
                "RS006",
                character=self.slug,
                file=r.rel(p),
                message="unknown file in the GRPO folder: not read",
            )

        def shapes(path: Path) -> Callable[[int], Shape]:
            return lambda lineno: Shape(path, lineno=lineno)

        rows: list[GrpoRow] = []
        if vqa_path.is_file():
            ctx = r.ctx(vqa_path, self.slug)
            rows = parse_grpo_lines(r.jsonl(vqa_path, self.slug), ctx, shapes(vqa_path), with_vqa=True)
        pure: list[GrpoRow] | None = None
        if pure_path.is_file():
            pctx = r.ctx(pure_path, self.slug)
            pure = parse_grpo_lines(r.jsonl(pure_path, self.slug), pctx, shapes(pure_path), with_vqa=False)
        if not vqa_path.is_file():
            if pure is None:
                r.auditor.add(
                    "RS007",
                    character=self.slug,
                    file=r.rel(gdir),
                    message="the GRPO folder has no prompt files: no t2i_vqa items",
                )
                return None
            r.auditor.add(
                "RS007",
                character=self.slug,
                file=r.rel(vqa_path),
                message="no _pure_t2i_with_vqa.jsonl: prompts taken from _pure_t2i.jsonl without vqa questions",
            )
            rows, ctx = pure, pctx
        elif pure is None:
            r.auditor.add(
                "RS007",
                character=self.slug,
                file=r.rel(pure_path),
                message="no _pure_t2i.jsonl to cross-check the prompts against",
            )
        else:
            self._grpo_cross_check(pctx, rows, pure)

        seen: dict[str, int] = {}
        fields = sorted({row.character for row in rows})
        for i, row in enumerate(rows):
            if row.scene_id in seen:
                raise InputError(
                    f"duplicate scene_id {row.scene_id!r} (first on line {seen[row.scene_id]})",
                    path=ctx.path,
                    where=f"{row.lineno}: $.scene_id",
                )
            seen[row.scene_id] = row.lineno
            if row.scene_id != str(i):
                ctx.add(
                    "RS610",
                    f"{row.lineno}: $.scene_id",
                    f"scene_id {row.scene_id!r} on prompt {i} (expected {str(i)!r})",
                )
            want_ref = f"dataset/personalized_t2i/{ds}"
            if row.reference_images_path != want_ref:
                ctx.add(
                    "RS610",
                    f"{row.lineno}: $.reference_images_path",
                    f"reference_images_path {row.reference_images_path!r} (expected {want_ref!r})",
                )
        for f in fields:
            if f != self.names.prefix:
                ctx.add(
                    "RS206",
                    "$.character",
                    f"GRPO character field {f!r} differs from the prefix {self.names.prefix!r}"
                    + (" (the folder name uses underscores)" if f != ds else ""),
                )
        prompts: list[GrpoPrompt] = []
        linenos: dict[str, int] = {}
        for row in rows:
            raw = row.vqa_questions or []
            audited = audit_vqa(ctx, row.lineno, row.scene_id, raw)
            linenos[row.scene_id] = row.lineno
            flag_field(ctx, f"{row.lineno}: $.text", row.text)
            prompts.append(
                GrpoPrompt(
                    character=self.slug,
                    scene_id=row.scene_id,
                    text=row.text,
                    character_field=row.character,
                    reference_images_path=row.reference_images_path,
                    vqa_questions_raw=raw,
                    vqa_questions=audited,
                )
            )
        audit_duplicate_prompts(ctx, prompts, linenos)
        audit_vqa_categories(ctx, prompts)
        result.grpo_prompts = prompts
        return fields[0] if len(fields) == 1 else (rows[0].character if rows else None)

    def _grpo_cross_check(self, ctx: FileCtx, rows: list[GrpoRow], pure: list[GrpoRow]) -> None:
        if len(pure) != len(rows):
            ctx.add("RS609", "", f"{len(pure)} prompts, but _pure_t2i_with_vqa.jsonl has {len(rows)}")
        for a, b in zip(rows, pure, strict=False):
            diffs = [
                k
                for k in ("text", "character", "scene_id", "reference_images_path")
                if getattr(a, k) != getattr(b, k)
            ]
            if diffs:
                ctx.add(
                    "RS609",
                    f"{b.lineno}",
                    f"prompt {a.scene_id}: {', '.join(diffs)} differ(s) from "
                    f"_pure_t2i_with_vqa.jsonl line {a.lineno}: {shorten(b.text, 50)!r} vs {shorten(a.text, 50)!r}",
                )


# ---------------------------------------------------------------------------------------- the release


def _character_folders(layout: Layout) -> list[str]:
    def dirs(split: str) -> set[str]:
        base = layout.data_dir / split
        return {e for e in os.listdir(base) if (base / e).is_dir() and not e.startswith(".")}

    train, test = dirs("train"), dirs("test")
    for split, names in (("train", train), ("test", test)):
        by_nfc: dict[str, str] = {}
        for name in sorted(names):
            other = by_nfc.setdefault(unicodedata.normalize("NFC", name), name)
            if other != name:
                raise InputError(
                    f"character folders {other!r} and {name!r} are the same name in two Unicode forms "
                    "(NFC/NFD); keep one",
                    path=layout.data_dir / split / name,
                )
    for name in sorted(train ^ test):
        present, absent = ("train", "test") if name in train else ("test", "train")
        raise InputError(
            f"character folder {name!r} is in {present}/ but not in {absent}/ (every character needs both)",
            path=layout.data_dir / absent / name,
        )
    if not train:
        raise InputError("no character folders in train/ and test/", path=layout.data_dir)
    return sorted(train)


def _junk_scan(
    layout: Layout, reader: Reader, folder_slug: dict[str, str], grpo_slug: dict[str, str]
) -> None:
    for base, mapping in ((layout.data_dir, folder_slug), (layout.grpo_dir, grpo_slug)):
        if not base.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames.sort()
            rel_parts = Path(dirpath).relative_to(base).parts
            char = None
            if base == layout.data_dir and len(rel_parts) >= 2:
                char = mapping.get(rel_parts[1])
            elif base == layout.grpo_dir and rel_parts:
                char = mapping.get(rel_parts[0])
            for f in sorted(filenames):
                if _is_junk(f):
                    reader.auditor.add(
                        "RS001",
                        character=char,
                        file=reader.rel(Path(dirpath) / f),
                        message=f"stray {f}",
                        repair="ignored",
                    )


DATASET_INFO_REL = "data/dataset_info.py"


def _dataset_info_entries(text: str) -> dict[str, dict[str, Any]] | None:
    """``{"group.name": entry}`` from the ``DATASET_INFO = {...}`` literal; None if there is none.

    The module is parsed with :mod:`ast` and only that dict literal is evaluated: nothing is executed.
    """
    import ast

    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    for node in tree.body:
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AnnAssign)
            else []
        )
        if (
            any(isinstance(t, ast.Name) and t.id == "DATASET_INFO" for t in targets)
            and node.value is not None
        ):
            try:
                info = ast.literal_eval(node.value)
            except ValueError:
                return None
            if not isinstance(info, dict):
                return None
            return {
                f"{group}.{name}": entry
                for group, entries in info.items()
                if isinstance(entries, dict)
                for name, entry in entries.items()
                if isinstance(entry, dict)
            }
    return None


def _count_samples(path: Path) -> int | None:
    """Lines of a JSONL file, or rows of the parquet files in a folder; None when it cannot be counted."""
    if path.is_file() and path.suffix == ".jsonl":
        with open(path, "rb") as f:
            return sum(1 for line in f if line.strip())
    if path.is_dir():
        chunks = sorted(x for x in path.iterdir() if x.is_file() and x.suffix == ".parquet")
        if not chunks:
            return None
        import pyarrow.parquet as pq

        try:
            return sum(pq.ParquetFile(c).metadata.num_rows for c in chunks)
        except Exception:  # a Git LFS pointer or a corrupt file: reported by the parquet cross-check
            return None
    return None


def _audit_dataset_info(layout: Layout, reader: Reader, folder_slug: dict[str, str]) -> None:
    """§1.3: ``data/dataset_info.py`` registers paths that do not exist and counts that disagree.

    The file is training-code configuration, not data: it is only checked, never used.
    """
    path = layout.root / DATASET_INFO_REL
    if not path.is_file():
        return
    entries = _dataset_info_entries(reader.text(path, None).text)
    if entries is None:
        reader.auditor.add(
            "RS013",
            character=None,
            file=DATASET_INFO_REL,
            message="no DATASET_INFO dict literal found: not checked",
        )
        return
    for name, entry in entries.items():
        rel = entry.get("jsonl_path") or entry.get("data_dir")
        if not isinstance(rel, str):
            continue
        parts = Path(rel).parts if "\x00" not in rel else ()
        char = None
        if len(parts) >= 5 and parts[:2] == ("data", "personalized_data"):
            char = folder_slug.get(parts[3])
        try:  # a path from a file: never looked up outside the source
            target = resolve_inside(layout.root, rel, what="registered path")
        except InputError as e:
            reader.auditor.add(
                "RS013", character=char, file=DATASET_INFO_REL, location=name, message=f"{name}: {e.detail}"
            )
            continue
        if not target.exists():
            reader.auditor.add(
                "RS013",
                character=char,
                file=DATASET_INFO_REL,
                location=name,
                message=f"{name}: registered path {rel!r} does not exist",
            )
            continue
        declared = entry.get("num_total_samples")
        actual = _count_samples(target)
        if isinstance(declared, int) and actual is not None and declared != actual:
            reader.auditor.add(
                "RS014",
                character=char,
                file=DATASET_INFO_REL,
                location=name,
                message=f"{name}: num_total_samples {declared}, but {rel} has {actual}",
            )


def _decode_images(
    jobs: list[ImageJob], progress: Progress | None
) -> tuple[list[ImageRecord], dict[str, bytes]]:
    def work(job: ImageJob) -> tuple[ImageJob, bytes, Any]:
        data = read_image_bytes(job.path)
        return job, data, inspect_image(job.path, data)

    records: list[ImageRecord] = []
    blobs: dict[str, bytes] = {}
    workers = max(1, min(8, os.cpu_count() or 1))
    total = len(jobs)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for done, (job, data, info) in enumerate(pool.map(work, jobs), 1):
            blobs[job.key] = data
            records.append(
                ImageRecord(
                    character=job.character,
                    split=job.split,
                    image_id=job.image_id,  # type: ignore[arg-type]
                    key=job.key,
                    source_path=job.rel,
                    sha256=info.sha256,
                    container=info.container,
                    extension_matches=info.extension_matches,
                    mode=info.mode,
                    width=info.width,
                    height=info.height,
                    has_alpha=info.has_alpha,
                    uses_transparency=info.uses_transparency,
                    n_bytes=info.n_bytes,
                )
            )
            if progress:
                progress("images", done, total)
    return records, blobs


def _id_key(s: str) -> tuple[Any, ...]:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s))


def parse_release(
    root: Path, *, progress: Progress | None = None, confine: Path | None = None
) -> ParsedRelease:
    """Parse, audit and repair the release at ``root`` (the repository root, or ``data/personalized_data``).

    Raises :class:`~rolescape.errors.InputError` (one line naming the file and the place) for input that
    cannot be built; everything that can be repaired or merely noted becomes a finding. Nothing outside
    ``confine`` (default: the repository root) is read: a symlink leaving it refuses the build.
    """
    gc_was_enabled = gc.isenabled()
    gc.disable()  # the parse allocates ~10^6 short-lived acyclic objects; collection passes only cost time
    try:
        return _parse_release(root, progress, confine)
    finally:
        if gc_was_enabled:
            gc.enable()


def _parse_release(root: Path, progress: Progress | None, confine: Path | None = None) -> ParsedRelease:
    layout = resolve_root(root)
    check_source_tree(
        layout.root, [layout.data_dir, layout.grpo_dir, layout.root / DATASET_INFO_REL], confine
    )
    auditor = Auditor()
    reader = Reader(layout, auditor)
    folders = _character_folders(layout)

    results: list[CharacterResult] = []
    slugs: dict[str, str] = {}
    for i, folder in enumerate(folders, 1):
        cp = CharacterParser(reader, layout, folder)
        if cp.slug in slugs.values():
            other = next(f for f, s in slugs.items() if s == cp.slug)
            raise InputError(
                f"character folders {other!r} and {folder!r} both map to the id {cp.slug!r}",
                path=layout.data_dir / "train" / folder,
            )
        slugs[folder] = cp.slug
        results.append(cp.parse())
        if progress:
            progress("characters", i, len(folders))

    # release-wide checks
    grpo_names = {r.character.grpo_name: r.character.id for r in results}
    if layout.grpo_dir.is_dir():
        for entry in sorted(os.listdir(layout.grpo_dir)):
            if (layout.grpo_dir / entry).is_dir() and entry not in grpo_names and not entry.startswith("."):
                auditor.add(
                    "RS011",
                    character=None,
                    file=reader.rel(layout.grpo_dir / entry),
                    message=f"GRPO folder {entry!r} matches no character folder",
                    repair="not read",
                )
    else:
        auditor.add(
            "RS007", character=None, file=GRPO_REL, message="no flow_grpo prompt folder: no t2i_vqa items"
        )
    copy = layout.root / "flow_grpo" / "data" / "personalized_data"
    if copy.is_dir():
        auditor.add(
            "RS009",
            character=None,
            file=reader.rel(copy),
            message="duplicate copy of data/personalized_data",
            repair="not read",
        )
    _audit_dataset_info(layout, reader, slugs)
    _junk_scan(layout, reader, slugs, grpo_names)
    reader.flush_newline_findings()

    jobs = [j for r in results for j in r.images]
    images, blobs = _decode_images(jobs, progress)
    for img in images:
        if not img.extension_matches:
            auditor.add(
                "RS101",
                character=img.character,
                file=img.source_path,
                message=f"{img.container} bytes in a {Path(img.source_path).suffix} file",
                repair="read by content; original bytes kept",
            )
        if img.uses_transparency:
            auditor.add(
                "RS102",
                character=img.character,
                file=img.source_path,
                message=f"{img.mode} image with transparent pixels",
                repair=None,
            )

    audit_test_train_duplicates(auditor, images, blobs)
    characters = sorted((r.character for r in results if r.character is not None), key=lambda c: c.id)
    scenes = sorted(
        (s for r in results for s in r.scenes), key=lambda s: (s.character, s.split, _id_key(s.scene_id))
    )
    dialogues = sorted(
        (d for r in results for d in r.dialogues), key=lambda d: (d.character, d.split, d.index)
    )
    kqa = sorted((q for r in results for q in r.knowledge_qa), key=lambda q: (q.character, _id_key(q.id)))
    mcq = sorted((m for r in results for m in r.knowledge_mcq), key=lambda m: (m.character, _id_key(m.id)))
    probes = sorted((p for r in results for p in r.probes), key=lambda p: (p.character, p.kind, p.index))
    grpo = sorted(
        (g for r in results for g in r.grpo_prompts), key=lambda g: (g.character, _id_key(g.scene_id))
    )
    images.sort(key=lambda im: (im.character, im.split, _id_key(im.image_id)))

    answer_key_bias(auditor, DATA_REL, "knowledge_mcq", [m.answer_key for m in mcq])
    answer_key_bias(auditor, DATA_REL, "visual_mcq", [m.answer_key for s in scenes for m in s.mcq_items])
    leakage = compute_leakage([c.id for c in characters], dialogues, kqa, mcq, probes)
    floors = compute_floors(mcq, scenes)
    if progress:
        progress("audit", 1, 1)
    return ParsedRelease(
        root=str(layout.root),
        characters=characters,
        images=images,
        image_bytes={k: blobs[k] for k in sorted(blobs)},
        scenes=scenes,
        dialogues=dialogues,
        knowledge_qa=kqa,
        knowledge_mcq=mcq,
        probes=probes,
        grpo_prompts=grpo,
        findings=auditor.findings(),
        leakage=leakage,
        floors=floors,
        files_read=sorted(reader.files_read),
    )


__all__ = ["parse_release", "resolve_root", "Layout", "Reader", "CharacterParser"]
