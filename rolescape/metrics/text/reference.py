"""Reference-based text metrics: `ref_sim`, `rouge_l`, `bleu` against the GT response.

Tasks: `dialogue` (400 held-out text scenes) and the text side of `roleplay` (65 test scenes); the
reference is the item's `reference_response`.

* `ref_sim`: cosine of the sentence embeddings of response and reference (the run's text encoder:
  all-mpnet-base-v2 in profile `paper`, all-MiniLM-L6-v2 in profile `offline`).
* `rouge_l`: `rouge-score` ROUGE-L F-measure (Porter stemmer on, the library's tokenizer, which
  lowercases and keeps ASCII letters and digits).
* `bleu`: `sacrebleu` sentence BLEU divided by 100, exponential smoothing (`smooth_method='exp'`,
  the sacrebleu default) with effective order (n-gram orders longer than the hypothesis are
  ignored), tokenizer 13a, case-sensitive; the exact signature is `BLEU_SIGNATURE`.

An empty or blank response scores 0 on all three (it says nothing); a prediction without `text` gets
None (the engine reports it as missing). If the encoder cannot be loaded, ROUGE-L and BLEU still run
and `ref_sim` is reported as skipped with the reason (`ctx.skip_metric`; its values are None, never 0).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import cache
from typing import Any

from rolescape.errors import ModelUnavailable
from rolescape.metrics.base import ItemBatch, MetricFamily, ScoreContext, Scores
from rolescape.schemas.tasks import DialogueItem, RoleplayItem

METRICS = ("ref_sim", "rouge_l", "bleu")
VERSION = "text_ref-v1"

_rouge_lock = threading.Lock()


@cache
def _rouge_scorer() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


@cache
def _bleu() -> Any:
    from sacrebleu.metrics import BLEU

    metric = BLEU(smooth_method="exp", effective_order=True, tokenize="13a", lowercase=False)
    metric.sentence_score("a", ["a"])  # fixes the reference count, which the signature needs
    return metric


def bleu_signature() -> str:
    return str(_bleu().get_signature())


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure (rouge-score, stemmer on); 0 for an empty prediction or reference."""
    if not prediction.strip() or not reference.strip():
        return 0.0
    with _rouge_lock:  # the scorer's stemmer cache is not thread-safe
        return float(_rouge_scorer().score(reference, prediction)["rougeL"].fmeasure)


def bleu(prediction: str, reference: str) -> float:
    """sacrebleu sentence BLEU / 100 (exp smoothing, effective order); 0 for an empty prediction."""
    if not prediction.strip() or not reference.strip():
        return 0.0
    return float(_bleu().sentence_score(prediction, [reference]).score) / 100.0


def ref_sims(
    encoder: Any, predictions: Sequence[str], references: Sequence[str], batch_size: int = 32
) -> list[float]:
    """Cosine of normalised embeddings, pairwise; 0 where the prediction is blank."""
    import numpy as np

    texts = list(predictions) + list(references)
    emb = encoder.encode(texts, batch_size=batch_size)
    n = len(predictions)
    cos = np.einsum("ij,ij->i", emb[:n].astype(np.float64), emb[n:].astype(np.float64))
    return [0.0 if not p.strip() else float(c) for p, c in zip(predictions, cos, strict=True)]


class ReferenceFamily(MetricFamily):
    name = "text_ref"
    tasks = ("dialogue", "roleplay")

    def __init__(self) -> None:
        self.encoder: Any = None
        self.skipped_metrics: dict[str, str] = {}

    def metric_names(self, task: str) -> list[str]:
        return list(METRICS) if task in self.tasks else []

    def prepare(self, ctx: ScoreContext, tasks: Sequence[str]) -> None:
        from rolescape.metrics.text.encoders import encoder_for

        _rouge_scorer()
        _bleu()
        try:
            self.encoder = encoder_for(ctx)
        except ModelUnavailable as e:
            self.encoder = None
            self.skipped_metrics = {"ref_sim": str(e)}
            skip = getattr(ctx, "skip_metric", None)
            if skip is not None:
                for t in tasks:
                    if t in self.tasks:
                        skip("ref_sim", str(e), t)

    def score(self, batch: ItemBatch, ctx: ScoreContext) -> list[Scores]:
        out: list[Scores] = []
        idx, preds, refs = [], [], []
        for i, (item, pred) in enumerate(zip(batch.typed, batch.predictions, strict=True)):
            text = pred.text
            ref = item.reference_response if isinstance(item, (DialogueItem, RoleplayItem)) else ""
            ref = ref or ""
            if text is None:
                out.append(dict.fromkeys(METRICS))
                continue
            out.append({"ref_sim": None, "rouge_l": rouge_l(text, ref), "bleu": bleu(text, ref)})
            idx.append(i)
            preds.append(text)
            refs.append(ref)
        if self.encoder is not None and idx:
            for i, s in zip(idx, ref_sims(self.encoder, preds, refs, ctx.batch_size), strict=True):
                out[i]["ref_sim"] = s
        return out

    def version(self) -> str:
        enc = self.encoder.key() if self.encoder is not None else "no-encoder"
        return f"{VERSION}|{enc}|rouge-score:rougeL:stemmer|{bleu_signature()}"
