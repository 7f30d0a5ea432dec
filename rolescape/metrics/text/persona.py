"""`persona_sim`: is the response grounded in the character's profile?

persona_sim = max over (response sentence r, profile sentence p) of cos(E(r), E(p)), with the run's
sentence encoder (normalised embeddings). Which profile (the characters config of the built dataset):

| task | profile | why |
|---|---|---|
| `memorization` | `full_profile_clean` (full profile, captioning meta text removed) | the questions ask for facts of the full bio |
| `personality` | `personality_profile` (simplified personality profile, assistant chatter removed) | the inputs probe traits and habits, which is what that profile keeps |
| `dialogue`, `roleplay` | `full_profile_clean` | free conversation may touch any part of the bio |

Sentences: markdown marks are stripped, the text is split on lines and on sentence ends (common
abbreviations kept together). Profile sentences need at least 4 words: headings such as
"**Personality and Traits:**" are not statements, nor are lead-ins ending in ':'. Response sentences
need one word. A blank response scores 0; a prediction without text gets None.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from rolescape.metrics.base import ItemBatch, MetricFamily, ScoreContext, Scores

VERSION = "persona-v1"
PROFILE_FIELD: dict[str, str] = {
    "memorization": "full_profile_clean",
    "personality": "personality_profile",
    "dialogue": "full_profile_clean",
    "roleplay": "full_profile_clean",
}
MIN_PROFILE_WORDS = 4

_ABBREV = ("Mr", "Mrs", "Ms", "Dr", "St", "Jr", "Sr", "Prof", "vs", "etc", "e.g", "i.e", "approx")
_ABBREV_RE = re.compile(r"\b(" + "|".join(re.escape(a) for a in _ABBREV) + r")\.")
_SENT_END = re.compile(r"(?<=[.!?…。！？])[\"'”’)\]]*\s+")
_MD_LINE = re.compile(r"^\s*(?:#{1,6}\s*|>\s*|[-*+•]\s+|\d+[.)]\s+|\|)+")
_MD_INLINE = re.compile(r"\*\*|__|`|(?<!\w)\*(?!\s)|(?<!\s)\*(?!\w)|\|")
_WORD = re.compile(r"\w+")
_PROTECT = "\u2024"  # one-dot leader stands in for the dot of an abbreviation while splitting


def split_sentences(text: str, min_words: int = 1, drop_lead_ins: bool = False) -> list[str]:
    """Markdown-stripped sentences of `text` with at least `min_words` words, deduplicated, in order.

    `drop_lead_ins` drops fragments ending in ':' ("Despite this, he is:"), which only introduce a list.
    """
    out: list[str] = []
    seen: set[str] = set()
    for raw_line in text.splitlines():
        line = _MD_INLINE.sub("", _MD_LINE.sub("", raw_line)).strip()
        if not line or set(line) <= set("-=_*~ "):
            continue
        line = _ABBREV_RE.sub(lambda m: m.group(1) + _PROTECT, line)
        for part in _SENT_END.split(line):
            s = part.replace(_PROTECT, ".").strip().strip("\"'“”")
            s = s.strip()
            if len(_WORD.findall(s)) < min_words or s in seen or (drop_lead_ins and s.endswith(":")):
                continue
            seen.add(s)
            out.append(s)
    return out


def profile_sentences(profile: str) -> list[str]:
    return split_sentences(profile, MIN_PROFILE_WORDS, drop_lead_ins=True)


def response_sentences(response: str) -> list[str]:
    sents = split_sentences(response, 1)
    return sents or ([response.strip()] if response.strip() else [])


def persona_sims(
    encoder: Any, responses: Sequence[str], profiles: Sequence[Sequence[str]], batch_size: int = 32
) -> list[float]:
    """persona_sim for each (response, profile sentences) pair; 0 for a blank response or profile."""
    import numpy as np

    resp_sents = [response_sentences(r) for r in responses]
    uniq: dict[str, int] = {}
    for sents in list(resp_sents) + [list(p) for p in profiles]:
        for s in sents:
            uniq.setdefault(s, len(uniq))
    emb = encoder.encode(list(uniq), batch_size=batch_size).astype(np.float64)
    out: list[float] = []
    for rs, ps in zip(resp_sents, profiles, strict=True):
        if not rs or not ps:
            out.append(0.0)
            continue
        r = emb[[uniq[s] for s in rs]]
        p = emb[[uniq[s] for s in ps]]
        out.append(float((r @ p.T).max()))
    return out


class PersonaFamily(MetricFamily):
    name = "persona"
    tasks = tuple(PROFILE_FIELD)

    def __init__(self) -> None:
        self.encoder: Any = None
        self._profiles: dict[tuple[str, str], list[str]] = {}

    def metric_names(self, task: str) -> list[str]:
        return ["persona_sim"] if task in PROFILE_FIELD else []

    def prepare(self, ctx: ScoreContext, tasks: Sequence[str]) -> None:
        from rolescape.metrics.text.encoders import encoder_for

        self.encoder = encoder_for(ctx)
        self._profiles = {}
        for row in ctx.dataset("persona_sim").characters():
            for fld in set(PROFILE_FIELD.values()):
                self._profiles[(row["id"], fld)] = profile_sentences(str(row.get(fld) or ""))

    def profile_for(self, task: str, character: str) -> list[str] | None:
        return self._profiles.get((character, PROFILE_FIELD[task]))

    def score(self, batch: ItemBatch, ctx: ScoreContext) -> list[Scores]:
        out: list[Scores] = [{"persona_sim": None} for _ in batch.items]
        idx, texts, profs = [], [], []
        for i, (item, pred) in enumerate(zip(batch.typed, batch.predictions, strict=True)):
            prof = self.profile_for(batch.task, item.character)
            if pred.text is None or prof is None:
                continue
            idx.append(i)
            texts.append(pred.text)
            profs.append(prof)
        if idx:
            for i, s in zip(idx, persona_sims(self.encoder, texts, profs, ctx.batch_size), strict=True):
                out[i]["persona_sim"] = s
        return out

    def version(self) -> str:
        enc = self.encoder.key() if self.encoder is not None else "no-encoder"
        return f"{VERSION}|{enc}|" + ",".join(f"{t}:{f}" for t, f in sorted(PROFILE_FIELD.items()))
