"""The audit rule catalogue, the Auditor that collects findings, and the item-level audits.

Every problem the builder detects in a release becomes a :class:`~rolescape.schemas.Finding` with a
stable rule code from :data:`RULES`. Severity policy:

* ``error``: the data is wrong in a way that changes an evaluation or training target (meta-text in an
  eval list, conflicting duplicates, hallucinated image ids, invalid VQA rows, a derived file that does
  not match its sources, a corrupted key, a missing test profile, …);
* ``warning``: a repaired cosmetic problem that could still bite (JPEG named .png, int options, glued
  digits, CJK glue, duplicates);
* ``info``: facts (transparency, CRLF, .DS_Store, stale files).

The catalogue (code, name, severity). Codes are stable: new rules get new codes, retired codes are
never reused.

====== ============================== ======== ==========================================================
code   name                           severity summary
====== ============================== ======== ==========================================================
RS001  os-junk-file                   info     .DS_Store / Thumbs.db / ._* file: ignored
RS002  crlf-line-endings              info     CRLF line endings: read as LF
RS003  no-final-newline               info     text files without a final newline (one summary per folder)
RS004  blank-jsonl-line               info     blank line inside a JSONL file: skipped
RS005  stale-file                     info     stale derived file (*_full.jsonl, *_full_new.jsonl, *_t2i_full.jsonl): never read
RS006  unknown-file                   info     file the builder does not know: not read
RS007  optional-input-missing         info     an optional input is absent (GRPO prompts, processed/ files)
RS008  utf8-bom                       info     UTF-8 byte-order mark: removed
RS009  duplicate-copy                 info     flow_grpo/data/personalized_data (a copy of data/): not read
RS010  prefix-detected                info     file prefix differs from the folder-name rule: detected prefix used
RS011  orphan-grpo-folder             warning  GRPO prompt folder that matches no character: not read
RS012  prompt-unescaped-quotes        info     description/opening with double quotes pasted raw into the dialogue-extension prompt (breaks its JSON)
RS013  dataset-info-path-missing      warning  data/dataset_info.py registers a path that does not exist in the release
RS014  dataset-info-count-mismatch    warning  data/dataset_info.py num_total_samples differs from the file's real count
RS101  image-container-mismatch       warning  the bytes are another format than the extension says (JPEG in .png)
RS102  image-transparency             info     image uses transparency: composited onto white at scoring time
RS103  image-unreferenced             warning  image file that no scene references: not built
RS104  test-image-duplicates-train    warning  test image is a near-duplicate of one of the character's train images: kept, listed
RS201  header-mismatch                error    description/opening differ across a character's files
RS202  scene-mismatch                 error    with_image / t2i_instruction disagree with annotation.json
RS203  derived-mismatch               error    processed/*.jsonl differs from what its sources regenerate
RS204  test-profile-missing           error    test/<P>_full_profile.txt is missing: the train profile is used
RS205  profile-copy-differs           warning  a copy of the full profile (test/, flow_grpo) differs from train
RS206  name-inconsistency             info     GRPO character field / description name differ from folder and prefix
RS207  extra-key                      info     unexpected key: kept in `extra` where the record has one
RS208  int-option                     warning  MCQ option value is a number: coerced to a string
RS301  hallucinated-image-id          error    `image` key on a text-only dialogue-extension turn: dropped
RS302  dialogue-duplicate-user        warning  user input repeated within a dialogue-extension file (normalised)
RS303  ext-originals-mismatch         warning  ext-train does not end with the annotation scenes
RS401  kqa-duplicate                  warning  duplicate knowledge question (exact or normalised): duplicate_of set
RS402  kqa-conflicting-duplicate      error    duplicate knowledge questions with different answers
RS403  kqa-type-not-allowed           warning  knowledge QA type outside the 14 the prompt allows
RS404  evidence-list                  info     evidence given as a list (the prompt asked for a string)
RS405  kqa-reasoning-steps            warning  reasoning_steps missing (-> []) or a string (-> [str])
RS406  corrupted-key                  error    corrupted key name (e.g. reason游戏副本_steps): used as the real key
RS407  evidence-not-verbatim          info     evidence is not a verbatim substring of the profile, but matches after normalisation
RS408  evidence-not-in-profile        warning  evidence not found in the profile even after normalisation
RS409  mcq-duplicate-options          error    two MCQ options with the same text
RS410  mcq-answer-key-bias            info     one answer letter holds more than 40% of an MCQ set's keys
RS501  probe-meta-text                error    preamble / rationale / rubric line in a probe list: not usable
RS502  probe-markdown                 warning  bold / list number / blockquote / italics in a probe: stripped
RS503  probe-quote-wrapped            warning  probe wrapped in quotes: stripped
RS504  probe-duplicate                warning  probe repeated after normalisation: not usable
RS505  profile-chatter                warning  assistant chatter in the simplified profile: removed in the cleaned text
RS506  full-profile-meta              warning  chatter / captioning meta-text in the full profile: removed in the cleaned text
RS507  probe-first-person             warning  memorization question inverted into the character's first person ("What is my name?"): kept, flagged
RS508  probe-third-person             info     memorization question is a third-person quiz about the character, not addressed to it: kept, flagged
RS509  probe-annotation-reference     info     probe points at the annotation material ("In image scene 11", "dialogue excerpt"): kept, flagged
RS601  vqa-duplicate-rows             warning  exact duplicate vqa rows within a prompt: removed (first kept)
RS602  vqa-conflicting-answers        error    same question, different answers within a prompt: all its rows dropped
RS603  vqa-yes-no-answer              error    yes_no row answered other than yes/no: dropped
RS604  vqa-mc-answer-not-in-choices   error    multiple_choice answer outside its choices: dropped
RS605  vqa-choices-on-non-mc          warning  `choices` on a non-multiple-choice row: kept
RS606  vqa-long-answer                warning  answer longer than 3 words (BLIP exact match can never hit it): kept
RS607  vqa-negative-yes               warning  is_negative yes_no row answered "yes": kept
RS608  grpo-duplicate-prompt          warning  the same GRPO prompt text twice: duplicate_text_of set
RS609  grpo-pure-mismatch             error    _pure_t2i.jsonl differs from _pure_t2i_with_vqa.jsonl
RS610  grpo-field-mismatch            warning  GRPO scene_id / reference_images_path not as expected
RS611  vqa-category-variant           info     one vqa category spelled two ways in a prompt file (relationship / relationships)
RS701  cjk-glued                      warning  CJK run glued to Latin letters: removed (or spaced before a gloss)
RS702  glued-number                   warning  missing space around a number: inserted
====== ============================== ======== ==========================================================
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rolescape.builders.clean import (
    CJK_GLUE_RE,
    TextFix,
    evidence_parts,
    normalize_evidence,
    normalize_text,
    repair_text,
    shorten,
)
from rolescape.errors import InputError
from rolescape.schemas import Finding, GrpoPrompt, KnowledgeQA, VQAQuestion
from rolescape.schemas.base import Severity


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    severity: Severity
    summary: str


def _rules(*rows: tuple[str, str, Severity, str]) -> dict[str, Rule]:
    return {code: Rule(code, name, sev, summary) for code, name, sev, summary in rows}


RULES: dict[str, Rule] = _rules(
    ("RS001", "os-junk-file", "info", ".DS_Store / Thumbs.db / ._* file: ignored"),
    ("RS002", "crlf-line-endings", "info", "CRLF line endings: read as LF"),
    ("RS003", "no-final-newline", "info", "text files without a final newline (one summary per folder)"),
    ("RS004", "blank-jsonl-line", "info", "blank line inside a JSONL file: skipped"),
    (
        "RS005",
        "stale-file",
        "info",
        "stale derived file (*_full.jsonl, *_full_new.jsonl, *_t2i_full.jsonl): never read",
    ),
    ("RS006", "unknown-file", "info", "file the builder does not know: not read"),
    (
        "RS007",
        "optional-input-missing",
        "info",
        "an optional input is absent (GRPO prompts, processed/ files)",
    ),
    ("RS008", "utf8-bom", "info", "UTF-8 byte-order mark: removed"),
    ("RS009", "duplicate-copy", "info", "flow_grpo/data/personalized_data (a copy of data/): not read"),
    (
        "RS010",
        "prefix-detected",
        "info",
        "file prefix differs from the folder-name rule: detected prefix used",
    ),
    ("RS011", "orphan-grpo-folder", "warning", "GRPO prompt folder that matches no character: not read"),
    (
        "RS012",
        "prompt-unescaped-quotes",
        "info",
        "description/opening with double quotes pasted raw into the dialogue-extension prompt (breaks its JSON)",
    ),
    (
        "RS013",
        "dataset-info-path-missing",
        "warning",
        "data/dataset_info.py registers a path that does not exist in the release",
    ),
    (
        "RS014",
        "dataset-info-count-mismatch",
        "warning",
        "data/dataset_info.py num_total_samples differs from the file's real count",
    ),
    (
        "RS101",
        "image-container-mismatch",
        "warning",
        "the bytes are another format than the extension says (JPEG in .png)",
    ),
    ("RS102", "image-transparency", "info", "image uses transparency: composited onto white at scoring time"),
    ("RS103", "image-unreferenced", "warning", "image file that no scene references: not built"),
    (
        "RS104",
        "test-image-duplicates-train",
        "warning",
        "test image is a near-duplicate of one of the character's train images: kept, listed",
    ),
    ("RS201", "header-mismatch", "error", "description/opening differ across a character's files"),
    ("RS202", "scene-mismatch", "error", "with_image / t2i_instruction disagree with annotation.json"),
    ("RS203", "derived-mismatch", "error", "processed/*.jsonl differs from what its sources regenerate"),
    (
        "RS204",
        "test-profile-missing",
        "error",
        "test/<P>_full_profile.txt is missing: the train profile is used",
    ),
    (
        "RS205",
        "profile-copy-differs",
        "warning",
        "a copy of the full profile (test/, flow_grpo) differs from train",
    ),
    (
        "RS206",
        "name-inconsistency",
        "info",
        "GRPO character field / description name differ from folder and prefix",
    ),
    ("RS207", "extra-key", "info", "unexpected key: kept in `extra` where the record has one"),
    ("RS208", "int-option", "warning", "MCQ option value is a number: coerced to a string"),
    (
        "RS301",
        "hallucinated-image-id",
        "error",
        "`image` key on a text-only dialogue-extension turn: dropped",
    ),
    (
        "RS302",
        "dialogue-duplicate-user",
        "warning",
        "user input repeated within a dialogue-extension file (normalised)",
    ),
    ("RS303", "ext-originals-mismatch", "warning", "ext-train does not end with the annotation scenes"),
    (
        "RS401",
        "kqa-duplicate",
        "warning",
        "duplicate knowledge question (exact or normalised): duplicate_of set",
    ),
    ("RS402", "kqa-conflicting-duplicate", "error", "duplicate knowledge questions with different answers"),
    ("RS403", "kqa-type-not-allowed", "warning", "knowledge QA type outside the 14 the prompt allows"),
    ("RS404", "evidence-list", "info", "evidence given as a list (the prompt asked for a string)"),
    ("RS405", "kqa-reasoning-steps", "warning", "reasoning_steps missing (-> []) or a string (-> [str])"),
    (
        "RS406",
        "corrupted-key",
        "error",
        "corrupted key name (e.g. reason游戏副本_steps): used as the real key",
    ),
    (
        "RS407",
        "evidence-not-verbatim",
        "info",
        "evidence is not a verbatim substring of the profile, but matches after normalisation",
    ),
    (
        "RS408",
        "evidence-not-in-profile",
        "warning",
        "evidence not found in the profile even after normalisation",
    ),
    ("RS409", "mcq-duplicate-options", "error", "two MCQ options with the same text"),
    ("RS410", "mcq-answer-key-bias", "info", "one answer letter holds more than 40% of an MCQ set's keys"),
    ("RS501", "probe-meta-text", "error", "preamble / rationale / rubric line in a probe list: not usable"),
    ("RS502", "probe-markdown", "warning", "bold / list number / blockquote / italics in a probe: stripped"),
    ("RS503", "probe-quote-wrapped", "warning", "probe wrapped in quotes: stripped"),
    ("RS504", "probe-duplicate", "warning", "probe repeated after normalisation: not usable"),
    (
        "RS505",
        "profile-chatter",
        "warning",
        "assistant chatter in the simplified profile: removed in the cleaned text",
    ),
    (
        "RS506",
        "full-profile-meta",
        "warning",
        "chatter / captioning meta-text in the full profile: removed in the cleaned text",
    ),
    (
        "RS507",
        "probe-first-person",
        "warning",
        'memorization question inverted into the character\'s first person ("What is my name?"): kept, flagged',
    ),
    (
        "RS508",
        "probe-third-person",
        "info",
        "memorization question is a third-person quiz about the character, not addressed to it: kept, flagged",
    ),
    (
        "RS509",
        "probe-annotation-reference",
        "info",
        'probe points at the annotation material ("In image scene 11", "dialogue excerpt"): kept, flagged',
    ),
    (
        "RS601",
        "vqa-duplicate-rows",
        "warning",
        "exact duplicate vqa rows within a prompt: removed (first kept)",
    ),
    (
        "RS602",
        "vqa-conflicting-answers",
        "error",
        "same question, different answers within a prompt: all its rows dropped",
    ),
    ("RS603", "vqa-yes-no-answer", "error", "yes_no row answered other than yes/no: dropped"),
    ("RS604", "vqa-mc-answer-not-in-choices", "error", "multiple_choice answer outside its choices: dropped"),
    ("RS605", "vqa-choices-on-non-mc", "warning", "`choices` on a non-multiple-choice row: kept"),
    (
        "RS606",
        "vqa-long-answer",
        "warning",
        "answer longer than 3 words (BLIP exact match can never hit it): kept",
    ),
    ("RS607", "vqa-negative-yes", "warning", 'is_negative yes_no row answered "yes": kept'),
    ("RS608", "grpo-duplicate-prompt", "warning", "the same GRPO prompt text twice: duplicate_text_of set"),
    ("RS609", "grpo-pure-mismatch", "error", "_pure_t2i.jsonl differs from _pure_t2i_with_vqa.jsonl"),
    ("RS610", "grpo-field-mismatch", "warning", "GRPO scene_id / reference_images_path not as expected"),
    (
        "RS611",
        "vqa-category-variant",
        "info",
        "one vqa category spelled two ways in a prompt file (relationship / relationships)",
    ),
    ("RS701", "cjk-glued", "warning", "CJK run glued to Latin letters: removed (or spaced before a gloss)"),
    ("RS702", "glued-number", "warning", "missing space around a number: inserted"),
)

RULES_BY_NAME: dict[str, Rule] = {r.name: r for r in RULES.values()}

# The 14 knowledge-QA types the generation prompt allows (rolescape20-release.md §2.12).
ALLOWED_KQA_TYPES: frozenset[str] = frozenset(
    {
        "fact",
        "definition",
        "list",
        "reasoning",
        "comparison",
        "timeline",
        "procedure",
        "numeric",
        "quote",
        "location",
        "role",
        "capability",
        "limitation",
        "preference",
    }
)


def _natural(s: str) -> tuple[Any, ...]:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s))


def finding_sort_key(f: Finding) -> tuple[Any, ...]:
    return (f.character or "", f.file, _natural(f.location), f.code, f.message)


class Auditor:
    """Collects findings; :meth:`findings` returns them sorted by (character, file, location, code)."""

    def __init__(self) -> None:
        self._items: list[Finding] = []

    def add(
        self,
        code: str,
        *,
        character: str | None,
        file: str,
        location: str = "",
        message: str,
        repair: str | None = None,
    ) -> Finding:
        rule = RULES[code]
        f = Finding(
            code=code,
            rule=rule.name,
            severity=rule.severity,
            character=character,
            file=file,
            location=location,
            message=message,
            repair=repair,
        )
        self._items.append(f)
        return f

    def findings(self) -> list[Finding]:
        uniq = {f.model_dump_json(): f for f in self._items}
        return sorted(uniq.values(), key=finding_sort_key)

    def count(self, code: str, character: str | None = None) -> int:
        return sum(
            1 for f in self._items if f.code == code and (character is None or f.character == character)
        )

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class FileCtx:
    """Where findings about one file go: the auditor, the character slug and the release-relative path."""

    auditor: Auditor
    character: str | None
    file: str  # release-relative posix path, used in findings
    path: Path  # absolute path, used in InputError messages

    def add(self, code: str, location: str, message: str, repair: str | None = None) -> Finding:
        return self.auditor.add(
            code, character=self.character, file=self.file, location=location, message=message, repair=repair
        )


# ------------------------------------------------------------------------------------- text repairs


def _report_fixes(ctx: FileCtx, location: str, fixes: Sequence[TextFix], applied: bool) -> None:
    for fx in fixes:
        code = "RS701" if fx.kind == "cjk-glue" else "RS702"
        what = "CJK run glued to Latin letters" if code == "RS701" else "missing space around a number"
        repair = f"{fx.describe()} (raw text kept)" if applied else None
        suffix = "" if applied else "; not repaired in this field (kept verbatim)"
        ctx.add(code, location, f"{what}: {shorten(fx.before, 60)!r}{suffix}", repair)


def repair_field(ctx: FileCtx, location: str, text: str) -> str:
    """Repair CJK glue and glued numbers in a field whose raw text is kept; record each repair."""
    fixed, fixes = repair_text(text)
    _report_fixes(ctx, location, fixes, applied=True)
    return fixed


def flag_field(ctx: FileCtx, location: str, text: str) -> None:
    """Record CJK glue / glued numbers in a field that is kept verbatim (no raw sibling to keep)."""
    _fixed, fixes = repair_text(text)
    _report_fixes(ctx, location, fixes, applied=False)


def has_cjk_glue(text: str) -> bool:
    return CJK_GLUE_RE.search(text) is not None


# ------------------------------------------------------------------------------------------ evidence


class ProfileIndex:
    """A profile and its normalised form, for evidence look-ups."""

    def __init__(self, profile: str):
        self.raw = profile
        self.norm = normalize_evidence(profile)

    def status(self, evidence: Iterable[str]) -> str:
        """``verbatim`` (every string is a raw substring), ``normalised`` or ``missing``."""
        ev = [e for e in evidence if e.strip()]
        if not ev:
            return "missing"
        if all(e.strip() in self.raw for e in ev):
            return "verbatim"
        if all(all(p in self.norm for p in evidence_parts(e)) and evidence_parts(e) for e in ev):
            return "normalised"
        return "missing"


def report_evidence(ctx: FileCtx, location: str, item_id: str, status: str, evidence: Sequence[str]) -> None:
    if status == "normalised":
        ctx.add(
            "RS407",
            location,
            f"{item_id}: evidence matches the profile only after normalisation: "
            f"{shorten(' | '.join(evidence), 70)!r}",
        )
    elif status == "missing":
        ctx.add(
            "RS408",
            location,
            f"{item_id}: evidence not found in the profile: {shorten(' | '.join(evidence), 70)!r}",
        )


# ------------------------------------------------------------------------------------- knowledge QA


def audit_knowledge_qa(ctx: FileCtx, items: list[KnowledgeQA], locations: dict[str, str]) -> None:
    """Mark duplicate questions (exact or normalised) and conflicting duplicate groups, in place."""
    groups: dict[str, list[KnowledgeQA]] = defaultdict(list)
    for it in items:
        groups[normalize_text(it.question_raw)].append(it)
    for members in groups.values():
        if len(members) < 2:
            continue
        first = members[0]
        for dup in members[1:]:
            dup.duplicate_of = first.id
            how = "exact" if dup.question_raw == first.question_raw else "after normalisation"
            ctx.add(
                "RS401",
                locations[dup.id],
                f"{dup.id}: question repeats {first.id} ({how}): {shorten(dup.question_raw, 60)!r}",
                repair=f"duplicate_of={first.id}",
            )
        answers = {normalize_text(m.answer) for m in members}
        if len(answers) > 1:
            for m in members:
                m.conflicting_duplicate = True
            detail = "; ".join(f"{m.id}: {shorten(m.answer, 40)!r}" for m in members)
            ctx.add(
                "RS402",
                locations[first.id],
                f"question {shorten(first.question_raw, 50)!r} has "
                f"{len(members)} copies with different answers: {detail}",
                repair="conflicting_duplicate=True on every copy",
            )


def answer_key_bias(
    auditor: Auditor, file: str, label: str, keys: Sequence[str], threshold: float = 0.4
) -> dict[str, int]:
    """Record RS410 when one letter holds more than ``threshold`` of the keys; return the distribution."""
    dist = Counter(keys)
    n = sum(dist.values())
    if n >= 8:
        letter, top = max(sorted(dist.items()), key=lambda kv: kv[1])
        if top / n > threshold:
            shown = ", ".join(f"{k} {dist.get(k, 0)}" for k in "ABCD")
            auditor.add(
                "RS410",
                character=None,
                file=file,
                location=label,
                message=f"{label}: answer key {letter} in {top}/{n} items ({shown}); see the constant-answer floors",
            )
    return {k: dist.get(k, 0) for k in "ABCD"}


def mcq_duplicate_options(ctx: FileCtx, location: str, item_id: str, options: dict[str, str]) -> None:
    seen: dict[str, str] = {}
    for letter in "ABCD":
        key = normalize_text(options[letter])
        if key in seen:
            ctx.add(
                "RS409",
                location,
                f"{item_id}: options {seen[key]} and {letter} are the same: {shorten(options[letter], 40)!r}",
            )
        else:
            seen[key] = letter


# ---------------------------------------------------------------------------------------- dialogue


def audit_dialogue_duplicates(ctx: FileCtx, user_texts: Sequence[str], key: str = "scenes") -> None:
    seen: dict[str, int] = {}
    for i, u in enumerate(user_texts):
        nk = normalize_text(u)
        if nk in seen:
            ctx.add(
                "RS302",
                f"$.{key}[{i}][0].text",
                f"user input of scene {i} repeats scene {seen[nk]}: {shorten(u, 60)!r}",
            )
        else:
            seen[nk] = i


# ---------------------------------------------------------------------------------------- GRPO VQA

_WORDS = re.compile(r"\S+")


def _vqa_key(q: VQAQuestion) -> tuple[Any, ...]:
    extra = tuple(sorted((k, repr(v)) for k, v in q.extra.items()))
    return (
        q.question,
        q.type,
        q.category,
        q.answer,
        q.weight,
        q.is_negative,
        None if q.choices is None else tuple(q.choices),
        extra,
    )


def audit_vqa(ctx: FileCtx, lineno: int, scene_id: str, rows: Sequence[VQAQuestion]) -> list[VQAQuestion]:
    """The audited vqa list of one GRPO prompt (rolescape20-release.md §4.7).

    Exact duplicate rows are removed (first kept); every row of a question that has conflicting answers
    is dropped; yes_no rows answered other than yes/no and multiple_choice rows whose answer is not one
    of their choices are dropped. Choices on non-MC rows, answers over 3 words and negative yes_no rows
    answered "yes" are flagged and kept. The raw list is kept by the caller.
    """
    where = f"{lineno}: $.vqa_questions"
    # 1. exact duplicates
    seen: set[tuple[Any, ...]] = set()
    uniq: list[tuple[int, VQAQuestion]] = []
    n_dup = 0
    for j, q in enumerate(rows):
        k = _vqa_key(q)
        if k in seen:
            n_dup += 1
            continue
        seen.add(k)
        uniq.append((j, q))
    if n_dup:
        ctx.add(
            "RS601",
            f"{lineno}",
            f"prompt {scene_id}: {n_dup} of {len(rows)} vqa rows are exact duplicates",
            repair=f"removed {n_dup} rows (first copy kept)",
        )
    # 2. conflicts: the same question (normalised) with different answers
    answers: dict[str, set[str]] = defaultdict(set)
    for _j, q in uniq:
        answers[normalize_text(q.question)].add(q.answer.strip().lower())
    conflicted = {k for k, v in answers.items() if len(v) > 1}
    reported: set[str] = set()
    out: list[VQAQuestion] = []
    for j, q in uniq:
        loc = f"{where}[{j}]"
        nq = normalize_text(q.question)
        ans = q.answer.strip().lower()
        if nq in conflicted:
            if nq not in reported:
                reported.add(nq)
                ctx.add(
                    "RS602",
                    loc,
                    f"prompt {scene_id}: {shorten(q.question, 50)!r} has conflicting answers "
                    f"{sorted(answers[nq])}",
                    repair="every row of this question dropped from the audited list",
                )
            continue
        if q.type == "yes_no" and ans not in ("yes", "no"):
            ctx.add(
                "RS603",
                loc,
                f"prompt {scene_id}: yes_no question answered {q.answer!r}: {shorten(q.question, 50)!r}",
                repair="dropped from the audited list",
            )
            continue
        if q.type == "multiple_choice":
            choices = [c.strip().lower() for c in (q.choices or [])]
            if ans not in choices:
                ctx.add(
                    "RS604",
                    loc,
                    f"prompt {scene_id}: answer {q.answer!r} not in choices {q.choices}: "
                    f"{shorten(q.question, 50)!r}",
                    repair="dropped from the audited list",
                )
                continue
        if q.type != "multiple_choice" and q.choices is not None:
            ctx.add("RS605", loc, f"prompt {scene_id}: {q.type} row carries choices {q.choices}")
        if len(_WORDS.findall(q.answer)) > 3:
            ctx.add(
                "RS606",
                loc,
                f"prompt {scene_id}: answer has {len(_WORDS.findall(q.answer))} words: {shorten(q.answer, 50)!r}",
            )
        if q.type == "yes_no" and q.is_negative and ans == "yes":
            ctx.add(
                "RS607",
                loc,
                f"prompt {scene_id}: negative yes_no question answered 'yes': {shorten(q.question, 50)!r}",
            )
        out.append(q)
    return out


def audit_duplicate_prompts(ctx: FileCtx, prompts: list[GrpoPrompt], linenos: dict[str, int]) -> None:
    first: dict[str, str] = {}
    for p in prompts:
        k = normalize_text(p.text)
        if k in first:
            p.duplicate_text_of = first[k]
            ctx.add(
                "RS608",
                f"{linenos[p.scene_id]}",
                f"prompt {p.scene_id} repeats prompt {first[k]}: {shorten(p.text, 60)!r}",
                repair=f"duplicate_text_of={first[k]}",
            )
        else:
            first[k] = p.scene_id


def audit_vqa_categories(ctx: FileCtx, prompts: Sequence[GrpoPrompt]) -> None:
    """RS611: one category spelled two ways (case, separators, a plural ``s``) within one prompt file."""
    groups: dict[str, set[str]] = defaultdict(set)
    for p in prompts:
        for q in p.vqa_questions_raw:
            groups[re.sub(r"[\s_-]+", "_", q.category.strip().lower()).removesuffix("s")].add(q.category)
    for variants in groups.values():
        if len(variants) > 1:
            ctx.add(
                "RS611",
                "$.vqa_questions[*].category",
                f"category spelled {len(variants)} ways: {sorted(variants)}",
            )


# ------------------------------------------------------------------------------------- derived files


def compare_derived(
    ctx: FileCtx, expected: Sequence[dict[str, Any]], actual: Sequence[tuple[int, Any]]
) -> int:
    """Compare a regenerated derived JSONL with the released one, line by line; return the mismatches."""
    bad = 0
    for i, exp in enumerate(expected):
        if i >= len(actual):
            ctx.add(
                "RS203",
                f"{i + 1}",
                f"{len(expected) - len(actual)} lines missing: the file has {len(actual)} "
                f"lines, its sources give {len(expected)}",
            )
            return bad + len(expected) - len(actual)
        lineno, got = actual[i]
        if got != exp:
            bad += 1
            ctx.add("RS203", f"{lineno}", _diff_message(exp, got))
    if len(actual) > len(expected):
        lineno = actual[len(expected)][0]
        ctx.add(
            "RS203",
            f"{lineno}",
            f"{len(actual) - len(expected)} extra lines: the file has {len(actual)} lines, "
            f"its sources give {len(expected)}",
        )
        bad += len(actual) - len(expected)
    return bad


def _diff_message(exp: Any, got: Any) -> str:
    if not isinstance(got, dict) or not isinstance(exp, dict):
        return f"expected an object, got {type(got).__name__}"
    keys = sorted(set(exp) | set(got))
    diffs = []
    for k in keys:
        if exp.get(k, "<missing>") != got.get(k, "<missing>"):
            diffs.append(
                f"{k}: expected {shorten(repr(exp.get(k, '<missing>')), 50)}, got {shorten(repr(got.get(k, '<missing>')), 50)}"
            )
    return "differs from its sources: " + "; ".join(diffs[:3]) + (" …" if len(diffs) > 3 else "")


__all__ = [
    "Rule",
    "RULES",
    "RULES_BY_NAME",
    "ALLOWED_KQA_TYPES",
    "Auditor",
    "FileCtx",
    "finding_sort_key",
    "repair_field",
    "flag_field",
    "has_cjk_glue",
    "ProfileIndex",
    "report_evidence",
    "audit_knowledge_qa",
    "answer_key_bias",
    "mcq_duplicate_options",
    "audit_dialogue_duplicates",
    "audit_vqa",
    "audit_duplicate_prompts",
    "audit_vqa_categories",
    "compare_derived",
]


def audit_test_train_duplicates(auditor: Auditor, images: Sequence[Any], blobs: dict[str, bytes]) -> None:
    """RS104: a test image that is a near-duplicate of a train image of its character (the protocol-v2
    copy detector: thumbnail correlation above its calibrated threshold), so copying a train image
    would match the ground truth. Kept and listed: it is a finding about the data, not repaired."""
    from collections import defaultdict

    from rolescape.metrics.image.copy import IMAGE_COPY_THRESHOLD, CopyBank
    from rolescape.metrics.images_io import load_image

    by_char: dict[str, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    for im in images:
        by_char[im.character][im.split].append(im)
    for slug in sorted(by_char):
        train, test = by_char[slug].get("train", []), by_char[slug].get("test", [])
        if not train or not test:
            continue
        try:
            bank = CopyBank([load_image(blobs[t.key], None, "white") for t in train])
            for t in test:
                sims = bank.similarities(load_image(blobs[t.key], None, "white"))
                j = int(sims.argmax())
                if float(sims[j]) > IMAGE_COPY_THRESHOLD:
                    auditor.add(
                        "RS104",
                        character=slug,
                        file=t.source_path,
                        message=f"near-duplicate of train image {train[j].source_path} "
                        f"(thumbnail correlation {float(sims[j]):.3f} > {IMAGE_COPY_THRESHOLD})",
                        repair=None,
                    )
        except (InputError, OSError, ValueError):  # an undecodable image is reported by the image checks
            continue
