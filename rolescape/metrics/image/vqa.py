"""`vqa` (t2i_vqa): does the generated image answer the prompt's questions? BLIP-VQA (profile `paper`).

* `paper_vqa`: the release's VQAScorer (§5.4) on the raw `vqa_questions_raw` (duplicates included):
  for every row with a non-empty question and answer, BLIP's greedy answer (max_length=50),
  stripped, lowercase-equal to `str(answer).lower()` scores its weight; score = Σ w·hit / Σ w
  (0 when Σ w = 0). Types, choices and is_negative are ignored, as in the release. A prompt without
  questions falls back to the release's "Does this image accurately depict: {prompt}?" (max_length=10,
  1 / 0 / 0.5 from its keyword lists).
* `vqa`: the same weighting on the audited `vqa_questions`; multiple-choice rows are answered by
  constrained choice (the choice with the highest BLIP decoder log-likelihood), the others by the
  greedy answer; both sides stripped and lowercased. None when a prompt has no audited questions.

Several images per item: the mean over its images. Identical questions on one image are answered
once (greedy decoding is deterministic, so this equals asking again).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rolescape.metrics.base import ItemBatch, MetricFamily, ScoreContext, Scores
from rolescape.metrics.image._decode import decode_source, prediction_sources
from rolescape.schemas.tasks import T2IVQAItem, TaskItem

FALLBACK_TEMPLATE = "Does this image accurately depict: {prompt}?"
FALLBACK_MAX_LENGTH = 10
POSITIVE = ("yes", "true", "correct", "accurate", "depicts", "shows")
NEGATIVE = ("no", "false", "incorrect", "not", "doesn't", "does not")


def _q(row: Any, key: str, default: Any = None) -> Any:
    return row.get(key, default) if isinstance(row, dict) else getattr(row, key, default)


def _weighted_match(questions: Sequence[Any], predict: Any, norm: Any) -> tuple[float, float]:
    """(Σ weight·hit, Σ weight) over rows with a question and an answer; `predict(row)` gives the answer."""
    num = den = 0.0
    for row in questions:
        q, a = _q(row, "question", ""), _q(row, "answer", "")
        if not q or not a:
            continue
        w = float(_q(row, "weight", 1.0))
        if norm(predict(row)) == norm(str(a)):
            num += w
        den += w
    return num, den


def paper_weighted_match(questions: Sequence[Any], answers: dict[str, str]) -> float:
    """The release's weighted exact match: `answers` maps question text -> the model's answer."""
    num, den = _weighted_match(questions, lambda r: answers[_q(r, "question")], str.lower)
    return num / den if den > 0 else 0.0


def audited_weighted_match(
    questions: Sequence[Any], free: dict[str, str], chosen: dict[str, str]
) -> float | None:
    """Weighted match on audited rows: MC rows compare the constrained choice, others the free answer."""

    def predict(row: Any) -> str:
        q = _q(row, "question")
        return chosen[q] if is_mc(row) else free[q]

    num, den = _weighted_match(questions, predict, lambda t: t.strip().lower())
    return num / den if den > 0 else None


def _questions(item: TaskItem) -> tuple[list[Any], list[Any]]:
    """(the release's questions, the audited ones) of a t2i_vqa item; none for another task's item."""
    if isinstance(item, T2IVQAItem):
        return list(item.vqa_questions_raw or []), list(item.vqa_questions or [])
    return [], []


def is_mc(row: Any) -> bool:
    return _q(row, "type") == "multiple_choice" and bool(_q(row, "choices"))


def fallback_score(answer: str) -> float:
    """The release's keyword scoring of the fallback question (substring tests, as released)."""
    a = answer.lower()
    if any(w in a for w in POSITIVE):
        return 1.0
    if any(w in a for w in NEGATIVE):
        return 0.0
    return 0.5


class VQAFamily(MetricFamily):
    name = "vqa"
    tasks = ("t2i_vqa",)

    def __init__(self) -> None:
        self.blip: Any = None

    def metric_names(self, task: str) -> list[str]:
        return ["paper_vqa", "vqa"] if task in self.tasks else []

    def prepare(self, ctx: ScoreContext, tasks: Sequence[str]) -> None:
        from rolescape.metrics.encoders import get_encoder

        self.blip = get_encoder("blip_vqa", ctx)

    def version(self) -> str:
        i = self.blip.info if self.blip is not None else None
        return f"{self.name}|{i.id}@{i.revision}/{i.dtype}/{i.preprocessing}" if i else self.name

    def score(self, batch: ItemBatch, ctx: ScoreContext) -> list[Scores]:
        sources = prediction_sources(batch, ctx)
        per_item: list[list[tuple[float, float | None]]] = [[] for _ in batch.items]
        # (item, image source) pairs, processed batch_size images at a time: the vision features of
        # a BLIP image are large, so they are not kept beyond their sub-batch.
        pairs = [(i, s) for i, srcs in enumerate(sources) for s in srcs]
        step = max(1, int(ctx.batch_size))
        for start in range(0, len(pairs), step):
            part = pairs[start : start + step]
            pixels = [self.blip.prepare(decode_source(s, ctx.alpha)) for _, s in part]
            embeds = self.blip.image_embeds(pixels)
            per_image = self._score_images(embeds, [batch.typed[i] for i, _ in part])
            for (i, _), sc in zip(part, per_image, strict=True):
                per_item[i].append(sc)
        out: list[Scores] = []
        for scores in per_item:
            paper = [p for p, _ in scores]
            audited = [a for _, a in scores if a is not None]
            out.append(
                {
                    "paper_vqa": sum(paper) / len(paper) if paper else None,
                    "vqa": sum(audited) / len(audited) if audited else None,
                }
            )
        return out

    def _score_images(self, embeds: Any, items: list[TaskItem]) -> list[tuple[float, float | None]]:
        """(paper_vqa, vqa) for each image row of `embeds`, whose prompt row is items[row]."""
        free_pairs: list[tuple[int, str]] = []
        fallback_pairs: list[tuple[int, str]] = []
        for row, it in enumerate(items):
            raw, aud = _questions(it)
            qs = {_q(r, "question", "") for r in raw if _q(r, "question", "") and _q(r, "answer", "")}
            qs |= {_q(r, "question", "") for r in aud if _q(r, "question", "") and not is_mc(r)}
            free_pairs += [(row, q) for q in sorted(qs)]
            if not raw:
                fallback_pairs.append(
                    (row, FALLBACK_TEMPLATE.format(prompt=it.prompt if isinstance(it, T2IVQAItem) else ""))
                )
        answers = self.blip.answer(embeds, free_pairs) if free_pairs else []
        free: list[dict[str, str]] = [{} for _ in items]
        for (row, q), a in zip(free_pairs, answers, strict=True):
            free[row][q] = a
        fb: dict[int, float] = {}
        if fallback_pairs:
            fb_ans = self.blip.answer(embeds, fallback_pairs, max_length=FALLBACK_MAX_LENGTH)
            fb = {row: fallback_score(a) for (row, _), a in zip(fallback_pairs, fb_ans, strict=True)}
        out = []
        for row, it in enumerate(items):
            raw, aud = _questions(it)
            chosen: dict[str, str] = {}
            for r in aud:
                if is_mc(r) and _q(r, "question") not in chosen:
                    choices = [str(c) for c in _q(r, "choices")]
                    lp = self.blip.choice_logprobs(embeds, row, _q(r, "question"), choices)
                    chosen[_q(r, "question")] = choices[max(range(len(choices)), key=lambda k: (lp[k], -k))]
            paper = paper_weighted_match(raw, free[row]) if raw else fb[row]
            audited = audited_weighted_match(aud, free[row], chosen) if aud else None
            out.append((paper, audited))
        return out
