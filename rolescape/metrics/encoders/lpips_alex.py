"""`lpips`: LPIPS v0.1 with the AlexNet backbone, as the release's DiversityScorer (§5.5).

The linear heads ship inside the `lpips` package; the AlexNet ImageNet weights are torchvision's
`alexnet-owt-7be5be79.pth`, read with `weights_only=True` from `--model lpips=PATH` (the file, or a
folder holding it), else from the torch hub cache, else (profile `paper` only) downloaded there.

Images go in as RGB in [-1, 1] at their own resolution. For a group of G images, the backbone runs
once per image and every pair's distance is computed from those features - the same arithmetic as
`lpips.LPIPS.forward(x_i, x_j)`, in G forward passes instead of G(G-1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rolescape.metrics.base import ScoreContext
from rolescape.metrics.encoders.base import (
    autocast,
    dtype_label,
    model_info,
    path_fingerprint,
    precision_of,
    unavailable,
)
from rolescape.schemas.results import ModelInfo

ALEXNET_FILE = "alexnet-owt-7be5be79.pth"
ALEXNET_URL = f"https://download.pytorch.org/models/{ALEXNET_FILE}"


def _alexnet_state(ctx: ScoreContext) -> tuple[dict[str, Any], str, str]:
    """(torchvision alexnet state dict, source label, revision)."""
    import torch

    override = (ctx.model_paths or {}).get("lpips")
    if override:
        p = Path(override).expanduser().resolve()
        f = p / ALEXNET_FILE if p.is_dir() else p
        if not f.is_file():
            cands = sorted(p.glob("*.pth")) if p.is_dir() else []
            if not cands:
                raise unavailable("lpips", "AlexNet", f"no {ALEXNET_FILE} under {p}")
            f = cands[0]
        return torch.load(str(f), map_location="cpu", weights_only=True), f"local:{p}", path_fingerprint(f)
    hub_dir = Path(torch.hub.get_dir()) / "checkpoints"
    cached = hub_dir / ALEXNET_FILE
    if cached.is_file():
        return torch.load(str(cached), map_location="cpu", weights_only=True), "hub", "owt-7be5be79"
    if ctx.profile == "offline":
        raise unavailable(
            "lpips",
            "AlexNet",
            f"offline profile: {ALEXNET_FILE} is not in {hub_dir}",
            "give --model lpips=PATH to the torchvision AlexNet weights",
        )
    try:
        sd = torch.hub.load_state_dict_from_url(
            ALEXNET_URL, map_location="cpu", progress=False, check_hash=True, weights_only=True
        )
    except Exception as e:
        raise unavailable("lpips", "AlexNet", e, "give --model lpips=PATH") from None
    return sd, "hub", "owt-7be5be79"


class LPIPSAlex:
    name = "lpips"

    def __init__(self, net: Any, info: ModelInfo, device: str, precision: str):
        self.net, self.info, self.device, self.precision = net, info, device, precision

    @classmethod
    def load(cls, ctx: ScoreContext) -> LPIPSAlex:
        try:
            import lpips  # noqa: F401
            import torch  # noqa: F401
        except ImportError as e:
            raise unavailable("lpips", "LPIPS-alex", e, "pip install lpips") from None
        sd, source, revision = _alexnet_state(ctx)
        net = cls.build(sd)
        precision = precision_of(ctx, "lpips")
        info = model_info(
            "lpips",
            "lpips:v0.1/alex",
            revision,
            dtype_label(precision),
            "RGB uint8 -> [-1, 1] float at native size (a group of mixed sizes is resized to the first "
            "image's size, bicubic); lpips ScalingLayer; mean over pairs i<j",
            source,
        )
        return cls(net.to(ctx.device), info, ctx.device, precision)

    @staticmethod
    def build(alexnet_state: dict[str, Any] | None) -> Any:
        """lpips.LPIPS(net='alex') with its packaged linear heads and the given AlexNet weights
        (None keeps a randomly initialised backbone: tests only)."""
        import warnings

        import lpips
        import torch

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            net = lpips.LPIPS(net="alex", version="0.1", pretrained=True, pnet_rand=True, verbose=False)
        if alexnet_state is not None:
            with torch.no_grad():
                for name, param in net.net.named_parameters():
                    _slice, idx, kind = name.split(".")
                    key = f"features.{idx}.{kind}"
                    if key not in alexnet_state:
                        raise unavailable("lpips", "AlexNet", f"weights lack {key}")
                    param.copy_(alexnet_state[key])
        return net.eval()

    @classmethod
    def from_module(cls, net: Any, device: str = "cpu") -> LPIPSAlex:
        info = model_info("lpips", "in-memory", None, "fp32", "in-memory", "local:<memory>")
        return cls(net.eval().to(device), info, device, "fp32")

    def model_infos(self) -> list[ModelInfo]:
        return [self.info]

    @staticmethod
    def to_tensor(img: Any) -> Any:
        import numpy as np
        import torch

        arr = np.asarray(img.convert("RGB"), dtype=np.uint8)
        return torch.from_numpy(arr.copy()).permute(2, 0, 1).to(torch.float32) / 127.5 - 1.0

    def features(self, x: Any) -> list[Any]:
        """Unit-normalised backbone activations per layer for a batch in [-1, 1]."""
        import lpips

        outs = self.net.net.forward(self.net.scaling_layer(x))
        return [lpips.normalize_tensor(outs[k]) for k in range(self.net.L)]

    def mean_pairwise(self, images: list[Any]) -> float | None:
        """Mean LPIPS over all unordered pairs of `images` (RGB PIL); None for fewer than two."""
        import lpips
        import torch
        from PIL import Image

        if len(images) < 2:
            return None
        size = images[0].size
        imgs = [im if im.size == size else im.resize(size, Image.Resampling.BICUBIC) for im in images]
        with torch.inference_mode(), autocast(self.device, self.precision):
            x = torch.stack([self.to_tensor(im) for im in imgs]).to(self.device)
            feats = [f.float() for f in self.features(x)]
            total, n = 0.0, 0
            for i in range(len(imgs)):
                for j in range(i + 1, len(imgs)):
                    val: Any = 0
                    for k in range(self.net.L):
                        d = (feats[k][i : i + 1] - feats[k][j : j + 1]) ** 2
                        val = val + lpips.spatial_average(self.net.lins[k](d), keepdim=True)
                    total += float(val.item())
                    n += 1
        return total / n
