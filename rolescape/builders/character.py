"""One character's assembly: its header, profiles, knowledge items and probes, and the file families.

:class:`CharacterParser` reads a character's train/ and test/ folders (and its GRPO folder) into a
:class:`~rolescape.builders.reader.CharacterResult`. The file families have a module each
(:mod:`~rolescape.builders.scenes`, :mod:`~rolescape.builders.dialogues`,
:mod:`~rolescape.builders.derived`, :mod:`~rolescape.builders.grpo`); what is left here is what only
the assembly needs: the annotation headers, the profiles, knowledge QA/MCQ and the probe lists
(:func:`build_probes`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rolescape.builders.audit import (
    FileCtx,
    ProfileIndex,
    audit_knowledge_qa,
    flag_field,
    repair_field,
)
from rolescape.builders.clean import (
    ANNOTATION_REF_RE,
    ProfileClean,
    clean_full_profile,
    clean_probe,
    clean_simplified_profile,
    normalize_text,
    probe_perspective,
    shorten,
)
from rolescape.builders.derived import check_derived
from rolescape.builders.dialogues import read_dialogues
from rolescape.builders.grpo import read_grpo
from rolescape.builders.naming import description_name, mentions
from rolescape.builders.parsers import (
    AnnotatedScene,
    parse_annotation,
    parse_knowledge_mcq,
    parse_knowledge_qa,
    parse_test_questions,
)
from rolescape.builders.raw import TextFile
from rolescape.builders.reader import TEST_FILES, TRAIN_FILES, CharacterFiles, CharacterResult
from rolescape.builders.scenes import read_scenes
from rolescape.schemas import Character, Probe


class CharacterParser(CharacterFiles):
    """Parse one character folder pair: ``CharacterParser(reader, layout, folder).parse()``."""

    def parse(self) -> CharacterResult:
        """Read every file of the character, in the order the findings and errors depend on."""
        ann_train_path, ann_train, ann_test_path, ann_test = self._annotations()
        full_profile, full_clean, simp_tf, simp_clean = self._profiles()
        test_profile_missing = self._check_test_profile(full_profile)

        result = CharacterResult()
        t2i_by_split = read_scenes(
            self, {"train": (ann_train_path, ann_train), "test": (ann_test_path, ann_test)}, result
        )
        ext_train = read_dialogues(self, ann_train, result)
        self._knowledge(full_profile, result)
        desc_name = self._probes(result)
        self._check_prompts()
        check_derived(self, ann_train, ann_test, ext_train, result.knowledge_qa, t2i_by_split)
        grpo_field = read_grpo(self, full_profile, result)

        assert self.header is not None
        r = self.reader
        self.names.add_alias(desc_name)
        self.names.add_alias(grpo_field)
        if not mentions(self.header.description, self.names.prefix):
            r.auditor.add(
                "RS206",
                character=self.slug,
                file=r.rel(ann_train_path),
                location="$.description",
                message=f"the description does not mention the prefix {self.names.prefix!r}"
                + (f" (it says {desc_name!r})" if desc_name else ""),
            )
        result.character = Character(
            id=self.slug,
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

    def _annotations(self) -> tuple[Path, list[AnnotatedScene], Path, list[AnnotatedScene]]:
        """Both annotation.json files (the train one sets the header) after every required file is checked."""
        r = self.reader
        ann_train_path = self.required("train", "annotation.json")
        obj, shape, ctx = r.json(ann_train_path, self.slug)
        self.header, ann_train = parse_annotation(obj, ctx, shape)
        self._flag_annotation(ctx, ann_train)
        for template in TRAIN_FILES.values():
            self.required("train", template)
        ann_test_path = self.required("test", "annotation.json")
        for template in TEST_FILES.values():
            self.required("test", template)
        obj, shape, ctx = r.json(ann_test_path, self.slug)
        header_test, ann_test = parse_annotation(obj, ctx, shape)
        self.check_header(ctx, header_test)
        self._flag_annotation(ctx, ann_test)
        return ann_train_path, ann_train, ann_test_path, ann_test

    @staticmethod
    def _flag_annotation(ctx: FileCtx, scenes: list[AnnotatedScene]) -> None:
        for sc in scenes:
            flag_field(ctx, f"{sc.jpath}[0].text", sc.user_text)
            flag_field(ctx, f"{sc.jpath}[1].text", sc.response)

    def _profiles(self) -> tuple[str, ProfileClean, TextFile, ProfileClean]:
        """The full and simplified profiles, raw and cleaned (RS506, RS505 for what the cleaning removed)."""
        r = self.reader
        full_path = self.path("train", TRAIN_FILES["full_profile"])
        simp_path = self.path("train", TRAIN_FILES["simplified_profile"])
        full_profile = r.text(full_path, self.slug).text
        full_clean = clean_full_profile(full_profile)
        simp_tf = r.text(simp_path, self.slug)
        simp_clean = clean_simplified_profile(simp_tf.text)
        for code, path, cleaned, what, target in (
            ("RS506", full_path, full_clean, "meta-text in the full profile", "full_profile_clean"),
            ("RS505", simp_path, simp_clean, "assistant chatter", "personality_profile"),
        ):
            for line, txt in cleaned.removed:
                r.auditor.add(
                    code,
                    character=self.slug,
                    file=r.rel(path),
                    location=f"{line}",
                    message=f"{what}: {shorten(txt, 70)!r}",
                    repair=f"removed from {target} (raw kept)",
                )
        return full_profile, full_clean, simp_tf, simp_clean

    def _knowledge(self, full_profile: str, result: CharacterResult) -> None:
        """Knowledge QA (train) and knowledge MCQ (eval), their evidence looked up in the full profile."""
        r = self.reader
        profile_index = ProfileIndex(full_profile)
        obj, shape, ctx = r.json(self.path("train", TRAIN_FILES["knowledge_qa"]), self.slug)
        header, kqa, kqa_locations = parse_knowledge_qa(obj, ctx, shape, self.slug, profile_index)
        self.check_header(ctx, header)
        audit_knowledge_qa(ctx, kqa, kqa_locations)
        result.knowledge_qa = kqa
        obj, shape, ctx = r.json(self.path("train", TRAIN_FILES["knowledge_qa_test"]), self.slug)
        header, mcq = parse_knowledge_mcq(obj, ctx, shape, self.slug, profile_index)
        self.check_header(ctx, header)
        result.knowledge_mcq = mcq

    def _probes(self, result: CharacterResult) -> str | None:
        """Memorization and personality probes; returns the name the description uses (an alias)."""
        assert self.header is not None
        desc_name = description_name(self.header.description, self.names.prefix)
        probe_names = [n for n in (self.names.prefix, desc_name) if n]
        for kind in ("memorization", "personality"):
            obj, shape, ctx = self.reader.json(self.path("train", TRAIN_FILES[kind]), self.slug)
            header, questions = parse_test_questions(obj, ctx, shape)
            self.check_header(ctx, header)
            result.probes += build_probes(ctx, self.slug, kind, questions, "test_questions", probe_names)
        return desc_name

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


# ------------------------------------------------------------------------------------------- probes


def build_probes(
    ctx: FileCtx,
    character: str,
    kind: str,
    questions: Sequence[str],
    key: str,
    names: Sequence[str] = (),
) -> list[Probe]:
    """Clean a memorization/personality list: strip markdown and quotes, drop meta lines and duplicates.

    ``names`` are the character's names (prefix, the name the description uses): with them, memorization
    questions in the third person (RS508) or inverted into the first person (RS507) are flagged.
    """
    probes: list[Probe] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(questions):
        loc = f"$.{key}[{i}]"
        pt = clean_probe(raw)
        text = repair_field(ctx, loc, pt.text)
        flags = list(pt.flags)
        usable = True
        duplicate_of = None
        if pt.meta_reason:
            usable = False
            ctx.add(
                "RS501",
                loc,
                f"{kind} item {i} is {pt.meta_reason} text, not a user input: {shorten(raw, 70)!r}",
                repair="usable=False",
            )
        md = [f for f in ("blockquote", "numbered", "bold", "italic") if f in flags]
        if md:
            ctx.add(
                "RS502",
                loc,
                f"{kind} item {i}: markdown ({', '.join(md)}) stripped",
                repair=f"text={shorten(text, 60)!r}",
            )
        if "quoted" in flags:
            ctx.add(
                "RS503",
                loc,
                f"{kind} item {i}: wrapping quotes stripped",
                repair=f"text={shorten(text, 60)!r}",
            )
        if usable and kind == "memorization":
            persp = probe_perspective(text, list(names))
            if persp == "first-person":
                flags.append("first-person")
                ctx.add(
                    "RS507",
                    loc,
                    f"{kind} item {i} asks about the character in the first person: {shorten(text, 60)!r}",
                )
            elif persp == "third-person":
                flags.append("third-person")
                ctx.add(
                    "RS508",
                    loc,
                    f"{kind} item {i} is a third-person quiz question, not addressed to the character: "
                    f"{shorten(text, 60)!r}",
                )
        ref = ANNOTATION_REF_RE.search(text) if usable else None
        if ref is not None:
            flags.append("annotation-reference")
            ctx.add(
                "RS509",
                loc,
                f"{kind} item {i} refers to the annotation material ({ref.group(0)!r}): {shorten(text, 60)!r}",
            )
        if usable:
            nk = normalize_text(text)
            if nk in seen:
                usable = False
                duplicate_of = seen[nk]
                flags.append("duplicate")
                ctx.add(
                    "RS504",
                    loc,
                    f"{kind} item {i} repeats item {seen[nk]} after normalisation: {shorten(text, 60)!r}",
                    repair=f"usable=False, duplicate_of={seen[nk]}",
                )
            else:
                seen[nk] = i
        probes.append(
            Probe(
                character=character,
                kind=kind,
                index=i,
                raw=raw,
                text=text,
                flags=sorted(flags),
                usable=usable,
                duplicate_of=duplicate_of,
            )
        )
    return probes
