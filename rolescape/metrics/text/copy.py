"""`text_copy_rate`: does a response reproduce a train response of its character? (protocol v2)

Overlap of two texts = ROUGE-L F1 over lower-cased word tokens (Lin 2004: LCS-based precision and
recall, F with beta = 1). A response is a copy when its max overlap with the character's train
responses (dialogue-extension train + annotation train scenes, the style classifier's corpus) exceeds
tau_txt. tau_txt was calibrated on the release copy (`calibrate_text_threshold`,
bench/results/copy_calibration.json): above the max overlap of every GT test response, below that of
every train response under light edits (case, punctuation, a dropped / swapped / inserted word,
a 10 % truncation).

Search: an inverted index of word 3-grams (and single words, for queries shorter than 8 tokens)
proposes the `n_candidates` train texts sharing most of them; ROUGE-L is computed on those.
"""

from __future__ import annotations

import random
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any, ClassVar

from rolescape.metrics.base import ItemBatch, MetricFamily, ScoreContext, Scores

TEXT_COPY_THRESHOLD = 0.73
N_CANDIDATES = 8
SHINGLE = 3
_TOK = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")


def tokens(text: str) -> list[str]:
    return _TOK.findall(text.lower().replace("’", "'"))


def lcs_len(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence (O(len(a)·len(b)) time, O(len(b)) memory)."""
    if not a or not b:
        return 0
    if len(a) < len(b):
        a, b = b, a
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, 1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


def rouge_l_f(a: Sequence[str], b: Sequence[str]) -> float:
    """ROUGE-L F1 of two token lists (0 when either is empty)."""
    n = lcs_len(a, b)
    if n == 0:
        return 0.0
    p, r = n / len(a), n / len(b)
    return 2 * p * r / (p + r)


SHORT = 8  # queries shorter than this also look candidates up by single words


def _shingles(toks: Sequence[str], with_words: bool = True) -> set[tuple[str, ...]]:
    """Word 3-grams, plus single words for short texts (an edit breaks most 3-grams of a short text)."""
    out = {tuple(toks[i : i + SHINGLE]) for i in range(len(toks) - SHINGLE + 1)}
    if with_words or len(toks) < SHINGLE:
        out.update((t,) for t in toks)
    return out


class OverlapIndex:
    """Train texts grouped by owner (a character slug), searchable for the max ROUGE-L overlap."""

    def __init__(self, texts: Sequence[str], owners: Sequence[str], n_candidates: int = N_CANDIDATES):
        self.texts = list(texts)
        self.owners = list(owners)
        self.toks = [tokens(t) for t in self.texts]
        self.n_candidates = n_candidates
        self._index: dict[tuple[str, ...], list[int]] = defaultdict(list)
        for i, tk in enumerate(self.toks):
            for s in _shingles(tk, with_words=True):
                self._index[s].append(i)

    def matches(
        self, text: str, owner: str | None = None, threshold: float | None = None
    ) -> list[tuple[int, float]]:
        """(train index, overlap) of the best candidates, best first; restricted to `owner` if given
        and to overlaps above `threshold` if given."""
        tk = tokens(text)
        if not tk:
            return []
        hits: Counter[int] = Counter()
        for s in _shingles(tk, with_words=len(tk) < SHORT):
            for i in self._index.get(s, ()):
                if owner is None or self.owners[i] == owner:
                    hits[i] += 1
        cands = sorted(hits, key=lambda i: (-hits[i], i))[: self.n_candidates]
        scored = [(i, rouge_l_f(tk, self.toks[i])) for i in cands]
        if threshold is not None:
            scored = [(i, s) for i, s in scored if s > threshold]
        return sorted(scored, key=lambda x: (-x[1], x[0]))

    def max_overlap(self, text: str, owner: str | None = None, exclude: int | None = None) -> float:
        best = [s for i, s in self.matches(text, owner) if i != exclude]
        return best[0] if best else 0.0


def light_edits(text: str, seed: int) -> dict[str, str]:
    """Edits of a train response that must still count as a copy (name -> edited text)."""
    rng = random.Random(seed)
    words = text.split()
    out = {"lower": text.lower(), "no_punct": re.sub(r"[^\w\s'’]", " ", text)}
    if len(words) >= 4:
        w = list(words)
        del w[rng.randrange(len(w))]
        out["drop_word"] = " ".join(w)
        w = list(words)
        i = rng.randrange(len(w) - 1)
        w[i], w[i + 1] = w[i + 1], w[i]
        out["swap_words"] = " ".join(w)
        w = list(words)
        w.insert(rng.randrange(len(w) + 1), "well")
        out["insert_word"] = " ".join(w)
        out["truncate10"] = " ".join(words[: max(1, round(len(words) * 0.9))])
    return out


def calibrate_text_threshold(data: Any, seed: int = 0) -> dict[str, Any]:
    """Calibrate tau_txt on a built dataset: negatives are the GT dialogue-test responses' max overlap
    with their character's train responses; positives are lightly edited train responses."""
    from rolescape.metrics.image.copy import choose_threshold
    from rolescape.metrics.text.style import heldout_corpus, training_corpus

    texts, owners = training_corpus(data)
    index = OverlapIndex(texts, owners)
    h_texts, h_owners = heldout_corpus(data)
    negatives = [(t, index.max_overlap(t, o)) for t, o in zip(h_texts, h_owners, strict=True)]
    positives: list[tuple[int, str, float]] = []
    n_empty = 0
    for i, (t, o) in enumerate(zip(texts, owners, strict=True)):
        for name, edited in light_edits(t, seed + i).items():
            if not tokens(edited):  # an edit that leaves no word (e.g. "..." without punctuation)
                n_empty += 1
                continue
            positives.append((i, name, index.max_overlap(edited, o)))
    rep = choose_threshold([s for _, s in negatives], [s for *_, s in positives])
    rep.update(
        {
            "test_responses_flagged": [t[:80] for t, s in negatives if s > rep["tau"]],
            "n_edited_missed": sum(1 for *_, s in positives if s <= rep["tau"]),
            "edited_missed": sorted(
                {f"{owners[i]}:{texts[i][:60]}:{n}" for i, n, s in positives if s <= rep["tau"]}
            ),
            "n_edits_without_words_skipped": n_empty,
            "top_negatives": [[t[:60], round(s, 4)] for t, s in sorted(negatives, key=lambda x: -x[1])[:5]],
            "negatives": "max ROUGE-L F of each GT dialogue-test response to its character's train responses",
            "positives": "max ROUGE-L F of each train response under lower / no_punct / drop_word / "
            "swap_words / insert_word / truncate10 to its character's train responses",
        }
    )
    return rep


TEXT_TASKS = ("dialogue", "roleplay", "memorization", "personality")


class TextCopyFamily(MetricFamily):
    """`text_copy_rate` (1 = the response reproduces a train response of its character) and
    `text_copy_overlap` (the max ROUGE-L F itself)."""

    name: ClassVar[str] = "text_copy"
    tasks: ClassVar[tuple[str, ...]] = TEXT_TASKS
    uses_device: ClassVar[bool] = False
    VERSION: ClassVar[str] = "text-copy-1"

    def __init__(self, threshold: float = TEXT_COPY_THRESHOLD, n_candidates: int = N_CANDIDATES) -> None:
        self.threshold = threshold
        self.n_candidates = n_candidates
        self.index: OverlapIndex | None = None

    def metric_names(self, task: str) -> list[str]:
        return ["text_copy_rate", "text_copy_overlap"] if task in self.tasks else []

    def prepare(self, ctx: ScoreContext, tasks: Sequence[str]) -> None:
        from rolescape.metrics.text.style import training_corpus

        texts, owners = training_corpus(ctx.data)
        self.index = OverlapIndex(texts, owners, self.n_candidates)

    def score(self, batch: ItemBatch, ctx: ScoreContext) -> list[Scores]:
        assert self.index is not None, "prepare() first"
        out: list[Scores] = []
        for item, pred in zip(batch.typed, batch.predictions, strict=True):
            if pred.text is None:
                out.append({"text_copy_rate": None, "text_copy_overlap": None})
                continue
            ov = self.index.max_overlap(pred.text, item.character)
            out.append({"text_copy_rate": float(ov > self.threshold), "text_copy_overlap": ov})
        return out

    def version(self) -> str:
        return f"{self.VERSION}|tau={self.threshold}|k={self.n_candidates}"
