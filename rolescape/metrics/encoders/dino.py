"""`dino`: DINOv2 CLS features (profile `paper`), as the release's DINOScorer (§5.3).

transformers `Dinov2Model` `facebook/dinov2-base` (or `--model dino=DIR`), `last_hidden_state[:, 0]`
(the CLS token after the final layer norm), L2-normalised. Preprocessing is the model's
AutoImageProcessor with the PIL backend (the release's transformers 4.44 default): Resize(shortest
edge 256, bicubic), CenterCrop(224), Rescale(1/255), ImageNet mean/std. A folder without a
preprocessor config gets exactly those DINOv2 defaults.
"""

from __future__ import annotations

from typing import Any

from rolescape.errors import ModelUnavailable
from rolescape.metrics.base import ScoreContext
from rolescape.metrics.encoders.base import (
    ImageEmbedder,
    autocast,
    dtype_label,
    model_info,
    path_fingerprint,
    precision_of,
    resolve_source,
    unavailable,
)
from rolescape.schemas.results import ModelInfo

HUB_ID = "facebook/dinov2-base"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def dinov2_default_processor() -> Any:
    """DINOv2's published preprocessor config, built without a download."""
    from transformers.models.bit.image_processing_pil_bit import BitImageProcessorPil

    return BitImageProcessorPil(
        do_resize=True,
        size={"shortest_edge": 256},
        resample=3,
        do_center_crop=True,
        crop_size={"height": 224, "width": 224},
        do_rescale=True,
        rescale_factor=1 / 255,
        do_normalize=True,
        image_mean=list(IMAGENET_MEAN),
        image_std=list(IMAGENET_STD),
        do_convert_rgb=True,
    )


def describe_processor(ip: Any) -> str:
    cfg = ip.to_dict()
    size, crop, resample = cfg.get("size"), cfg.get("crop_size"), cfg.get("resample")
    size = size.get("shortest_edge") if isinstance(size, dict) else size
    crop = f"{crop.get('height')}x{crop.get('width')}" if isinstance(crop, dict) else crop
    return (
        f"transformers {type(ip).__name__}: Resize(shortest_edge={size}, resample={resample}) "
        f"CenterCrop({crop}) Rescale({float(cfg.get('rescale_factor', 1 / 255)):.6g}) "
        f"Normalize(mean={tuple(round(float(x), 6) for x in ip.image_mean)}, "
        f"std={tuple(round(float(x), 6) for x in ip.image_std)}); CLS of last_hidden_state, L2-normalised"
    )


class DinoEncoder(ImageEmbedder):
    name = "dino"

    def __init__(self, model: Any, processor: Any, info: ModelInfo, device: str, precision: str):
        self.model, self.processor, self.info = model, processor, info
        self.device, self.precision = device, precision

    @classmethod
    def load(cls, ctx: ScoreContext) -> DinoEncoder:
        try:
            import torch  # noqa: F401
            from transformers import AutoImageProcessor, Dinov2Model
        except ImportError as e:
            raise unavailable("dino", HUB_ID, e, "pip install 'rolescape[metrics]'") from None
        src = resolve_source("dino", ctx, HUB_ID)
        try:
            model = Dinov2Model.from_pretrained(src.location, local_files_only=src.local_only)
        except ModelUnavailable:
            raise
        except Exception as e:
            hint = "offline profile: not in the local cache; " if src.kind == "hub" and src.local_only else ""
            raise unavailable("dino", src.location, e, hint + "give --model dino=DIR") from None
        try:
            ip = AutoImageProcessor.from_pretrained(src.location, local_files_only=True, backend="pil")
        except Exception:
            ip = dinov2_default_processor()
        precision = precision_of(ctx, "dino")
        model.eval().to(ctx.device)
        if src.kind == "local":
            revision = path_fingerprint(src.location)
        else:
            revision = getattr(model.config, "_commit_hash", None)  # type: ignore[assignment]
        info = model_info(
            "dino",
            HUB_ID if src.kind == "hub" else f"transformers:Dinov2Model:{src.location}",
            revision,
            dtype_label(precision),
            describe_processor(ip),
            src.label,
        )
        return cls(model, ip, info, ctx.device, precision)

    @classmethod
    def from_model(cls, model: Any, processor: Any, device: str = "cpu") -> DinoEncoder:
        """Wrap an already-built Dinov2Model (tests, notebooks)."""
        info = model_info("dino", "in-memory", None, "fp32", describe_processor(processor), "local:<memory>")
        return cls(model.eval().to(device), processor, info, device, "fp32")

    def model_infos(self) -> list[ModelInfo]:
        return [self.info]

    def prepare(self, img: Any) -> Any:
        return self.processor(images=img, return_tensors="pt")["pixel_values"][0]

    def encode(self, prepared: list[Any]) -> list[Any]:
        import torch

        with torch.inference_mode(), autocast(self.device, self.precision):
            x = torch.stack(prepared).to(self.device, non_blocking=True)
            cls_tok = self.model(pixel_values=x).last_hidden_state[:, 0, :]
        return list(torch.nn.functional.normalize(cls_tok.float(), dim=-1).cpu().numpy())
