"""Parse, audit and repair a RoleScape-20 release (or a user's own character in its layout).

:func:`parse_release` reads ``<root>/data/personalized_data/{train,test}/<Folder>/`` and, when present,
``<root>/flow_grpo/dataset/personalized_t2i/<DsName>/``, and returns a :class:`ParsedRelease`.
This module holds the release-wide steps (character folders, junk, ``dataset_info.py``, image decoding,
sorting); one character is :class:`~rolescape.builders.character.CharacterParser`, which reads each
file family through its own module (scenes, dialogues, derived, grpo).

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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rolescape.builders.audit import Auditor, answer_key_bias, audit_test_train_duplicates
from rolescape.builders.character import CharacterParser
from rolescape.builders.confine import check_source_tree
from rolescape.builders.leakage import compute_floors, compute_leakage
from rolescape.builders.raw import inspect_image, read_image_bytes
from rolescape.builders.reader import (
    DATA_REL,
    GRPO_REL,
    CharacterResult,
    ImageJob,
    Layout,
    Reader,
    is_junk,
    resolve_root,
)
from rolescape.builders.release import ParsedRelease, Progress
from rolescape.errors import InputError
from rolescape.io import resolve_inside
from rolescape.schemas import ImageRecord

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
                if is_junk(f):
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
        if not isinstance(node, ast.Assign | ast.AnnAssign):
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
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


def _release_checks(
    layout: Layout, reader: Reader, slugs: dict[str, str], grpo_names: dict[str, str]
) -> None:
    """What no single character owns: orphan GRPO folders (RS011), the duplicate data copy (RS009),
    ``dataset_info.py`` (RS013/RS014), junk files (RS001) and the missing-final-newline summaries."""
    auditor = reader.auditor
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


def _image_findings(auditor: Auditor, images: list[ImageRecord]) -> None:
    """RS101 (the bytes are another format than the extension says) and RS102 (transparency)."""
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

    characters = [r.character for r in results if r.character is not None]  # parse() always sets it
    grpo_names = {c.grpo_name: c.id for c in characters}
    _release_checks(layout, reader, slugs, grpo_names)

    jobs = [j for r in results for j in r.images]
    images, blobs = _decode_images(jobs, progress)
    _image_findings(auditor, images)
    audit_test_train_duplicates(auditor, images, blobs)
    characters.sort(key=lambda c: c.id)
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
