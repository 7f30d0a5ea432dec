"""The derived family: ``processed/t2i``, ``processed/vlm`` and the ``*_parquet/`` folders, and the stray files beside them.

:func:`check_derived` is the entry point. Derived files are never used as data: they are regenerated
from their sources and compared line by line (and the parquets row by row with the image bytes), so a
release whose derived files drifted from their sources says so (rolescape20-release.md §2.10-§2.13).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rolescape.builders.audit import compare_derived
from rolescape.builders.clean import shorten
from rolescape.builders.parsers import AnnotatedScene, ExtScene, expected_t2i_files, expected_vlm_files
from rolescape.builders.raw import IMAGE_EXTENSIONS, numeric_image_files
from rolescape.builders.reader import T2I_KINDS, TRAIN_FILES, VLM_KINDS, CharacterFiles, is_junk
from rolescape.schemas import KnowledgeQA


def check_derived(
    cf: CharacterFiles,
    ann_train: list[AnnotatedScene],
    ann_test: list[AnnotatedScene],
    ext_train: list[ExtScene],
    kqa: list[KnowledgeQA],
    t2i_by_split: dict[str, dict[str, str]],
) -> None:
    """Regenerate the ``processed/`` files from the sources and compare (RS203, RS007), then report the
    stale, unknown and junk files of both folders (RS005, RS006)."""
    _compare_derived_files(cf, ann_train, ann_test, ext_train, kqa, t2i_by_split)
    _scan_folder(cf, "train")
    _scan_folder(cf, "test")


def _compare_derived_files(
    cf: CharacterFiles,
    ann_train: list[AnnotatedScene],
    ann_test: list[AnnotatedScene],
    ext_train: list[ExtScene],
    kqa: list[KnowledgeQA],
    t2i_by_split: dict[str, dict[str, str]],
) -> None:
    r = cf.reader
    assert cf.header is not None
    P = cf.names.prefix
    for split, ann in (("train", ann_train), ("test", ann_test)):
        base = cf.train_dir if split == "train" else cf.test_dir
        t2i_dir = base / "processed" / "t2i"
        if not (base / "processed").is_dir():
            r.auditor.add(
                "RS007",
                character=cf.slug,
                file=r.rel(base / "processed"),
                message="no processed/ folder (derived files): nothing to cross-check",
            )
            continue
        expected = expected_t2i_files(P, cf.folder, split, cf.header.description, ann, t2i_by_split[split])
        _compare_all(cf, t2i_dir, expected)
        if split == "train":
            vlm = expected_vlm_files(P, cf.folder, cf.header, ann, ext_train, kqa)
            _compare_all(cf, base / "processed" / "vlm", vlm)
            _compare_parquets(cf, t2i_dir, expected, ann)


def _compare_parquets(
    cf: CharacterFiles, t2i_dir: Path, expected: dict[str, list[dict[str, Any]]], ann: list[AnnotatedScene]
) -> None:
    """§2.11: each ``<P>_<kind>_parquet/`` is its sibling .jsonl plus the raw image bytes.

    Checked row by row: ``image`` must be the bytes of the scene's image file and ``captions`` the
    JSON ``{"caption": <text>}`` of the regenerated line. Absent folders and Git LFS pointers (blobs
    not downloaded) are RS007; a mismatch or an unreadable file is RS203. Never used as data.
    """
    r = cf.reader
    images = numeric_image_files(cf.train_dir)
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
            ctx = r.ctx(chunk, cf.slug)
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
            _compare_parquet_rows(cf, rows, got, ann, images)
    if absent:
        r.auditor.add(
            "RS007",
            character=cf.slug,
            file=r.rel(t2i_dir),
            message=f"{len(absent)} derived parquet folder(s) absent: not cross-checked "
            f"({', '.join(absent[:2])}{' …' if len(absent) > 2 else ''})",
        )


def _compare_parquet_rows(
    cf: CharacterFiles,
    rows: list[dict[str, Any]],
    got: list[tuple[str, int, Any]],
    ann: list[AnnotatedScene],
    images: dict[str, Path],
) -> None:
    import json as _json

    r = cf.reader
    if not got:
        return
    first_file = got[0][0]
    if len(got) != len(rows):
        r.auditor.add(
            "RS203",
            character=cf.slug,
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
                "RS203", character=cf.slug, file=rel, location=f"row {i}", message="; ".join(problems)
            )


def _compare_all(cf: CharacterFiles, folder: Path, expected: dict[str, list[dict[str, Any]]]) -> None:
    r = cf.reader
    for name, rows in expected.items():
        p = folder / name
        if not p.is_file():
            r.auditor.add(
                "RS007",
                character=cf.slug,
                file=r.rel(p),
                message="derived file absent: not cross-checked",
            )
            continue
        lines = r.jsonl(p, cf.slug)
        compare_derived(r.ctx(p, cf.slug), rows, [(ln.lineno, ln.obj) for ln in lines])


def _scan_folder(cf: CharacterFiles, split: str) -> None:
    """Report stale, unknown and junk files in a character folder (never read)."""
    r = cf.reader
    base = cf.train_dir if split == "train" else cf.test_dir
    P = cf.names.prefix
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
        if is_junk(entry):
            continue  # reported by the release-wide junk scan
        if p.is_dir():
            if entry == "prompts" and split == "train":
                continue
            if entry == "processed":
                for sub in sorted(os.listdir(p)):
                    sp = p / sub
                    if is_junk(sub):
                        continue
                    if sub not in ("t2i", "vlm") or not sp.is_dir():
                        r.auditor.add(
                            "RS006",
                            character=cf.slug,
                            file=r.rel(sp),
                            message="unknown entry in processed/: not read",
                        )
                        continue
                    for f in sorted(os.listdir(sp)):
                        fp = sp / f
                        if is_junk(f) or f in derived:
                            continue
                        if f.endswith(stale_suffixes):
                            r.auditor.add(
                                "RS005",
                                character=cf.slug,
                                file=r.rel(fp),
                                message="stale derived file from an older annotation round",
                                repair="not read",
                            )
                        else:
                            r.auditor.add(
                                "RS006",
                                character=cf.slug,
                                file=r.rel(fp),
                                message="unknown derived file: not read",
                            )
                continue
            r.auditor.add("RS006", character=cf.slug, file=r.rel(p), message="unknown folder: not read")
            continue
        if entry in known or (p.suffix.lower() in IMAGE_EXTENSIONS and p.stem.isdigit()):
            continue
        r.auditor.add("RS006", character=cf.slug, file=r.rel(p), message="unknown file: not read")
