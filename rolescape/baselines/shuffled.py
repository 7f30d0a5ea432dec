"""`shuffled`: another character's ground truth, the floor that shows whether a metric separates characters.

Characters (sorted ids) are mapped to donors by a seeded derangement (no character keeps its own). The
i-th item of character c (items in id order) receives the donor's i-th item (cycling when the donor
has fewer). A metric on which `shuffled` scores like `reference` does not measure the character.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from rolescape.baselines.base import Baseline, BaselineContext, BaselinePrediction
from rolescape.errors import InputError
from rolescape.schemas.tasks import TASKS


def derangement(names: Sequence[str], seed: int) -> dict[str, str]:
    """A seeded permutation of `names` with no fixed point (rejection sampling, so uniform)."""
    names = sorted(names)
    if len(names) < 2:
        raise InputError(f"shuffled needs at least two characters, this build has {len(names)}")
    rng = random.Random(seed)
    while True:
        perm = list(names)
        rng.shuffle(perm)
        if all(a != b for a, b in zip(names, perm, strict=True)):
            return dict(zip(names, perm, strict=True))


def _donor(slug: str, mapping: dict[str, str], has: set[str]) -> str:
    """Follow the derangement from `slug` to the first other character that has material."""
    d = mapping[slug]
    for _ in range(len(mapping)):
        if d != slug and d in has:
            return d
        d = mapping[d]
    raise InputError(f"shuffled: no other character than {slug!r} has material for this task")


class ShuffledBaseline(Baseline):
    name = "shuffled"
    summary = "another character's ground truth, via a seeded derangement of characters (the floor)"
    tasks = TASKS

    def skip_reason(self, task: str, ctx: BaselineContext) -> str | None:
        if task in ("memorization", "personality") and not ctx.train_dialogues:
            return "needs the `dialogues` config (donor responses)"
        return super().skip_reason(task, ctx)

    def predict(
        self, task: str, items: Sequence[dict[str, Any]], ctx: BaselineContext
    ) -> list[BaselinePrediction]:
        chars = sorted(set(ctx.character_ids) | {it["character"] for it in items})
        mapping = derangement(chars, ctx.seed)
        own: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for it in sorted(items, key=lambda r: r["id"]):
            own[it["character"]].append(it)
        position = {it["id"]: i for rows in own.values() for i, it in enumerate(rows)}

        if task in ("memorization", "personality"):
            material = {
                c: [(r["response"], f"dialogues/train/{c}/{r['index']}") for r in rows]
                for c, rows in ctx.train_dialogues.items()
                if rows
            }
        elif task == "t2i_vqa":
            material = {c: [(b, k) for k, b in ctx.data.reference_images(c, "train")] for c in chars}
            material = {c: v for c, v in material.items() if v}
        else:
            material = {c: [(r, r["id"]) for r in rows] for c, rows in own.items()}

        out: list[BaselinePrediction] = []
        for it in items:
            donor = _donor(it["character"], mapping, set(material))
            stuff, src = material[donor][position[it["id"]] % len(material[donor])]
            p = BaselinePrediction(it["id"], source=src)
            if task in ("memorization", "personality"):
                p.text = stuff
            elif task == "t2i_vqa":
                p.image = stuff
            elif task == "roleplay":
                p.text, p.image = stuff["reference_response"], stuff["reference_image"]["bytes"]
            elif task == "t2i":
                p.image = stuff["reference_image"]["bytes"]
            elif task == "dialogue":
                p.text = stuff["reference_response"]
            else:
                p.choice = stuff["answer_key"]
            out.append(p)
        return out
