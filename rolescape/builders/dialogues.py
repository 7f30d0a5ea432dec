"""The dialogue family: ``<P>_dialogue_text_extension_{train,test}.json``.

:func:`read_dialogues` is the entry point. Text-only turns that carry an image id are repaired
(RS301), repeated user inputs flagged (RS302), and the train file must end with the annotation scenes
in order (RS303).
"""

from __future__ import annotations

from pathlib import Path

from rolescape.builders.audit import audit_dialogue_duplicates, repair_field
from rolescape.builders.parsers import AnnotatedScene, ExtScene, parse_dialogue_ext
from rolescape.builders.raw import numeric_image_files
from rolescape.builders.reader import CharacterFiles, CharacterResult
from rolescape.schemas import DialogueScene


def read_dialogues(
    cf: CharacterFiles, ann_train: list[AnnotatedScene], result: CharacterResult
) -> list[ExtScene]:
    """Append both splits' dialogue scenes to ``result``; return the parsed train scenes (the derived
    VLM files are regenerated from them)."""
    ext_train = _split_dialogues(
        cf, "train", cf.required("train", "{P}_dialogue_text_extension_train.json"), ann_train, result
    )
    _split_dialogues(
        cf, "test", cf.required("train", "{P}_dialogue_text_extension_test.json"), ann_train, result
    )
    return ext_train


def _split_dialogues(
    cf: CharacterFiles, split: str, path: Path, ann_train: list[AnnotatedScene], result: CharacterResult
) -> list[ExtScene]:
    r = cf.reader
    obj, shape, ctx = r.json(path, cf.slug)
    header, scenes = parse_dialogue_ext(obj, ctx, shape)
    cf.check_header(ctx, header)
    originals = {(a.user_text, a.response) for a in ann_train}
    image_files = set(numeric_image_files(cf.train_dir))
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
                character=cf.slug,
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
