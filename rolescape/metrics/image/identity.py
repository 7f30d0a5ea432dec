"""`image_identity`: does the generated image show the character? (benchmark-protocol.md, image metrics)

Profile `paper`: `clip_i`, `clip_i_gt` (CLIP ViT-L/14), `dino`, `dino_max`, `paper_dino_penalty`
(DINOv2-base), `face_sim`, `no_face` (insightface buffalo_l). Profile `offline`: `effnet_i`,
`effnet_i_gt` (efficientnet_lite0), `dlib_face_sim`, `dlib_no_face` (dlib ResNet), plus any paper
metric whose model is already on disk (nothing is downloaded). A model that cannot be loaded marks its
metrics skipped (ctx.skip_metric) and the others still run. Option `identity_encoders` (a list of
encoder names) restricts the run to those encoders.

Definitions, per generated image g, over the character's train images r (its "references"):

* `*_i` = mean_r cos(E(g), E(r)); `*_i_gt` = cos(E(g), E(GT image)) for roleplay/t2i rows;
* `dino` / `dino_max` = mean / max_r cos of L2-normalised DINOv2 CLS tokens;
* `paper_dino_penalty` = -2(s-0.9) if s>0.9, -2(0.5-s) if s<0.5, else 0, with s = `dino_max`
  (thresholds of the release's run config; options `dino_threshold_high` / `dino_threshold_low`);
* `face_sim` = mean cos between g's largest face and every reference face; `no_face` = 1 when g has
  no detected face. Characters whose references mostly have no face (fewer than half,
  option `face_min_ref_fraction`) report None for both: the metric does not apply to them.

An item with several images (t2i_vqa samples k per prompt) scores the mean over its images;
`face_sim` is the mean over the images that have a face and `no_face` the fraction without one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rolescape.errors import ModelUnavailable
from rolescape.metrics.base import ItemBatch, MetricFamily, ScoreContext, Scores
from rolescape.metrics.image._decode import gt_source, prediction_sources, reference_sources
from rolescape.metrics.image.copy import COPY_DESCRIPTOR, IMAGE_COPY_THRESHOLD, CopyBank, novel_similarity

GT_TASKS = ("roleplay", "t2i")
# encoder -> (metric names, which have a GT variant)
PAPER_ENCODERS = ("clip", "dino", "face")
OFFLINE_ENCODERS = ("effnet", "dlib_face", "clip", "dino", "face")
METRICS: dict[str, tuple[str, ...]] = {
    "clip": ("clip_i", "clip_i_gt"),
    "dino": ("dino", "dino_max", "paper_dino_penalty"),
    "face": ("face_sim", "no_face"),
    "effnet": ("effnet_i", "effnet_i_gt"),
    "dlib_face": ("dlib_face_sim", "dlib_no_face"),
}
FACE_ENCODERS = ("face", "dlib_face")
FACE_METRICS = {"face": ("face_sim", "no_face"), "dlib_face": ("dlib_face_sim", "dlib_no_face")}
DINO_HIGH, DINO_LOW = 0.9, 0.5
FACE_MIN_REF_FRACTION = 0.5


def dino_penalty(s: float, high: float = DINO_HIGH, low: float = DINO_LOW) -> float:
    """The release's DINO band penalty (§5.3): 0 inside [low, high], linear below and above."""
    if s > high:
        return -(s - high) * 2.0
    if s < low:
        return -(low - s) * 2.0
    return 0.0


def _mean(xs: Sequence[float]) -> float | None:
    return float(sum(xs) / len(xs)) if xs else None


def _has_gt_metric(encoder: str) -> bool:
    return f"{METRICS[encoder][0]}_gt" in METRICS[encoder]


def encoders_for(profile: str, only: Sequence[str] | None = None) -> tuple[str, ...]:
    """The profile's encoders, optionally restricted (option `identity_encoders`, e.g. ["effnet"])."""
    names = OFFLINE_ENCODERS if profile == "offline" else PAPER_ENCODERS
    if only:
        unknown = [e for e in only if e not in METRICS]
        if unknown:
            raise ModelUnavailable(
                f"identity_encoders: unknown encoder(s) {unknown} (known: {sorted(METRICS)})"
            )
        return tuple(dict.fromkeys(only))  # an explicit choice, in either profile
    return names


def metrics_for(encoder: str, task: str) -> list[str]:
    return [m for m in METRICS[encoder] if task in GT_TASKS or not m.endswith("_gt")]


def novel_name(encoder: str) -> str:
    """The copy-robust form of an encoder's train-image identity metric (`effnet_i` -> `effnet_i_novel`)."""
    return f"{METRICS[encoder][0]}_novel"


def copy_metrics_for(encoder: str) -> list[str]:
    return [novel_name(encoder)]


class _RefBank:
    """Reference embeddings of one character under one encoder (computed once per run, cached on disk)."""

    def __init__(self, vecs: list[Any]):
        import numpy as np

        self.n = len(vecs)
        self.positions = [i for i, v in enumerate(vecs) if v.size]  # train-image index of each row
        kept = [vecs[i] for i in self.positions]
        self.n_nonempty = len(kept)
        self.matrix = np.stack(kept).astype(np.float32) if kept else None


class IdentityFamily(MetricFamily):
    name = "image_identity"
    tasks = ("roleplay", "t2i", "t2i_vqa")

    def __init__(self) -> None:
        self.profile: str | None = None
        self.encoders: dict[str, Any] = {}
        self._emb: dict[str, Any] = {}
        self._banks: dict[tuple[str, str], _RefBank] = {}
        self.high, self.low = DINO_HIGH, DINO_LOW
        self.face_min_fraction = FACE_MIN_REF_FRACTION
        self.only: list[str] | None = None
        # protocol v2 copy detection (model-free) and its calibrated threshold
        self.copy_threshold: float | None = IMAGE_COPY_THRESHOLD
        self._copy_banks: dict[str, CopyBank] = {}

    def metric_names(self, task: str) -> list[str]:
        if task not in self.tasks:
            return []
        if self.profile:
            names = encoders_for(self.profile, self.only)
        else:
            names = tuple(dict.fromkeys(OFFLINE_ENCODERS + PAPER_ENCODERS))
        v1 = [m for e in names for m in metrics_for(e, task)]
        return v1 + ["copy_rate"] + [novel_name(e) for e in names]

    def prepare(self, ctx: ScoreContext, tasks: Sequence[str]) -> None:
        from rolescape.metrics.encoders import get_encoder

        opts = ctx.options or {}
        only = opts.get("identity_encoders")
        self.only = [only] if isinstance(only, str) else (list(only) if only else None)
        self.profile = ctx.profile
        self.high = float(opts.get("dino_threshold_high", DINO_HIGH))
        self.low = float(opts.get("dino_threshold_low", DINO_LOW))
        self.face_min_fraction = float(opts.get("face_min_ref_fraction", FACE_MIN_REF_FRACTION))
        reasons = []
        for enc in encoders_for(ctx.profile, self.only):
            try:
                self.encoders[enc] = get_encoder(enc, ctx)
            except ModelUnavailable as e:
                reasons.append(str(e))
                for m in (*METRICS[enc], novel_name(enc)):
                    ctx.skip_metric(m, str(e))
        if not self.encoders:
            raise ModelUnavailable("; ".join(reasons))
        self._prepare_copy(ctx)

    def _prepare_copy(self, ctx: ScoreContext) -> None:
        """Copy detection is model-free (thumbnail correlation, rolescape.metrics.image.copy); a
        threshold of None (option `copy_threshold: null`) switches copy_rate and *_novel off."""
        opts = ctx.options or {}
        if "copy_threshold" in opts:
            t = opts["copy_threshold"]
            self.copy_threshold = None if t is None else float(t)
        if self.copy_threshold is None:
            for m in ["copy_rate"] + [novel_name(e) for e in METRICS]:
                ctx.skip_metric(m, "copy detection switched off (copy_threshold is null)")

    def version(self) -> str:
        parts = [self.name, f"dino_band={self.low},{self.high}", f"face_min_ref={self.face_min_fraction}"]
        parts.append(f"copy={COPY_DESCRIPTOR}>{self.copy_threshold}")
        for _name, enc in sorted(self.encoders.items(), key=lambda kv: kv[0]):
            for i in enc.model_infos():
                parts.append(f"{i.name}={i.id}@{i.revision}/{i.dtype}/{i.preprocessing}")
        return "|".join(parts)

    # ------------------------------------------------------------------------------------------ score
    def _embedder(self, enc_name: str) -> Any:
        enc = self.encoders[enc_name]
        return enc.image if enc_name == "clip" else enc

    def _bank(self, enc_name: str, slug: str, ctx: ScoreContext) -> _RefBank:
        if (enc_name, slug) not in self._banks:
            self._prefetch_banks(enc_name, [slug], ctx)
        return self._banks[(enc_name, slug)]

    def _prefetch_banks(self, enc_name: str, slugs: Sequence[str], ctx: ScoreContext) -> None:
        """The reference banks of every character in `slugs` not seen yet, in one embedding call (so
        the encoder gets full batches, not one short batch per character); the copy banks of those
        characters are built from the same decoded pixels (each reference is decoded once)."""
        from rolescape.metrics.encoders.pipeline import ImageSource, decode_source, embedding_for
        from rolescape.metrics.image.copy import thumb_views

        new = [s for s in dict.fromkeys(slugs) if (enc_name, s) not in self._banks]
        if not new:
            return
        per = {s: reference_sources(ctx, s) for s in new}
        want_copy = [s for s in new if self.copy_threshold is not None and s not in self._copy_banks]
        views: dict[str, Any] = {}

        def keep_views(src: ImageSource, img: Any) -> None:
            views.setdefault(src.key, thumb_views(img))

        emb = embedding_for(self._embedder(enc_name), ctx, self._emb)
        vecs = emb([x for s in new for x in per[s]], on_decoded=keep_views if want_copy else None)
        pos = 0
        for s in new:
            self._banks[(enc_name, s)] = _RefBank(vecs[pos : pos + len(per[s])])
            pos += len(per[s])
        for s in want_copy:  # references that were cache hits are decoded here, once
            self._copy_banks[s] = CopyBank(
                views=[
                    views[x.key] if x.key in views else thumb_views(decode_source(x, ctx.alpha))
                    for x in per[s]
                ]
            )

    def _face_applies(self, bank: _RefBank) -> bool:
        return bank.n > 0 and bank.n_nonempty > 0 and bank.n_nonempty / bank.n >= self.face_min_fraction

    def score(self, batch: ItemBatch, ctx: ScoreContext) -> list[Scores]:
        from rolescape.metrics.encoders.pipeline import embedding_for

        sources = prediction_sources(batch, ctx)
        out: list[Scores] = [{} for _ in batch.items]
        persist = bool((ctx.options or {}).get("cache_predictions", True))
        item_vecs: dict[str, list[list[Any]]] = {}
        thumbs: dict[str, Any] = {}  # copy-detection thumbnail of each generated image decoded here
        hook = None
        if self.copy_threshold is not None:
            from rolescape.metrics.encoders.pipeline import ImageSource
            from rolescape.metrics.image.copy import thumb_vector

            def keep_thumb(src: ImageSource, img: Any) -> None:
                if src.key not in thumbs:
                    thumbs[src.key] = thumb_vector(img)

            hook = keep_thumb
        for enc_name in self.encoders:
            emb = embedding_for(self._embedder(enc_name), ctx, self._emb)
            self._prefetch_banks(enc_name, [it.character for it in batch.typed], ctx)
            banks = [self._bank(enc_name, it.character, ctx) for it in batch.typed]
            if enc_name in FACE_ENCODERS:  # detect faces only where the metric applies
                wanted = [
                    srcs if self._face_applies(b) else [] for srcs, b in zip(sources, banks, strict=True)
                ]
            else:
                wanted = sources
            flat = [s for srcs in wanted for s in srcs]
            vecs = emb(flat, persist=persist, on_decoded=hook)
            gts: list[Any] = [None] * len(batch.items)
            if _has_gt_metric(enc_name) and batch.task in GT_TASKS:
                gsrc = [gt_source(it) for it in batch.typed]
                present = [g for g in gsrc if g is not None]
                gvec = iter(emb(present)) if present else iter(())
                gts = [next(gvec) if g is not None else None for g in gsrc]
            pos = 0
            for i, srcs in enumerate(wanted):
                v = vecs[pos : pos + len(srcs)]
                pos += len(srcs)
                item_vecs.setdefault(enc_name, []).append(v)
                out[i].update(self._item_scores(enc_name, batch.task, v, banks[i], gts[i]))
        if self.copy_threshold is not None:
            self._copy_scores(batch, ctx, sources, item_vecs, out, thumbs)
        return out

    def _copy_bank(self, slug: str, ctx: ScoreContext) -> CopyBank:
        from rolescape.metrics.image._decode import decode_source

        if slug not in self._copy_banks:
            self._copy_banks[slug] = CopyBank(
                [decode_source(s, ctx.alpha) for s in reference_sources(ctx, slug)]
            )
        return self._copy_banks[slug]

    def _copy_scores(
        self,
        batch: ItemBatch,
        ctx: ScoreContext,
        sources: list[list[Any]],
        item_vecs: dict[str, list[list[Any]]],
        out: list[Scores],
        thumbs: dict[str, Any],
    ) -> None:
        """copy_rate and the *_novel identity of every item (protocol v2): near-duplicates are the train
        images whose thumbnail correlation with the answer image exceeds the threshold."""
        from rolescape.metrics.image._decode import decode_source

        tau = float(self.copy_threshold or 0.0)
        for i, item in enumerate(batch.typed):
            res: Scores = {"copy_rate": None, **{novel_name(e): None for e in self.encoders}}
            cbank = self._copy_bank(item.character, ctx)
            if not sources[i] or not cbank.n:
                out[i].update(res)
                continue
            copy_sims = [  # generated images decoded for an encoder in this chunk are not decoded again
                cbank.similarities_of(thumbs[s.key])
                if s.key in thumbs
                else cbank.similarities(decode_source(s, ctx.alpha))
                for s in sources[i]
            ]
            masks = [cs > tau for cs in copy_sims]
            res["copy_rate"] = float(sum(bool(m.any()) for m in masks) / len(masks))
            for enc_name in self.encoders:
                bank = self._bank(enc_name, item.character, ctx)
                vecs = item_vecs[enc_name][i]
                if bank.matrix is None or not vecs or len(vecs) != len(masks):
                    continue
                vals = [
                    novel_similarity(bank.matrix @ v, bank.positions, m, cs, bank.matrix)
                    for v, m, cs in zip(vecs, masks, copy_sims, strict=True)
                    if v.size
                ]
                res[novel_name(enc_name)] = _mean([x for x in vals if x is not None])
            out[i].update(res)

    def _item_scores(self, enc: str, task: str, vecs: list[Any], bank: _RefBank, gt: Any) -> Scores:
        import numpy as np

        names = metrics_for(enc, task)
        res: Scores = dict.fromkeys(names)
        if enc in FACE_ENCODERS:
            sim_name, nf_name = FACE_METRICS[enc]
            if not vecs or bank.matrix is None or not self._face_applies(bank):
                return res
            with_face = [v for v in vecs if v.size]
            res[nf_name] = 1.0 - len(with_face) / len(vecs)
            res[sim_name] = _mean([float(np.mean(bank.matrix @ v)) for v in with_face])
            return res
        if not vecs:
            return res
        if bank.matrix is not None:
            sims = [bank.matrix @ v for v in vecs]  # one row of cosines per generated image
            if enc == "dino":
                res["dino"] = _mean([float(np.mean(s)) for s in sims])
                res["dino_max"] = _mean([float(np.max(s)) for s in sims])
                res["paper_dino_penalty"] = _mean(
                    [dino_penalty(float(np.max(s)), self.high, self.low) for s in sims]
                )
            else:
                res[names[0]] = _mean([float(np.mean(s)) for s in sims])
        gt_name = f"{METRICS[enc][0]}_gt"
        if gt is not None and gt_name in res:
            res[gt_name] = _mean([float(np.dot(v, gt)) for v in vecs])
        return res
