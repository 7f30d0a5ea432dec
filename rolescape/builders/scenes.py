"""The scene family: ``annotation.json``, ``<P>_with_image.json``, ``<P>_t2i_instruction.json`` and the images.

:func:`read_scenes` is the entry point: the annotation scenes (already parsed, they carry the header)
are joined with their with_image and t2i_instruction entries, every referenced image is queued for
decoding, and image files no scene references are reported (RS103).
"""

from __future__ import annotations

from pathlib import Path

from rolescape.builders.parsers import AnnotatedScene, parse_t2i_instruction, parse_with_image
from rolescape.builders.raw import numeric_image_files
from rolescape.builders.reader import CharacterFiles, CharacterResult, ImageJob
from rolescape.errors import InputError
from rolescape.schemas import Scene


def read_scenes(
    cf: CharacterFiles, annotations: dict[str, tuple[Path, list[AnnotatedScene]]], result: CharacterResult
) -> dict[str, dict[str, str]]:
    """Append the train and test scenes (and their image jobs) to ``result``; return the t2i
    instructions by split and image id."""
    t2i_by_split: dict[str, dict[str, str]] = {}
    for split in ("train", "test"):
        ann_path, ann = annotations[split]
        scenes, t2i_by_split[split] = _split_scenes(cf, split, ann_path, ann, result)
        result.scenes += scenes
    _unreferenced_images(cf, result)
    return t2i_by_split


def _split_scenes(
    cf: CharacterFiles,
    split: str,
    ann_path: Path,
    ann: list[AnnotatedScene],
    result: CharacterResult,
) -> tuple[list[Scene], dict[str, str]]:
    """One split's scenes, and its t2i instructions by image id (the derived files are regenerated from them)."""
    _image_jobs(cf, split, ann_path, ann, result)
    _join_with_image(cf, cf.required(split, "{P}_with_image.json"), ann)
    t2i_by_id = _t2i_instructions(cf, cf.required(split, "{P}_t2i_instruction.json"), ann)
    slug = cf.slug
    scenes = [
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
    return scenes, t2i_by_id


def _image_jobs(
    cf: CharacterFiles, split: str, ann_path: Path, ann: list[AnnotatedScene], result: CharacterResult
) -> None:
    """Image ids are unique and every referenced file exists (else an InputError); queue each for decoding."""
    r = cf.reader
    slug = cf.slug
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


def _join_with_image(cf: CharacterFiles, wi_path: Path, ann: list[AnnotatedScene]) -> None:
    """Copy thinking, generation instruction and visual QA/MCQ from ``<P>_with_image.json`` onto the
    annotation scenes; its texts must equal annotation.json's (RS202)."""
    obj, shape, ctx = cf.reader.json(wi_path, cf.slug)
    header, wi = parse_with_image(obj, ctx, shape)
    cf.check_header(ctx, header)
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


def _t2i_instructions(cf: CharacterFiles, t2i_path: Path, ann: list[AnnotatedScene]) -> dict[str, str]:
    """``<P>_t2i_instruction.json`` by image id: one per annotation scene (else an InputError), first wins."""
    ann_ids = [sc.image_id for sc in ann]
    obj, shape, ctx = cf.reader.json(t2i_path, cf.slug)
    header, t2i = parse_t2i_instruction(obj, ctx, shape)
    cf.check_header(ctx, header)
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
    return t2i_by_id


def _unreferenced_images(cf: CharacterFiles, result: CharacterResult) -> None:
    r = cf.reader
    referenced = {j.rel for j in result.images}
    for split, folder in (("train", cf.train_dir), ("test", cf.test_dir)):
        for _id, p in numeric_image_files(folder).items():
            if r.rel(p) not in referenced:
                r.auditor.add(
                    "RS103",
                    character=cf.slug,
                    file=r.rel(p),
                    message=f"{split} image {p.name} is not referenced by annotation.json",
                    repair="not built",
                )
