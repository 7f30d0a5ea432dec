"""What every encoder shares: where its weights come from, precision, and the image-embedder interface.

An encoder is loaded once per (name, weights location, device, precision) and shared by the metric
families of a run (`rolescape.metrics.encoders.get_encoder`). Weights come from a local folder given
with `--model NAME=PATH` (`ctx.model_paths`), from a pip package that ships them, or from the
Hugging Face Hub (profile `paper`). Profile `offline` never downloads: a model that is not already on
disk raises ModelUnavailable with the reason, and the metrics that need it are reported as skipped.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from rolescape.errors import ModelUnavailable
from rolescape.schemas.results import ModelInfo

if TYPE_CHECKING:
    import numpy as np

    from rolescape.metrics.base import ScoreContext


@dataclass(frozen=True)
class WeightsSource:
    """Where an encoder's weights come from.

    kind: 'local' (a path the user gave), 'hub' (a Hugging Face repo id) or 'package' (pip package).
    local_only: never touch the network (profile offline or a local path).
    """

    kind: str
    location: str
    local_only: bool

    @property
    def label(self) -> str:
        return {"local": f"local:{self.location}", "hub": "hub", "package": f"package:{self.location}"}[
            self.kind
        ]


def resolve_source(name: str, ctx: ScoreContext, hub_id: str | None) -> WeightsSource:
    """`--model NAME=PATH` if given (the path must exist), else the hub id (local-only when offline)."""
    override = (ctx.model_paths or {}).get(name)
    if override:
        p = Path(override).expanduser()
        if not p.exists():
            raise ModelUnavailable(f"{name}: --model {name}={override}: no such file or folder")
        return WeightsSource("local", str(p.resolve()), True)
    if hub_id is None:
        raise ModelUnavailable(f"{name}: no weights location (give --model {name}=PATH)")
    return WeightsSource("hub", hub_id, ctx.profile == "offline" or _env_offline())


def _env_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def path_fingerprint(path: str | Path, max_files: int = 200) -> str:
    """A cheap revision for local weights: hash of (relative name, size, mtime) of the files.

    Changing the weights in place changes the revision, so cached embeddings are not reused.
    """
    p = Path(path)
    h = hashlib.sha256()
    files = [p] if p.is_file() else sorted(x for x in p.rglob("*") if x.is_file())[:max_files]
    for f in files:
        st = f.stat()
        rel = f.name if f == p else str(f.relative_to(p))
        h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return "local-" + h.hexdigest()[:16]


def sha256_file_prefix(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def hub_revision_of(path: str | Path) -> str | None:
    """The commit hash in a Hugging Face cache path (`.../snapshots/<commit>/file`), if any."""
    parts = Path(path).parts
    if "snapshots" in parts:
        i = parts.index("snapshots")
        if i + 1 < len(parts):
            return parts[i + 1]
    return None


# --------------------------------------------------------------------------------------- precision


def precision_of(ctx: ScoreContext, encoder: str | None = None) -> str:
    """'fp32' on CPU (and when options ask for it), else 'bf16' (or 'fp16' where bf16 is unsupported).

    `<encoder>_precision` (ScoreSpec.model_precision) overrides the run's `precision` for one encoder.

    On CUDA the non-fp32 precisions run the model under torch.autocast; embeddings come back as fp32.
    """
    opts = ctx.options or {}
    run_default = opts.get("precision", "auto")
    want = str(opts.get(f"{encoder}_precision", run_default) if encoder else run_default).lower()
    dev = str(ctx.device)
    if not dev.startswith("cuda") or want == "fp32":
        return "fp32"
    if want in ("bf16", "fp16"):
        return want
    import torch

    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


def autocast(device: str, precision: str) -> contextlib.AbstractContextManager[Any]:
    if precision == "fp32" or not str(device).startswith("cuda"):
        return contextlib.nullcontext()
    import torch

    return torch.autocast("cuda", dtype=torch.bfloat16 if precision == "bf16" else torch.float16)


def dtype_label(precision: str) -> str:
    return "fp32" if precision == "fp32" else f"{precision}-autocast"


class Encoder(Protocol):
    """What the `ENCODERS` registry holds (checked when a name is resolved): a class that loads itself
    for a run's context (raising ModelUnavailable when it cannot) and names the models it loaded."""

    @classmethod
    def load(cls, ctx: ScoreContext) -> Encoder: ...

    def model_infos(self) -> list[ModelInfo]: ...


# ----------------------------------------------------------------------------------- image embedders


class ImageEmbedder:
    """One image-embedding configuration (model + preprocessing): the unit the cache is keyed on.

    `prepare` runs on CPU for one RGB PIL image and must be thread-safe; `encode` takes a list of
    prepared inputs and returns one float32 vector per image (an empty vector means "nothing found",
    e.g. no face).
    """

    name: str = ""
    info: ModelInfo

    def prepare(self, img: Any) -> Any:
        raise NotImplementedError

    def encode(self, prepared: list[Any]) -> list[np.ndarray]:
        raise NotImplementedError

    def cache_key(self) -> dict[str, Any]:
        return {
            "model_id": self.info.id,
            "revision": self.info.revision,
            "dtype": self.info.dtype,
            "preprocessing": self.info.preprocessing,
        }


def model_info(
    name: str, id: str, revision: str | None, dtype: str, preprocessing: str, source: str
) -> ModelInfo:
    return ModelInfo(
        name=name, id=id, revision=revision, dtype=dtype, preprocessing=preprocessing, source=source
    )


def unavailable(name: str, what: str, err: BaseException | str, hint: str = "") -> ModelUnavailable:
    """A ModelUnavailable whose message says which model, why, and how to fix it."""
    reason = (
        err
        if isinstance(err, str)
        else f"{type(err).__name__}: {(str(err).strip().splitlines() or [''])[0][:300]}"
    )
    msg = f"{name} ({what}) cannot be loaded: {reason}"
    if hint:
        msg += f"; {hint}"
    return ModelUnavailable(msg)


class SplitTransform:
    """A torchvision `Compose` split at its ToTensor: the PIL steps run per image (cheap, thread-safe,
    returning uint8 HWC arrays), ToTensor + Normalize run once on the stacked batch.

    The batched tensor steps do the same float32 operations in the same order as ToTensor
    (`x.float().div(255)`) and Normalize (`x.sub(mean).div(std)`), so the result equals the per-image
    transform; per-image small tensor ops are slow on few-core CPUs, batched ones are not. A
    composition of any other shape falls back to running the whole transform per image.
    """

    def __init__(self, compose: Any):
        import torchvision.transforms as T

        steps = list(getattr(compose, "transforms", [compose]))
        idx = next((i for i, t in enumerate(steps) if isinstance(t, T.ToTensor)), None)
        after = steps[idx + 1 :] if idx is not None else []
        self.compose = compose
        self.split = idx is not None and len(after) <= 1 and all(isinstance(t, T.Normalize) for t in after)
        self.pil_steps = steps[:idx] if self.split else steps
        self.norm = after[0] if self.split and after else None

    def prepare(self, img: Any) -> Any:
        import numpy as np

        if not self.split:
            return self.compose(img)
        for t in self.pil_steps:
            img = t(img)
        return np.asarray(img.convert("RGB"), dtype=np.uint8)

    def collate(self, prepared: list[Any]) -> Any:
        import numpy as np
        import torch

        if not self.split:
            return torch.stack(prepared)
        x = torch.from_numpy(np.stack(prepared)).permute(0, 3, 1, 2).contiguous().to(torch.float32).div(255)
        if self.norm is not None:
            mean = torch.as_tensor(self.norm.mean, dtype=x.dtype).view(1, -1, 1, 1)
            std = torch.as_tensor(self.norm.std, dtype=x.dtype).view(1, -1, 1, 1)
            x = x.sub(mean).div(std)
        return x
