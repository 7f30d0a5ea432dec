"""Text repair: pure functions that turn a raw release string into a cleaned one and say what changed.

Raw text is always kept beside the cleaned text by the callers; these functions never decide severity
or record findings (see builders/audit.py). rolescape20-release.md §4.1 and §4.5 describe the problems.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

# --------------------------------------------------------------------------------------- normalising

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'", "´": "'", "′": "'"})
_WRAP_QUOTES = "\"'“”‘’«»„"


_WS = re.compile(r"\s+")


@functools.lru_cache(maxsize=1 << 16)
def normalize_text(s: str) -> str:
    """The inventory's match key (§4): markdown, list numbers and quotes stripped, lower-case, no trailing ?.!.

    Strip a leading ``>`` and ``N.``, every ``**``, surrounding ``*``/``_``, straight and curly quotes and
    whitespace; lowercase; unify apostrophes; collapse whitespace; drop trailing ``?``/``.``/``!``/``…``.
    """
    s = s.strip()
    if s[:1] == ">" or s[:1].isdigit():
        s = re.sub(r"^(?:>\s*)+", "", s)
        s = re.sub(r"^\d+[.)]\s+", "", s)
    s = s.replace("**", "")
    s = s.strip().strip("*_").strip()
    s = s.strip(_WRAP_QUOTES + " \t").strip("*_").strip(_WRAP_QUOTES + " \t")
    s = _WS.sub(" ", s.translate(_APOSTROPHES).lower())
    return s.rstrip("?.!…。！？ ").strip()


def normalize_evidence(s: str) -> str:
    """Match key for "is this evidence in the profile": markdown, bullets and whitespace ignored.

    Removes ``*``/``#``/``>``/backticks and list bullets or numbers at line starts, unifies quotes and
    apostrophes, repairs glued numbers, lower-cases and collapses whitespace.
    """
    s = fix_glued_numbers(s)[0]
    s = re.sub(r"(?m)^\s*(?:[-*+•]|\d+[.)])\s+", " ", s)
    s = re.sub(r"[*#>`_]+", " ", s)
    s = s.translate(_APOSTROPHES).replace("“", '"').replace("”", '"')
    s = re.sub(r"\s+", " ", s.lower())
    return s.strip(" .;,:")


def evidence_parts(s: str) -> list[str]:
    """Evidence split on ellipses (the LLM elides text with ``...``/``…``): each part must be found."""
    return [p for p in (normalize_evidence(x) for x in re.split(r"\.\.\.|…", s)) if p]


# --------------------------------------------------------------------------------- character repair

CJK_RANGES = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
CJK_GLUE_RE = re.compile(rf"[A-Za-z][{CJK_RANGES}]|[{CJK_RANGES}][A-Za-z_]")  # §4.5, extended CJK blocks
_CJK_RUN = re.compile(rf"[{CJK_RANGES}]+")


@dataclass(frozen=True)
class TextFix:
    """One repair: the raw snippet and what it became."""

    kind: str  # "cjk-glue" | "glued-number"
    before: str
    after: str

    def describe(self) -> str:
        return f"{self.before!r} -> {self.after!r}"


def fix_cjk_glue(s: str) -> tuple[str, list[TextFix]]:
    """Repair CJK runs glued to Latin letters (LLM decoding corruption, e.g. ``Charg游戏副本 Attack``).

    A glued run followed by a parenthesised gloss (``my筋斗雲 (Jīndǒu Yún)``) is a real term that only
    lacks a space: a space is inserted. Any other glued run is removed (``Charg Attack`` is honest;
    guessing ``Charged`` is not). CJK that is not glued to Latin letters is left alone.
    """
    if not CJK_GLUE_RE.search(s):
        return s, []
    fixes: list[TextFix] = []
    out: list[str] = []
    pos = 0
    for m in _CJK_RUN.finditer(s):
        a, b = m.span()
        left = s[a - 1] if a > 0 else ""
        right = s[b] if b < len(s) else ""
        glued_left = bool(re.match(r"[A-Za-z]", left))
        glued_right = bool(re.match(r"[A-Za-z_]", right))
        if not (glued_left or glued_right):
            continue
        ctx_a, ctx_b = max(0, a - 12), min(len(s), b + 12)
        out.append(s[pos:a])
        if re.match(r"\s*\(", s[b:]):
            repl = (" " if glued_left else "") + m.group(0) + (" " if glued_right else "")
        else:
            repl = " " if (glued_left and glued_right and right != "_") else ""
        out.append(repl)
        pos = b
        before = s[ctx_a:ctx_b]
        after = s[ctx_a:a] + repl + s[b:ctx_b]
        fixes.append(TextFix("cjk-glue", before, after))
    out.append(s[pos:])
    return "".join(out), fixes


_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
# A word of 2+ letters (all lower-case or Capitalised; ALL-CAPS like MP3/PS5 is a name, not glue) glued
# to a number: "by19%", "With34", "since1998", "September19", "in3,265". One letter ("x5") never fires.
GLUED_WORD_NUMBER_RE = re.compile(r"(?<![\w/@#.\-'’])(?P<word>[A-Z]?[a-z]{1,})(?P<num>\d[\d,.]*)")
GLUED_MONTH_YEAR_RE = re.compile(rf"\b(?P<month>{_MONTHS}) ?(?P<day>\d{{1,2}}),(?P<year>(?:1\d|20)\d\d)\b")
_GLUE_EXEMPT = {"mp", "covid", "ipv", "utf", "sha", "md", "ddr", "gen", "usb", "ver"}


def fix_glued_numbers(s: str) -> tuple[str, list[TextFix]]:
    """Insert the missing space in ``by19%`` / ``July31,1979`` / ``March14th`` (LLM tokenisation artefact)."""
    fixes: list[TextFix] = []

    def month_year(m: re.Match[str]) -> str:
        fixed = f"{m.group('month')} {m.group('day')}, {m.group('year')}"
        if fixed != m.group(0):
            fixes.append(TextFix("glued-number", m.group(0), fixed))
        return fixed

    def word_num(m: re.Match[str]) -> str:
        word, num = m.group("word"), m.group("num")
        if len(word) < 2 or word.lower() in _GLUE_EXEMPT:
            return m.group(0)
        fixes.append(TextFix("glued-number", m.group(0), f"{word} {num}"))
        return f"{word} {num}"

    out = GLUED_MONTH_YEAR_RE.sub(month_year, s)
    out = GLUED_WORD_NUMBER_RE.sub(word_num, out)
    return out, fixes


_NEEDS_REPAIR = re.compile(rf"[A-Za-z]\d|\d,\d|[{CJK_RANGES}]")


def repair_text(s: str) -> tuple[str, list[TextFix]]:
    """Both character-level repairs (CJK glue, then glued numbers)."""
    if not _NEEDS_REPAIR.search(s):
        return s, []
    s1, f1 = fix_cjk_glue(s)
    s2, f2 = fix_glued_numbers(s1)
    return s2, f1 + f2


# ------------------------------------------------------------------------------------------- probes

# Meta-text that is not a user input (§4.1): preambles, rationale lines, rubric/criteria lines.
_PREAMBLE_RE = re.compile(
    r"(?i)carefully crafted|designed to (?:test|evaluate|probe|assess|elicit|provoke)"
    r"|constructed to (?:test|evaluate|elicit|probe|assess)|^(?:these|each|all) (?:user )?inputs?\b"
    r"|based on the provided|^(?:here|below) (?:are|is)\b.*\b(?:inputs?|questions?|prompts?)\b"
)
_RATIONALE_RE = re.compile(r"(?i)^\(\s*(?:tests?|testing)\b")
# A Title-Case label followed by an evaluation question ("Tone Consistency: Does she …"), or the two
# criteria openers seen in the release. "Miki says: “…”" (a real input) has a lower-case label word.
_RUBRIC_RE = re.compile(
    r"^(?:[A-Z][\w'-]*(?:\s+(?:[A-Z][\w'-]*|&|/|and|of))*\s*:\s+"
    r"(?:Does|Do|Is|Are|Can|Should|Will|Would|How|Whether)\b|(?:Use of|Characteristic phrases)\b)"
)


@dataclass
class ProbeText:
    text: str
    flags: list[str] = field(default_factory=list)  # sorted: blockquote, bold, italic, meta, numbered, quoted
    meta_reason: str | None = None


def _strip_wrapping_quotes(s: str) -> tuple[str, bool]:
    pairs = (('"', '"'), ("“", "”"), ("‘", "’"), ("«", "»"), ("„", "“"))
    for a, b in pairs:
        if len(s) >= 2 and s.startswith(a) and s.endswith(b):
            inner = s[len(a) : -len(b)]
            if b in inner and not (a != b and inner.count(a) == inner.count(b)):
                continue  # '"a" and "b"': the first quote closes before the end
            return inner.strip(), True
    return s, False


def meta_reason(text: str) -> str | None:
    """Why a (markdown-stripped) probe line is meta-text rather than a user input, or None."""
    if _RATIONALE_RE.search(text):
        return "rationale"
    if _PREAMBLE_RE.search(text):
        return "preamble"
    if _RUBRIC_RE.search(text):
        return "rubric"
    return None


def clean_probe(raw: str) -> ProbeText:
    """Strip blockquote / list number / bold / italic / wrapping quotes, and classify meta-text lines."""
    s = raw.strip()
    flags: set[str] = set()
    if re.match(r"^>\s?", s):
        flags.add("blockquote")
        s = re.sub(r"^(?:>\s?)+", "", s).strip()
    if re.match(r"^\d+[.)]\s+", s):
        flags.add("numbered")
        s = re.sub(r"^\d+[.)]\s+", "", s).strip()
    if "**" in s:
        flags.add("bold")
        s = s.replace("**", "").strip()
    for _ in range(3):
        changed = False
        if len(s) > 2 and ((s[0] == "*" and s[-1] == "*") or (s[0] == "_" and s[-1] == "_")):
            flags.add("italic")
            s = s[1:-1].strip()
            changed = True
        s, quoted = _strip_wrapping_quotes(s)
        if quoted:
            flags.add("quoted")
            changed = True
        if not changed:
            break
    reason = meta_reason(s)
    if reason:
        flags.add("meta")
    return ProbeText(text=s, flags=sorted(flags), meta_reason=reason)


# Addressee / perspective of a memorization question (rolescape20-release.md §4.1): most sets speak to
# the character ("you"); some are third-person quiz questions about it ("What breed is Butin?"), and
# Hermione's set is inverted into the character's first person ("What is my full name?").
_SECOND_PERSON = re.compile(r"(?i)\b(?:you|your|yours|yourself|yourselves|ya)\b")
_FIRST_PERSON = re.compile(r"\b(?:I|my|me|mine|myself)\b|\bI['’](?:m|ve|ll|d)\b")
_QUESTION_START = re.compile(
    r"^(?:What|Who|Whom|Whose|Why|How|Where|When|Which|Do|Does|Did|Is|Are|Was|Were|Can|Could|Would|Should|"
    r"Have|Has|Had)\b"
)
# Probes that point at the annotation material rather than the character's world ("In image scene "11"").
ANNOTATION_REF_RE = re.compile(
    r"(?i)\bimage\s+(?:scene\s+)?[\"“']?\d+|\bscene\s+[\"“']\d+|\bdialog(?:ue)?\s+excerpts?\b"
    r"|\b(?:first|final|last|previous)\s+(?:dialog(?:ue)?\s+)?(?:scene|excerpt)\b|\bin (?:one|another) scene\b"
)


def _name_words(names: list[str]) -> list[str]:
    words = {w for n in names for w in re.split(r"[\s_]+", n.strip()) if len(w) >= 3}
    return sorted(words, key=lambda w: (-len(w), w))


def probe_perspective(text: str, names: list[str]) -> str | None:
    """``"third-person"``, ``"first-person"`` or None (addressed to the character, or undecidable).

    Third person: a name word of the character (3+ letters, case-sensitive) that is not a vocative
    (``", Mam?"``, ``"Hey, Pikachu,"``) and no second-person pronoun. First person: a question that
    starts with a question word, uses I/my/me and no second-person pronoun. Heuristic; for findings only.
    """
    if _SECOND_PERSON.search(text):
        return None
    for w in _name_words(names):
        for m in re.finditer(rf"(?<![\w'’-]){re.escape(w)}(?![\w-])", text):
            before, after = text[: m.start()].rstrip(), text[m.end() :].lstrip()
            opens = not before or before.endswith((",", "Hey", "Hi", "Hello", "Oh"))
            vocative = opens and (not after or after[:1] in ",!?.")
            if not vocative:
                return "third-person"
    if _QUESTION_START.match(text) and _FIRST_PERSON.search(text):
        return "first-person"
    return None


# ----------------------------------------------------------------------------------------- profiles

_CHATTER_HEAD_RE = re.compile(
    r"(?i)^(?:certainly|sure|of course|absolutely|here (?:is|are)|below (?:is|are))\b"
)
_CLOSING_RE = re.compile(r"(?i)^(?:this|these|overall|in summary|in short|together|in conclusion)\b")
_RULE_LINE_RE = re.compile(r"^\s*(?:-{3,}|\*{3,}|_{3,})\s*$")


@dataclass
class ProfileClean:
    text: str
    removed: list[tuple[int, str]] = field(default_factory=list)  # (1-based line, removed text)


def _paragraphs(lines: list[str]) -> list[tuple[int, int]]:
    """[start, end) line ranges of non-blank runs."""
    out, start = [], None
    for i, line in enumerate(lines + [""]):
        if line.strip() and start is None:
            start = i
        elif not line.strip() and start is not None:
            out.append((start, i))
            start = None
    return out


def clean_simplified_profile(raw: str) -> ProfileClean:
    """Remove assistant chatter: an opening "Certainly! Below is…"/"Here are the extracted sections…"
    paragraph, and a closing "This distilled profile…"/"These elements collectively…" paragraph that
    follows the last horizontal rule. Separator lines left dangling at either end are dropped too."""
    lines = raw.split("\n")
    keep = [True] * len(lines)
    removed: list[tuple[int, str]] = []
    paras = _paragraphs(lines)
    if paras:
        a, b = paras[0]
        if _CHATTER_HEAD_RE.match(lines[a].strip()):
            for i in range(a, b):
                keep[i] = False
            removed.append((a + 1, "\n".join(lines[a:b])))
    if len(paras) >= 2:
        a, b = paras[-1]
        prev_a, prev_b = paras[-2]
        follows_rule = all(_RULE_LINE_RE.match(x) for x in lines[prev_a:prev_b])
        if follows_rule and _CLOSING_RE.match(lines[a].strip()) and b - a <= 3:
            for i in range(a, b):
                keep[i] = False
            removed.append((a + 1, "\n".join(lines[a:b])))
    kept = [line for line, k in zip(lines, keep, strict=True) if k]
    return ProfileClean(text=_trim_rules("\n".join(kept)), removed=removed)


def _trim_rules(text: str) -> str:
    lines = text.strip("\n").split("\n")
    while lines and (not lines[0].strip() or _RULE_LINE_RE.match(lines[0])):
        lines.pop(0)
    while lines and (not lines[-1].strip() or _RULE_LINE_RE.match(lines[-1])):
        lines.pop()
    return "\n".join(lines) + ("\n" if lines else "")


# Meta-text from the captioning step (§2.4): "The images provided capture…", "… conversational scenarios …".
_PROFILE_META_RE = re.compile(
    r"(?i)\b(?:images? provided|provided images?|conversational scenarios?|this (?:analysis|document) (?:delves|covers|provides|explores))\b"
)
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z*\"“(])")


def clean_full_profile(raw: str) -> ProfileClean:
    """Remove an assistant-chatter first paragraph ("Here is a detailed profile of …") and every
    sentence or heading that talks about the annotation material instead of the character."""
    lines = raw.split("\n")
    removed: list[tuple[int, str]] = []
    out: list[str | None] = list(lines)
    paras = _paragraphs(lines)
    if paras:
        a, b = paras[0]
        first = lines[a].strip()
        if b - a == 1 and _CHATTER_HEAD_RE.match(first) and len(first) < 300:
            out[a] = None
            removed.append((a + 1, first))
    for i, line in enumerate(lines):
        if out[i] is None or not _PROFILE_META_RE.search(line):
            continue
        if line.lstrip().startswith("#"):
            out[i] = None
            removed.append((i + 1, line.strip()))
            continue
        sentences = _SENTENCE_SPLIT.split(line)
        kept = [x for x in sentences if not _PROFILE_META_RE.search(x)]
        for x in sentences:
            if _PROFILE_META_RE.search(x):
                removed.append((i + 1, x.strip()))
        out[i] = " ".join(kept) if kept else None
    text = "\n".join(x for x in out if x is not None)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return ProfileClean(text=_trim_rules(text), removed=removed)


def shorten(s: str, n: int = 80) -> str:
    s = re.sub(r"\s+", " ", s).strip()
    return s if len(s) <= n else s[: n - 1] + "…"


__all__ = [
    "normalize_text",
    "normalize_evidence",
    "evidence_parts",
    "TextFix",
    "CJK_GLUE_RE",
    "fix_cjk_glue",
    "GLUED_WORD_NUMBER_RE",
    "GLUED_MONTH_YEAR_RE",
    "fix_glued_numbers",
    "repair_text",
    "ProbeText",
    "clean_probe",
    "probe_perspective",
    "ANNOTATION_REF_RE",
    "meta_reason",
    "ProfileClean",
    "clean_simplified_profile",
    "clean_full_profile",
    "shorten",
]
