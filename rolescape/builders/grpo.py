"""The GRPO family: ``flow_grpo/dataset/personalized_t2i/<DsName>/`` (the t2i_vqa prompts).

:func:`read_grpo` is the entry point. ``_pure_t2i_with_vqa.jsonl`` is the source; ``_pure_t2i.jsonl``
is cross-checked against it (RS609), each prompt's VQA rows are audited (RS601-RS607) and repeated
prompts flagged (RS608). A character without the folder gets an RS007 finding and no t2i_vqa items.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from rolescape.builders.audit import (
    FileCtx,
    audit_duplicate_prompts,
    audit_vqa,
    audit_vqa_categories,
    flag_field,
)
from rolescape.builders.clean import shorten
from rolescape.builders.parsers import GrpoRow, parse_grpo_lines
from rolescape.builders.raw import IMAGE_EXTENSIONS, Shape
from rolescape.builders.reader import CharacterFiles, CharacterResult, is_junk
from rolescape.errors import InputError
from rolescape.schemas import GrpoPrompt


def read_grpo(cf: CharacterFiles, full_profile: str, result: CharacterResult) -> str | None:
    """Set ``result.grpo_prompts`` from the character's GRPO folder; return its ``character`` field
    (None when there is no GRPO folder or no prompt file, an RS007 finding)."""
    r = cf.reader
    ds = cf.names.grpo_name
    gdir = cf.layout.grpo_dir / ds
    if not gdir.is_dir():
        r.auditor.add(
            "RS007",
            character=cf.slug,
            file=r.rel(gdir),
            message="no GRPO prompt folder for this character: no t2i_vqa items",
        )
        return None
    vqa_path = gdir / f"{ds}_pure_t2i_with_vqa.jsonl"
    pure_path = gdir / f"{ds}_pure_t2i.jsonl"
    _check_folder(cf, gdir, full_profile, (vqa_path, pure_path))
    loaded = _load_rows(cf, gdir, vqa_path, pure_path)
    if loaded is None:
        return None
    rows, ctx = loaded
    fields = sorted({row.character for row in rows})
    _check_rows(cf, ctx, rows, fields)
    result.grpo_prompts = _prompts(cf, ctx, rows)
    return fields[0] if len(fields) == 1 else (rows[0].character if rows else None)


def _check_folder(cf: CharacterFiles, gdir: Path, full_profile: str, prompt_files: tuple[Path, Path]) -> None:
    """The GRPO copy of the full profile (RS205) and files the builder does not know (RS006)."""
    r = cf.reader
    prof_path = gdir / f"{cf.names.grpo_name}_full_profile.txt"
    if prof_path.is_file():
        if r.text(prof_path, cf.slug).text != full_profile:
            r.auditor.add(
                "RS205",
                character=cf.slug,
                file=r.rel(prof_path),
                message="GRPO copy of the full profile differs from the train profile",
                repair="the train profile is used",
            )
    for entry in sorted(os.listdir(gdir)):
        p = gdir / entry
        if is_junk(entry) or p.name in (prompt_files[0].name, prompt_files[1].name, prof_path.name):
            continue
        if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and p.stem.isdigit():
            continue  # byte-identical copies of the train images (§1)
        r.auditor.add(
            "RS006",
            character=cf.slug,
            file=r.rel(p),
            message="unknown file in the GRPO folder: not read",
        )


def _load_rows(
    cf: CharacterFiles, gdir: Path, vqa_path: Path, pure_path: Path
) -> tuple[list[GrpoRow], FileCtx] | None:
    """The prompt rows and the file they come from: ``_pure_t2i_with_vqa.jsonl``, else ``_pure_t2i.jsonl``
    (RS007); the two cross-checked when both exist (RS609). None when neither exists."""
    r = cf.reader

    def shapes(path: Path) -> Callable[[int], Shape]:
        return lambda lineno: Shape(path, lineno=lineno)

    rows: list[GrpoRow] = []
    if vqa_path.is_file():
        ctx = r.ctx(vqa_path, cf.slug)
        rows = parse_grpo_lines(r.jsonl(vqa_path, cf.slug), ctx, shapes(vqa_path), with_vqa=True)
    pure: list[GrpoRow] | None = None
    if pure_path.is_file():
        pctx = r.ctx(pure_path, cf.slug)
        pure = parse_grpo_lines(r.jsonl(pure_path, cf.slug), pctx, shapes(pure_path), with_vqa=False)
    if not vqa_path.is_file():
        if pure is None:
            r.auditor.add(
                "RS007",
                character=cf.slug,
                file=r.rel(gdir),
                message="the GRPO folder has no prompt files: no t2i_vqa items",
            )
            return None
        r.auditor.add(
            "RS007",
            character=cf.slug,
            file=r.rel(vqa_path),
            message="no _pure_t2i_with_vqa.jsonl: prompts taken from _pure_t2i.jsonl without vqa questions",
        )
        rows, ctx = pure, pctx
    elif pure is None:
        r.auditor.add(
            "RS007",
            character=cf.slug,
            file=r.rel(pure_path),
            message="no _pure_t2i.jsonl to cross-check the prompts against",
        )
    else:
        _grpo_cross_check(pctx, rows, pure)
    return rows, ctx


def _check_rows(cf: CharacterFiles, ctx: FileCtx, rows: list[GrpoRow], fields: list[str]) -> None:
    """Unique scene ids (an InputError), the expected scene_id / reference path (RS610), the
    character field against the prefix (RS206)."""
    ds = cf.names.grpo_name
    seen: dict[str, int] = {}
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
        if f != cf.names.prefix:
            ctx.add(
                "RS206",
                "$.character",
                f"GRPO character field {f!r} differs from the prefix {cf.names.prefix!r}"
                + (" (the folder name uses underscores)" if f != ds else ""),
            )


def _prompts(cf: CharacterFiles, ctx: FileCtx, rows: list[GrpoRow]) -> list[GrpoPrompt]:
    """One audited prompt per row (RS601-RS607 on its VQA rows, RS608 on repeated texts)."""
    prompts: list[GrpoPrompt] = []
    linenos: dict[str, int] = {}
    for row in rows:
        raw = row.vqa_questions or []
        audited = audit_vqa(ctx, row.lineno, row.scene_id, raw)
        linenos[row.scene_id] = row.lineno
        flag_field(ctx, f"{row.lineno}: $.text", row.text)
        prompts.append(
            GrpoPrompt(
                character=cf.slug,
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
    return prompts


def _grpo_cross_check(ctx: FileCtx, rows: list[GrpoRow], pure: list[GrpoRow]) -> None:
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
