"""Train/test leakage and MCQ answer-key floors, per character and in total (rolescape20-release.md §3, §4.4).

Texts are compared with :func:`rolescape.builders.clean.normalize_text` (markdown and quotes stripped,
lower-case, apostrophes unified, trailing ``?.!`` dropped).

``ParsedRelease.leakage`` (plain JSON)::

    {
      "<check>": {"n": int, "of": int, "rate": float,
                  "per_character": {"<slug>": {"n": int, "of": int, "items": [item ids, sorted]}}},
      ...
    }

with these checks:

* ``dialogue_test_user_in_train``: ext-test user inputs found among the same character's ext-train user
  inputs (items: ext-test scene indices);
* ``mcq_question_in_train_kqa``: knowledge-MCQ questions equal to a train knowledge-QA question (items: mcq ids);
* ``mcq_answer_is_train_kqa_answer``: knowledge-MCQ correct-option texts equal to a train knowledge-QA
  answer (items: mcq ids);
* ``memorization_in_train_dialogue`` / ``personality_in_train_dialogue``: usable probes equal to a train
  dialogue user input (items: probe indices).

``ParsedRelease.floors`` (plain JSON)::

    {
      "knowledge_mcq" | "visual_mcq": {
        "total": Floor, "per_character": {"<slug>": Floor}
      }
    }
    Floor = {"n": int, "answer_keys": {"A": int, "B": int, "C": int, "D": int},
             "always_A": float, "always_B": float, "always_C": float, "always_D": float,
             "longest_option": float,          # pick the longest option text (first in A-D order on ties)
             "correct_is_longest": int,        # items the longest-option strategy gets right (its numerator)
             "best_constant": {"letter": str, "accuracy": float}, "chance": 0.25}

Visual MCQ item ids in ``items`` lists are not used; visual floors only need the keys and options.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from rolescape.builders.clean import normalize_text
from rolescape.schemas import DialogueScene, KnowledgeMCQ, KnowledgeQA, MCQOptions, Probe, Scene

LETTERS = ("A", "B", "C", "D")


def _check(per: dict[str, dict[str, Any]]) -> dict[str, Any]:
    n = sum(v["n"] for v in per.values())
    of = sum(v["of"] for v in per.values())
    return {"n": n, "of": of, "rate": (n / of) if of else 0.0, "per_character": dict(sorted(per.items()))}


def _entry(items: list[Any], of: int) -> dict[str, Any]:
    return {"n": len(items), "of": of, "items": sorted(items)}


def compute_leakage(
    characters: Iterable[str],
    dialogues: Sequence[DialogueScene],
    knowledge_qa: Sequence[KnowledgeQA],
    knowledge_mcq: Sequence[KnowledgeMCQ],
    probes: Sequence[Probe],
) -> dict[str, Any]:
    chars = sorted(set(characters))
    train_users: dict[str, set[str]] = defaultdict(set)
    for d in dialogues:
        if d.split == "train":
            train_users[d.character].add(normalize_text(d.user_text))
    kqa_questions: dict[str, set[str]] = defaultdict(set)
    kqa_answers: dict[str, set[str]] = defaultdict(set)
    for q in knowledge_qa:
        kqa_questions[q.character].add(normalize_text(q.question))
        kqa_answers[q.character].add(normalize_text(q.answer))

    dlg: dict[str, dict[str, Any]] = {}
    mq: dict[str, dict[str, Any]] = {}
    ma: dict[str, dict[str, Any]] = {}
    pm: dict[str, dict[str, Any]] = {}
    pp: dict[str, dict[str, Any]] = {}
    for c in chars:
        tests = [d for d in dialogues if d.character == c and d.split == "test"]
        dlg[c] = _entry([d.index for d in tests if normalize_text(d.user_text) in train_users[c]], len(tests))
        mcqs = [m for m in knowledge_mcq if m.character == c]
        mq[c] = _entry([m.id for m in mcqs if normalize_text(m.question) in kqa_questions[c]], len(mcqs))
        ma[c] = _entry(
            [m.id for m in mcqs if normalize_text(getattr(m.options, m.answer_key)) in kqa_answers[c]],
            len(mcqs),
        )
        for kind, target in (("memorization", pm), ("personality", pp)):
            ps = [p for p in probes if p.character == c and p.kind == kind and p.usable]
            target[c] = _entry([p.index for p in ps if normalize_text(p.text) in train_users[c]], len(ps))
    return {
        "dialogue_test_user_in_train": _check(dlg),
        "mcq_question_in_train_kqa": _check(mq),
        "mcq_answer_is_train_kqa_answer": _check(ma),
        "memorization_in_train_dialogue": _check(pm),
        "personality_in_train_dialogue": _check(pp),
    }


def mcq_floor(items: Sequence[tuple[str, MCQOptions]]) -> dict[str, Any]:
    """Accuracy of the constant strategies on (answer_key, options) pairs."""
    n = len(items)
    keys = {k: 0 for k in LETTERS}
    longest_hits = 0
    for key, opts in items:
        keys[key] += 1
        lengths = [len(getattr(opts, k)) for k in LETTERS]
        best = max(lengths)
        pick = LETTERS[lengths.index(best)]
        longest_hits += pick == key
    acc = {f"always_{k}": (keys[k] / n if n else 0.0) for k in LETTERS}
    best_letter = max(LETTERS, key=lambda k: (keys[k], -LETTERS.index(k)))
    return {
        "n": n,
        "answer_keys": keys,
        **acc,
        "longest_option": longest_hits / n if n else 0.0,
        "correct_is_longest": longest_hits,
        "best_constant": {"letter": best_letter, "accuracy": keys[best_letter] / n if n else 0.0},
        "chance": 0.25,
    }


def compute_floors(knowledge_mcq: Sequence[KnowledgeMCQ], scenes: Sequence[Scene]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    families: dict[str, list[tuple[str, str, MCQOptions]]] = {
        "knowledge_mcq": [(m.character, m.answer_key, m.options) for m in knowledge_mcq],
        "visual_mcq": [(s.character, m.answer_key, m.options) for s in scenes for m in s.mcq_items],
    }
    for name, rows in families.items():
        per: dict[str, list[tuple[str, MCQOptions]]] = defaultdict(list)
        for c, k, o in rows:
            per[c].append((k, o))
        out[name] = {
            "total": mcq_floor([(k, o) for _c, k, o in rows]),
            "per_character": {c: mcq_floor(v) for c, v in sorted(per.items())},
        }
    return out


__all__ = ["compute_leakage", "compute_floors", "mcq_floor"]
