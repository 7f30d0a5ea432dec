"""Cross-fitted style classifiers (protocol v2): a response is scored by a model that never saw the
train dialogues it overlaps.

The train texts are dealt into K folds per character, with texts that overlap each other (ROUGE-L F
above the copy threshold) kept in one fold; fold j's model is fitted without fold j. Fitted models are
kept in the run's artefact store (`style-cf`, keyed by version, manifest, encoder, config, seed and
the excluded texts), so a rerun fits nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rolescape.io import hash_obj
from rolescape.metrics.text.style import (
    CF_VERSION,
    N_FOLDS,
    StyleClassifier,
    StyleConfig,
    cache_model,
    cached_model,
    store,
)


def overlap_folds(
    texts: Sequence[str], owners: Sequence[str], index: Any, threshold: float, k: int = N_FOLDS
) -> list[int]:
    """A fold per train text such that train texts overlapping each other (> threshold) share a fold.

    Overlapping texts are joined into clusters (union-find over the overlap index); clusters are
    dealt round-robin into `k` folds per character of their first member, in text order, so every
    character is spread over all folds and a copied train text has all its overlaps in one fold.
    """
    parent = list(range(len(texts)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, t in enumerate(texts):
        for j, _ in index.matches(t, threshold=threshold):
            ri, rj = find(i), find(j)
            if ri != rj:
                parent[max(ri, rj)] = min(ri, rj)
    fold_of_root: dict[int, int] = {}
    dealt: Counter[str] = Counter()
    folds = []
    for i in range(len(texts)):
        r = find(i)
        if r not in fold_of_root:
            fold_of_root[r] = dealt[owners[r]] % k
            dealt[owners[r]] += 1
        folds.append(fold_of_root[r])
    return folds


class CrossFitStyle:
    """K style classifiers, each fitted without one fold of the train dialogues, plus on-demand ones.

    `proba(text)`: the train texts the response overlaps (> tau_txt) decide the model: none -> the mean
    of the fold models; all in one fold -> that fold's model; several folds -> a model fitted without
    exactly those texts (cached in memory and under `cache_dir`).
    """

    def __init__(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        embeddings: np.ndarray,
        encoder_info: dict[str, Any],
        config: StyleConfig,
        *,
        threshold: float,
        k: int = N_FOLDS,
        seed: int = 0,
        cache_dir: Path | None = None,
        manifest: str = "",
    ) -> None:
        from rolescape.metrics.text.copy import OverlapIndex

        self.texts, self.labels = list(texts), list(labels)
        self.embeddings = embeddings
        self.encoder_info, self.config, self.seed = encoder_info, config, seed
        self.threshold, self.k = threshold, k
        self.index = OverlapIndex(self.texts, self.labels)
        self.folds = overlap_folds(self.texts, self.labels, self.index, threshold, k)
        self.cache_dir, self.manifest = cache_dir, manifest
        self.store = store(cache_dir, "style-cf", CF_VERSION)
        self._models: dict[tuple[int, ...], StyleClassifier] = {}
        self.n_on_demand = 0
        self.report: dict[str, Any] = {}
        self.fold_models = [
            self._model(tuple(i for i, f in enumerate(self.folds) if f == j)) for j in range(k)
        ]
        self.classes = sorted(set(self.labels))

    def _key(self, excluded: tuple[int, ...]) -> str:
        return hash_obj(
            {
                "version": CF_VERSION,
                "manifest": self.manifest,
                "encoder": self.encoder_info,
                "config": self.config.to_json(),
                "seed": self.seed,
                "excluded": hash_obj([self.texts[i] for i in excluded]),
            }
        )[:20]

    def _model(self, excluded: tuple[int, ...]) -> StyleClassifier:
        if excluded in self._models:
            return self._models[excluded]
        entry = self._key(excluded)
        model = cached_model(self.store, entry)
        if model is None:
            drop = set(excluded)
            keep = [i for i in range(len(self.texts)) if i not in drop]
            model = StyleClassifier.fit(
                [self.texts[i] for i in keep],
                [self.labels[i] for i in keep],
                self.embeddings[keep],
                self.encoder_info,
                self.config,
                self.seed,
            )
            model.meta["excluded"] = len(excluded)
            cache_model(self.store, entry, model)
        self._models[excluded] = model
        return model

    def model_for(self, text: str) -> tuple[list[StyleClassifier], str]:
        """The model(s) that may score `text`, and how they were chosen (for items.jsonl info)."""
        hits = [i for i, _ in self.index.matches(text, threshold=self.threshold)]
        if not hits:
            return self.fold_models, "mean_of_folds"
        folds = {self.folds[i] for i in hits}
        if len(folds) == 1:
            j = folds.pop()
            return [self.fold_models[j]], f"fold_{j}"
        excluded = tuple(sorted(set(hits)))
        if excluded not in self._models:
            self.n_on_demand += 1
        return [self._model(excluded)], "on_demand"

    def proba(self, texts: Sequence[str], embeddings: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """Rows over `self.classes` for each text, and the model choice per text."""
        out = np.zeros((len(texts), len(self.classes)))
        how: list[str] = []
        for r, t in enumerate(texts):
            models, why = self.model_for(t)
            acc = np.zeros(len(self.classes))
            for m in models:
                p = m.predict_proba([t], embeddings[r : r + 1])[0]
                for c, v in zip(m.classes, p, strict=True):
                    acc[self.classes.index(c)] += v
            out[r] = acc / len(models)
            how.append(why)
        return out, how

    def heldout(self, texts: Sequence[str], labels: Sequence[str], embeddings: np.ndarray) -> dict[str, Any]:
        proba, how = self.proba(texts, embeddings)
        idx = np.array([self.classes.index(y) if y in self.classes else -1 for y in labels])
        ok = idx >= 0
        acc = float(((proba.argmax(1) == idx) & ok).mean()) if len(labels) else None
        return {"n": len(labels), "accuracy": acc, "how": dict(Counter(how))}
