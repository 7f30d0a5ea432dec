"""`clip`: CLIP image and text towers (profile `paper`).

Default: open_clip `ViT-L-14` with the `openai` weights (QuickGELU, the same weights as
`openai/clip-vit-large-patch14`), read as safetensors from the Hub repo
`timm/vit_large_patch14_clip_224.openai`. Alternatives:

* `--model clip=DIR` where DIR holds `open_clip_config.json` + weights (open_clip `local-dir:`), or an
  HF CLIP folder (`config.json` + `model.safetensors` + tokenizer files) -> transformers CLIPModel;
* `--model clip=FILE` (a ViT-L-14 open_clip checkpoint);
* option `clip_backend="hf"` loads `openai/clip-vit-large-patch14` with transformers, as the release.

Two image preprocessings, each its own cache key:

* `default`: the library's own evaluation transform (open_clip: Resize(224, bicubic, shortest side)
  on the PIL image, CenterCrop(224), ToTensor, Normalize with the CLIP mean/std; HF: CLIPImageProcessor
  with the PIL backend);
* `paper`: the released reward's transform (rolescape20-release.md §5.2): the RGB uint8 image as a
  float tensor /255, torchvision Resize(224) on the tensor (shortest side, bilinear, antialias),
  CenterCrop(224), Normalize(CLIP mean/std) - used for `paper_clip_t` = logit_scale.exp()·cos/30,
  which is the release's `logits_per_image / 30`.

Text is tokenised to 77 tokens, truncated (open_clip's tokenizer keeps the end token; HF tokenizer
with padding='max_length', truncation=True as the release).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rolescape.errors import ModelUnavailable
from rolescape.metrics.base import ScoreContext
from rolescape.metrics.encoders.base import (
    ImageEmbedder,
    SplitTransform,
    autocast,
    dtype_label,
    hub_revision_of,
    model_info,
    path_fingerprint,
    precision_of,
    resolve_source,
    unavailable,
)
from rolescape.schemas.results import ModelInfo

OPENCLIP_ARCH = "ViT-L-14"
OPENCLIP_TAG = "openai"
OPENCLIP_HUB = "timm/vit_large_patch14_clip_224.openai"
# safetensors first; the .bin fallback is read with torch.load(weights_only=True)
OPENCLIP_FILES = (
    "open_clip_model.safetensors",
    "open_clip_pytorch_model.safetensors",
    "open_clip_pytorch_model.bin",
)
HF_ID = "openai/clip-vit-large-patch14"
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
CONTEXT_LENGTH = 77
HINT = "give --model clip=PATH (an open_clip folder, an HF CLIP folder or a ViT-L-14 checkpoint)"


def _fmt(v: Sequence[float]) -> str:
    return "(" + ", ".join(f"{float(x):.8g}" for x in v) + ")"


class PaperTransform:
    """The release's CLIP-T image transform (§5.2), on one RGB PIL image -> normalised CHW tensor."""

    def __init__(self, size: int, crop: int | tuple[int, int], mean: Sequence[float], std: Sequence[float]):
        import torchvision.transforms as T

        self.size, self.crop, self.mean, self.std = size, crop, tuple(mean), tuple(std)
        self._t = T.Compose([T.Resize(size), T.CenterCrop(crop), T.Normalize(mean=self.mean, std=self.std)])

    def __call__(self, img: Any) -> Any:
        import numpy as np
        import torch

        arr = np.asarray(img.convert("RGB"), dtype=np.uint8)
        x = torch.from_numpy(arr.copy()).permute(2, 0, 1).to(torch.float32) / 255.0
        return self._t(x)

    def describe(self) -> str:
        return (
            "release §5.2: RGB uint8 -> float tensor /255, torchvision Resize("
            f"{self.size}, bilinear, antialias, shortest side) CenterCrop({self.crop}) "
            f"Normalize(mean={_fmt(self.mean)}, std={_fmt(self.std)})"
        )


class _OpenClip:
    kind = "open_clip"

    def __init__(self, model: Any, preprocess: Any, tokenizer: Any, pp_cfg: Any):
        self.model, self.preprocess, self.tokenizer, self.pp_cfg = model, preprocess, tokenizer, pp_cfg

    @property
    def image_size(self) -> int:
        s = self.pp_cfg.size
        return int(s if isinstance(s, int) else s[0])

    mean = property(lambda self: tuple(self.pp_cfg.mean))
    std = property(lambda self: tuple(self.pp_cfg.std))

    def describe_default(self) -> str:
        c = self.pp_cfg
        return (
            f"open_clip eval transform: Resize({self.image_size}, {c.interpolation}, resize_mode={c.resize_mode}) "
            f"CenterCrop({self.image_size}) ToTensor Normalize(mean={_fmt(c.mean)}, std={_fmt(c.std)})"
        )

    def image_features(self, x: Any) -> Any:
        return self.model.encode_image(x)

    def text_features(self, texts: list[str], device: str) -> Any:
        tokens = self.tokenizer(texts).to(device)
        return self.model.encode_text(tokens)

    def logit_scale(self) -> float:
        return float(self.model.logit_scale.detach().float().exp().item())

    def paper_transform(self) -> PaperTransform:
        return PaperTransform(self.image_size, self.image_size, self.mean, self.std)


class _HFClip:
    kind = "transformers"

    def __init__(self, model: Any, tokenizer: Any, image_processor: Any):
        self.model, self.tokenizer, self.image_processor = model, tokenizer, image_processor

    def _sizes(self) -> tuple[int, int]:
        cfg = self.image_processor.to_dict()  # plain dicts, as the release reads them
        size, crop = cfg.get("size"), cfg.get("crop_size")
        size = size.get("shortest_edge") if isinstance(size, dict) else size
        crop = crop.get("height") if isinstance(crop, dict) else crop
        return int(size or 224), int(crop or 224)

    mean = property(lambda self: tuple(self.image_processor.image_mean))
    std = property(lambda self: tuple(self.image_processor.image_std))

    def preprocess(self, img: Any) -> Any:
        return self.image_processor(images=img, return_tensors="pt")["pixel_values"][0]

    def describe_default(self) -> str:
        size, crop = self._sizes()
        return (
            f"transformers {type(self.image_processor).__name__}: Resize(shortest_edge={size}, bicubic) "
            f"CenterCrop({crop}) Rescale(1/255) Normalize(mean={_fmt(self.mean)}, std={_fmt(self.std)})"
        )

    @staticmethod
    def _pooled(out: Any) -> Any:
        return out if hasattr(out, "shape") else out.pooler_output

    def image_features(self, x: Any) -> Any:
        return self._pooled(self.model.get_image_features(pixel_values=x))

    def text_features(self, texts: list[str], device: str) -> Any:
        enc = self.tokenizer(
            texts, padding="max_length", truncation=True, max_length=CONTEXT_LENGTH, return_tensors="pt"
        ).to(device)
        return self._pooled(self.model.get_text_features(**enc))

    def logit_scale(self) -> float:
        return float(self.model.logit_scale.detach().float().exp().item())

    def paper_transform(self) -> PaperTransform:
        size, crop = self._sizes()
        return PaperTransform(size, crop, self.mean, self.std)


class ClipImageEmbedder(ImageEmbedder):
    """The CLIP image tower under one preprocessing ('default' or 'paper')."""

    def __init__(self, enc: ClipEncoder, variant: str, transform: Any, info: ModelInfo):
        self.enc, self.variant, self.info = enc, variant, info
        # a torchvision Compose is split at ToTensor (tensor steps batched); anything else runs per image
        self.transform = SplitTransform(transform)
        self.name = "clip" if variant == "default" else f"clip.{variant}"

    def prepare(self, img: Any) -> Any:
        return self.transform.prepare(img)

    def encode(self, prepared: list[Any]) -> list[Any]:
        import torch

        enc = self.enc
        with torch.inference_mode(), autocast(enc.device, enc.precision):
            x = self.transform.collate(prepared).to(enc.device, non_blocking=True)
            f = enc.backend.image_features(x)
        return list(torch.nn.functional.normalize(f.float(), dim=-1).cpu().numpy())


class ClipEncoder:
    name = "clip"

    def __init__(self, backend: Any, device: str, precision: str, base: dict[str, Any]):
        self.backend = backend
        self.device = device
        self.precision = precision
        default_tf = backend.preprocess
        paper_tf = backend.paper_transform()
        text = f"text: {backend.kind} tokenizer, {CONTEXT_LENGTH} tokens, truncated"
        self.image = ClipImageEmbedder(
            self,
            "default",
            default_tf,
            model_info(**base, preprocessing=f"{backend.describe_default()}; {text}"),
        )
        self.paper_image = ClipImageEmbedder(
            self,
            "paper",
            paper_tf,
            model_info(
                **{**base, "name": "clip.paper"},
                preprocessing=f"{paper_tf.describe()}; {text}; score = logit_scale.exp()*cos/30",
            ),
        )

    def model_infos(self) -> list[ModelInfo]:
        return [self.image.info, self.paper_image.info]

    def logit_scale(self) -> float:
        return self.backend.logit_scale()

    def encode_text(self, texts: Sequence[str], batch_size: int = 64) -> Any:
        """L2-normalised text embeddings (float32 numpy, one row per text)."""
        import numpy as np
        import torch

        rows = []
        with torch.inference_mode(), autocast(self.device, self.precision):
            for s in range(0, len(texts), batch_size):
                f = self.backend.text_features([str(t) for t in texts[s : s + batch_size]], self.device)
                rows.append(torch.nn.functional.normalize(f.float(), dim=-1).cpu().numpy())
        if not rows:
            return np.zeros((0, 0), dtype=np.float32)
        return np.concatenate(rows, axis=0)

    # ------------------------------------------------------------------------------------------ load
    @classmethod
    def load(cls, ctx: ScoreContext) -> ClipEncoder:
        try:
            import open_clip  # noqa: F401
            import torch  # noqa: F401
        except ImportError as e:
            raise unavailable("clip", OPENCLIP_ARCH, e, "pip install 'rolescape[metrics]'") from None
        precision = precision_of(ctx, "clip")
        want_hf = str((ctx.options or {}).get("clip_backend", "open_clip")).lower() in ("hf", "transformers")
        src = resolve_source("clip", ctx, HF_ID if want_hf else OPENCLIP_HUB)
        try:
            if src.kind == "local":
                p = Path(src.location)
                backend, mid = cls._load_local(p)
                revision, source = path_fingerprint(p), src.label
            elif want_hf:
                backend, revision = cls._load_hf(HF_ID, local_only=src.local_only)  # type: ignore[assignment]
                mid, source = HF_ID, "hub"
            else:
                backend, revision = cls._load_openclip_hub(local_only=src.local_only)  # type: ignore[assignment]
                mid, source = f"open_clip:{OPENCLIP_ARCH}/{OPENCLIP_TAG} ({OPENCLIP_HUB})", "hub"
        except ModelUnavailable:
            raise
        except Exception as e:  # network, missing files, bad checkpoints: all mean "cannot load"
            where = "offline profile, not in the local cache" if src.local_only and src.kind == "hub" else ""
            raise unavailable("clip", src.location, e, f"{where + '; ' if where else ''}{HINT}") from None
        backend.model.eval().to(ctx.device)
        base = {
            "name": "clip",
            "id": mid,
            "revision": revision,
            "dtype": dtype_label(precision),
            "source": source,
        }
        return cls(backend, ctx.device, precision, base)

    @staticmethod
    def _openclip_from(model: Any, tokenizer: Any) -> _OpenClip:
        """The backend with open_clip's own eval transform (what create_model_and_transforms returns)."""
        from open_clip.transform import PreprocessCfg, image_transform_v2

        pp_cfg = PreprocessCfg(**model.visual.preprocess_cfg)
        return _OpenClip(model, image_transform_v2(pp_cfg, is_train=False), tokenizer, pp_cfg)

    @classmethod
    def _load_local(cls, p: Path) -> tuple[Any, str]:
        import open_clip

        if p.is_dir() and (p / "open_clip_config.json").is_file():
            if not any(any(p.glob(g)) for g in ("*.safetensors", "*.bin", "*.pth", "*.pt")):
                raise unavailable("clip", str(p), "no weights file in the folder")
            model = open_clip.create_model(f"local-dir:{p}", weights_only=True)
            return cls._openclip_from(
                model, open_clip.get_tokenizer(f"local-dir:{p}")
            ), f"open_clip:local-dir:{p.name}"
        if p.is_dir() and (p / "config.json").is_file():
            be, _ = cls._load_hf(str(p), local_only=True)
            return be, f"transformers:{p.name}"
        if p.is_file():
            model = open_clip.create_model(
                OPENCLIP_ARCH, pretrained=str(p), force_quick_gelu=True, weights_only=True
            )
            return cls._openclip_from(
                model, open_clip.get_tokenizer(OPENCLIP_ARCH)
            ), f"open_clip:{OPENCLIP_ARCH}:{p.name}"
        raise unavailable(
            "clip", str(p), "neither an open_clip folder, an HF CLIP folder nor a checkpoint file"
        )

    @classmethod
    def _load_openclip_hub(cls, local_only: bool) -> tuple[Any, str | None]:
        import open_clip
        from huggingface_hub import hf_hub_download

        path, last = None, None
        for name in OPENCLIP_FILES:
            try:
                path = hf_hub_download(OPENCLIP_HUB, name, local_files_only=local_only)
                break
            except Exception as e:  # not in the repo / not cached: try the next name
                last = e
        if path is None:
            raise last or FileNotFoundError(OPENCLIP_HUB)
        model = open_clip.create_model(
            OPENCLIP_ARCH, pretrained=path, force_quick_gelu=True, weights_only=True
        )
        return cls._openclip_from(model, open_clip.get_tokenizer(OPENCLIP_ARCH)), hub_revision_of(path)

    @staticmethod
    def _load_hf(where: str, local_only: bool) -> tuple[Any, str | None]:
        from transformers import AutoImageProcessor, AutoTokenizer, CLIPModel

        model = CLIPModel.from_pretrained(where, local_files_only=local_only)
        tok = AutoTokenizer.from_pretrained(where, local_files_only=local_only)
        ip = AutoImageProcessor.from_pretrained(where, local_files_only=local_only, backend="pil")
        return _HFClip(model, tok, ip), getattr(model.config, "_commit_hash", None)
