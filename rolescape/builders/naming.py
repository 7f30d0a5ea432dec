"""Character naming: the three keys of the release (folder, file prefix, GRPO name) and the slug.

rolescape20-release.md §1.1: ``<P> = Folder.split('-', 1)[1] if '-' in Folder else Folder``; the GRPO
dataset folder is ``<P>.replace(' ', '_')``; the character id (slug) is ``slugify(<P>)``. Nothing here
knows the 20 released characters: a user's own character in this layout gets the same treatment.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from rolescape.schemas.base import slugify

# Capitalised word runs ("Chandler Bing", "Sun Wukong", "My Dieu"); possessives are stripped after.
_NAME_RUN = re.compile(r"[A-Z][\w'’.-]*(?:[ \t]+[A-Z][\w'’.-]*)*")
_TOKEN = re.compile(r"[A-Z][a-z]+|[a-z]+|[A-Z]+(?![a-z])|\d+")


def prefix_of(folder: str) -> str:
    """File prefix ``<P>`` of a character folder: the part after the first '-', else the whole name."""
    return folder.split("-", 1)[1] if "-" in folder else folder


def grpo_name_of(prefix: str) -> str:
    """The flow_grpo dataset folder (and its file prefix) for a character: spaces become '_'."""
    return prefix.replace(" ", "_")


def character_id(prefix: str) -> str:
    """The character slug used in every task id (benchmark-protocol.md): ``Will In Vietnam`` -> ``will-in-vietnam``.

    The name is NFC-normalised first, so a folder spelled in NFD (as macOS writes names) gets the same id.
    """
    return slugify(unicodedata.normalize("NFC", prefix))


def _squash(s: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", s.lower())


def name_tokens(name: str) -> list[str]:
    """Lower-case word tokens of a name, camel-case split: ``YuiYagi`` -> ``['yui', 'yagi']``."""
    return [t.lower() for t in _TOKEN.findall(name)]


def mentions(text: str, name: str) -> bool:
    """Does ``text`` mention ``name`` (case-insensitive, spaces/underscores ignored at word level)?"""
    words = [re.escape(w) for w in re.split(r"[\s_]+", name.strip()) if w]
    if not words:
        return False
    return re.search(r"(?<!\w)" + r"[\s_]+".join(words) + r"(?!\w)", text, re.IGNORECASE) is not None


# Capitalised words that start sentences rather than names ("To Ichihime, ...", "The Monkey King").
_NOT_NAME = frozenset(
    "A An And As At But By For From He Her His In Introduced It Its Known Of On One She The Their They "
    "Though To Viewing While With Beneath Still Other Renowned Wise".split()
)


def description_name(description: str, prefix: str) -> str | None:
    """The character's name as the description spells it (``Chandler Bing``, ``My Dieu``), or None.

    In the first capitalised word run that contains the prefix (ignoring spaces and case) or a word
    token of 3+ letters of it, the matching words extended by their capitalised neighbours (sentence
    words such as "To" or "The" excluded). Possessive endings are removed. Heuristic, for aliases only.
    """
    want = _squash(prefix)
    tokens = {t for t in name_tokens(prefix) if len(t) >= 3}
    for m in _NAME_RUN.finditer(description):
        words = [w for w in (re.sub(r"['’]s?$", "", w).strip(".-") for w in m.group(0).split()) if w]
        if not words:
            continue
        if want and _squash(" ".join(words)) == want:
            return " ".join(words)
        hits = [i for i, w in enumerate(words) if w.lower() in tokens or (want and _squash(w) == want)]
        if not hits:
            continue
        a, b = hits[0], hits[-1]
        while a > 0 and words[a - 1] not in _NOT_NAME:
            a -= 1
        while b < len(words) - 1 and words[b + 1] not in _NOT_NAME:
            b += 1
        return " ".join(words[a : b + 1])
    return None


@dataclass
class CharacterNames:
    """Every key one character goes by. ``aliases`` collects each spelling seen in the release."""

    folder: str
    prefix: str
    grpo_name: str
    slug: str
    aliases: set[str] = field(default_factory=set)

    @classmethod
    def from_folder(cls, folder: str, prefix: str | None = None) -> CharacterNames:
        p = prefix if prefix is not None else prefix_of(folder)
        names = cls(folder=folder, prefix=p, grpo_name=grpo_name_of(p), slug=character_id(p))
        names.aliases.update({folder, p, names.grpo_name})
        return names

    def add_alias(self, name: str | None) -> None:
        if name and name.strip():
            self.aliases.add(name.strip())

    def sorted_aliases(self) -> list[str]:
        return sorted(self.aliases)
