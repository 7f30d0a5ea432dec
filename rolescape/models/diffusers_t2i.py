"""`diffusers` adapter: a text-to-image pipeline (Stable Diffusion, SDXL, a DreamBooth or LoRA checkpoint).

`--model` is a local pipeline folder or a Hub id (through the usual cache). Options: `device`
(auto|cpu|cuda[:N]|mps), `dtype` (auto: float16 on CUDA, float32 elsewhere), `lora` (a LoRA weights
file or folder loaded with `load_lora_weights`), `lora_scale` (1.0), `height` / `width` (the
pipeline's default when unset), `negative_prompt`. Steps and guidance come from `--steps` /
`--guidance`; the k images of an item come from one generator seeded with the item's seed, one prompt
at a time, so an item's images never depend on which other items ran with it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rolescape.models.base import (
    AdapterError,
    AdapterOptions,
    Capabilities,
    ImageAnswer,
    ImageRequest,
    ModelAdapter,
    ModelProvenance,
)


def png_bytes(image: Any) -> bytes:
    """PNG bytes of a PIL image, with no metadata (the same pixels give the same bytes)."""
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="PNG", optimize=False)
    return buf.getvalue()


class DiffusersAdapter(ModelAdapter):
    """Images out through a diffusers pipeline."""

    name = "diffusers"
    transport_options = frozenset({"device"})
    capabilities = Capabilities(image_out=True)

    def __init__(
        self,
        model_id: str,
        pipe: Any,
        *,
        device: str,
        dtype: Any,
        options: dict[str, str],
        height: int | None,
        width: int | None,
        negative_prompt: str,
        lora_scale: float,
    ):
        self.model_id = model_id
        self.pipe = pipe
        self.device = device
        self.dtype = dtype
        self.options = options
        self.height, self.width = height, width
        self.negative_prompt = negative_prompt
        self.lora_scale = lora_scale
        self.batch_size = 1

    @classmethod
    def from_options(cls, model: str, options: AdapterOptions) -> DiffusersAdapter:
        import torch

        from rolescape.models.hf import resolve_device

        device = resolve_device(options.get_str("device", "auto") or "auto")
        dname = options.get_str("dtype", "auto") or "auto"
        table = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
        if dname != "auto" and dname not in table:
            raise AdapterError(
                f"--adapter-option dtype={dname!r}: expected auto, float32, float16 or bfloat16"
            )
        dtype = table.get(dname, torch.float16 if device.startswith("cuda") else torch.float32)
        p = Path(model)
        if p.exists() and not (p / "model_index.json").is_file():
            raise AdapterError(f"--model {model}: not a diffusers pipeline folder (no model_index.json)")
        try:
            from diffusers import DiffusionPipeline

            pipe = DiffusionPipeline.from_pretrained(model, dtype=dtype)
        except Exception as e:  # noqa: BLE001 - any loader failure is "not a model" to the user
            msg = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise AdapterError(
                f"--model {model}: cannot load a diffusers pipeline ({type(e).__name__}: {msg[:200]})"
            ) from None
        lora = options.get_str("lora")
        if lora:
            try:
                pipe.load_lora_weights(lora)
            except Exception as e:  # noqa: BLE001
                raise AdapterError(
                    f"--adapter-option lora={lora}: cannot load LoRA weights ({type(e).__name__})"
                ) from None
        pipe = pipe.to(device)
        pipe.set_progress_bar_config(disable=True)
        h = options.get_int("height", 0) or None
        w = options.get_int("width", 0) or None
        return cls(
            model,
            pipe,
            device=device,
            dtype=dtype,
            options=options.as_dict(),
            height=h,
            width=w,
            negative_prompt=options.get_str("negative_prompt", "") or "",
            lora_scale=options.get_float("lora_scale", 1.0),
        )

    def generate_images(self, requests: Sequence[ImageRequest]) -> list[ImageAnswer]:
        import torch

        out = []
        for r in requests:
            gen = torch.Generator(device="cpu").manual_seed(r.seed)
            kw: dict[str, Any] = {
                "prompt": r.prompt,
                "num_images_per_prompt": r.k,
                "num_inference_steps": r.sampling.num_inference_steps,
                "guidance_scale": r.sampling.guidance_scale,
                "generator": gen,
                "output_type": "pil",
            }
            neg = r.negative_prompt or self.negative_prompt
            if neg:
                kw["negative_prompt"] = neg
            if self.height and self.width:
                kw.update(height=self.height, width=self.width)
            if self.options.get("lora"):
                kw["cross_attention_kwargs"] = {"scale": self.lora_scale}
            with torch.inference_mode():
                images = self.pipe(**kw).images
            out.append(
                ImageAnswer([png_bytes(im) for im in images], {"steps": r.sampling.num_inference_steps})
            )
        return out

    def provenance(self) -> ModelProvenance:
        import diffusers
        import torch

        return ModelProvenance(
            adapter=self.name,
            model_id=self.model_id,
            revision=getattr(getattr(self.pipe, "config", None), "_commit_hash", None),
            dtype=str(self.dtype).replace("torch.", ""),
            device=self.device,
            options=self.options,
            versions={"torch": torch.__version__, "diffusers": diffusers.__version__},
            extra={
                "pipeline": type(self.pipe).__name__,
                "scheduler": type(getattr(self.pipe, "scheduler", None)).__name__,
            },
        )

    def module(self) -> Any:
        return self.pipe

    def close(self) -> None:
        self.pipe = None
