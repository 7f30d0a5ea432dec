"""`prior` and `prior-longest`: MCQ answer-key floors that read no question.

`prior` answers every item of a task with the letter that is most often correct in that task (ties ->
the earlier letter). It reads the key distribution of the test items themselves, so it is an oracle
floor: the score any system gets by exploiting the key bias (knowledge MCQ: "always C" = 49.5%).
`prior-longest` answers the longest option (ties -> the earlier letter): the length bias floor.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from rolescape.baselines.base import Baseline, BaselineContext, BaselinePrediction

LETTERS = ("A", "B", "C", "D")
_NOT_MCQ = "answers multiple-choice tasks only"


def most_common_key(items: Sequence[dict[str, Any]]) -> str:
    counts = Counter(it["answer_key"] for it in items)
    return max(LETTERS, key=lambda k: (counts.get(k, 0), -LETTERS.index(k)))


def longest_option(options: dict[str, Any]) -> str:
    lengths = {k: len(str(options.get(k) or "").strip()) for k in LETTERS}
    return max(LETTERS, key=lambda k: (lengths[k], -LETTERS.index(k)))


class PriorBaseline(Baseline):
    name = "prior"
    summary = "MCQ: the most common answer key of the task (oracle key-prior floor)"
    tasks = ("knowledge_mcq", "visual_mcq")
    not_answered = {
        t: _NOT_MCQ for t in ("roleplay", "t2i", "t2i_vqa", "dialogue", "memorization", "personality")
    }

    def predict(
        self, task: str, items: Sequence[dict[str, Any]], ctx: BaselineContext
    ) -> list[BaselinePrediction]:
        key = most_common_key(items)
        return [BaselinePrediction(it["id"], choice=key, source=f"most-common-key:{task}") for it in items]


class PriorLongestBaseline(PriorBaseline):
    name = "prior-longest"
    summary = "MCQ: the longest option (length-bias floor)"

    def predict(
        self, task: str, items: Sequence[dict[str, Any]], ctx: BaselineContext
    ) -> list[BaselinePrediction]:
        return [
            BaselinePrediction(it["id"], choice=longest_option(it["options"]), source="longest-option")
            for it in items
        ]
