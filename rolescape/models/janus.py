"""Janus / Janus-Pro (transformers `JanusForConditionalGeneration`) for generation AND training.

One adapter serves `rolescape generate --adapter janus` (text, image in, image out) and the trainer
(`TrainableAdapter` through `TokenUnifiedAdapter`): both sample with the adapter's own KV-cached loop,
so generation needs no `generate(generation_mode="image")` (which doubles the batch for CFG, crashes
at guidance <= 1 and returns no log-probs) and training gets the sampling log-probs for free.

API differences handled (trainer-notes.md): `vqmodel.encode` returns `(quant, loss, indices)` in
transformers 4.57 and an output with `.image_tokens` in 5.x; `get_image_features` returns the aligned
tensor in 4.57 and an output whose `.pooler_output` is aligned in 5.x.

`--model tiny` builds the tiny random Janus of trainer-notes.md (about 0.36 M parameters, byte
tokenizer), for tests on CPU without a download. Real checkpoints (`deepseek-community/Janus-Pro-1B`)
load with `from_pretrained` (never `trust_remote_code`) and their own tokenizer.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch

from rolescape.errors import InputError
from rolescape.models.base import (
    AdapterError,
    AdapterOptions,
    Capabilities,
    ImageAnswer,
    ImageRequest,
    ModelAdapter,
    ModelProvenance,
    TextAnswer,
    TextRequest,
)
from rolescape.trainer.protocol import SampleSpec
from rolescape.trainer.unified import TokenUnifiedAdapter

TOKENIZER_FILE = "rolescape_tokenizer.json"
BOI_TOKEN = "<begin_of_image>"


def tiny_janus_config(image_tokens: int = 16) -> Any:
    """The CPU test config of trainer-notes.md (vocab 128, hidden 32, 2 layers, 64 VQ codes)."""
    from transformers import JanusConfig

    side = math.isqrt(image_tokens)
    return JanusConfig(
        text_config=dict(
            model_type="llama",
            vocab_size=128,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=4,
            max_position_embeddings=512,
            pad_token_id=0,
            bos_token_id=1,
            eos_token_id=2,
        ),
        vision_config=dict(
            image_size=8 * side,
            patch_size=8,
            num_image_tokens=image_tokens,
            hidden_size=32,
            projection_dim=32,
            num_hidden_layers=1,
            num_attention_heads=4,
            mlp_ratio=2.0,
            depth=1,
        ),
        vq_config=dict(
            embed_dim=8,
            num_embeddings=64,
            latent_channels=8,
            base_channels=32,
            channel_multiplier=[1, 1, 1],
            num_res_blocks=1,
            projection_dim=32,
            image_token_embed_dim=32,
            num_patches=side,
        ),
        image_token_id=3,
    )


class _HFTokenizer:
    """A transformers tokenizer with the ids the unified sequence needs."""

    def __init__(self, tok: Any):
        self.tok = tok
        self.bos_id = int(tok.bos_token_id if tok.bos_token_id is not None else 0)
        self.eos_id = int(tok.eos_token_id)
        self.pad_id = int(tok.pad_token_id if tok.pad_token_id is not None else self.eos_id)
        boi = tok.convert_tokens_to_ids(BOI_TOKEN)
        if boi is None or boi == tok.unk_token_id:
            raise AdapterError(f"tokenizer has no {BOI_TOKEN} token: not a Janus tokenizer")
        self.boi_id = int(boi)

    def encode(self, text: str) -> list[int]:
        return list(self.tok.encode(text, add_special_tokens=False))

    def decode(self, ids: Sequence[int]) -> str:
        return str(self.tok.decode(list(ids), skip_special_tokens=True))


class JanusBackbone:
    """`TokenBackbone` over a JanusForConditionalGeneration (possibly peft-wrapped)."""

    def __init__(self, module: Any, tokenizer: Any):
        self.module = module
        self.tokenizer = tokenizer
        cfg = self.hf.config
        self.num_image_tokens = int(cfg.vision_config.num_image_tokens)
        self.gen_side = math.isqrt(self.num_image_tokens)
        self.vq_factor = 2 ** (len(cfg.vq_config.channel_multiplier) - 1)
        self.vision_px = int(cfg.vision_config.image_size)
        self._cache_kw: str | None = None

    @property
    def hf(self) -> Any:
        m = self.module
        m = getattr(m, "module", m)
        base = getattr(m, "base_model", None)
        return getattr(base, "model", m) if base is not None else m

    @property
    def _dev(self) -> torch.device:
        return next(self.hf.parameters()).device

    def _pixels(self, image: Any, px: int) -> torch.Tensor:
        """RGB PIL -> (1, 3, px, px) in [-1, 1] (Janus' processor: rescale 1/255, mean = std = 0.5)."""
        import numpy as np
        from PIL import Image

        im = image.convert("RGB").resize((px, px), Image.Resampling.BICUBIC)
        a = torch.from_numpy(np.asarray(im, dtype=np.float32) / 127.5 - 1.0).permute(2, 0, 1)[None]
        return a.to(self._dev, next(self.hf.parameters()).dtype)

    def embed_text(self, ids: torch.Tensor) -> torch.Tensor:
        return self.hf.get_input_embeddings()(ids)  # type: ignore[no-any-return]

    def embed_image_codes(self, codes: torch.Tensor) -> torch.Tensor:
        hf = self.hf
        fn = (
            getattr(hf, "prepare_embeddings_for_image_generation", None)
            or hf.model.prepare_embeddings_for_image_generation
        )
        return fn(codes)  # type: ignore[no-any-return]

    def embed_input_image(self, image: Any) -> torch.Tensor:
        out = self.hf.model.get_image_features(self._pixels(image, self.vision_px))
        feats = out if isinstance(out, torch.Tensor) else out.pooler_output  # 4.57 | 5.x
        return feats[0]  # type: ignore[no-any-return]

    def input_image_length(self, image: Any) -> int:
        return int(self.hf.config.vision_config.num_image_tokens)

    def hidden(self, embeds: torch.Tensor, past: Any = None) -> tuple[torch.Tensor, Any]:
        lm = self.hf.model.language_model
        if self._cache_kw is None:  # transformers 5.2x renamed past_key_values -> cache
            import inspect

            self._cache_kw = (
                "cache" if "cache" in inspect.signature(lm.forward).parameters else "past_key_values"
            )
        out = lm(inputs_embeds=embeds, use_cache=True, **{self._cache_kw: past})
        new = getattr(out, "cache", None) if self._cache_kw == "cache" else out.past_key_values
        return out.last_hidden_state, new

    def text_logits(self, h: torch.Tensor) -> torch.Tensor:
        return self.hf.lm_head(h)  # type: ignore[no-any-return]

    def image_logits(self, h: torch.Tensor) -> torch.Tensor:
        return self.hf.model.generation_head(h)  # type: ignore[no-any-return]

    def encode_image(self, image: Any) -> torch.Tensor:
        vq = self.hf.model.vqmodel
        out = vq.encode(self._pixels(image, self.gen_side * self.vq_factor))
        idx = out[2] if isinstance(out, tuple) else out.image_tokens  # 4.57 | 5.x
        return idx.reshape(-1)  # type: ignore[no-any-return]

    def decode_images(self, codes: torch.Tensor) -> list[Any]:
        from PIL import Image

        px = self.hf.decode_image_tokens(codes)  # (B, H, W, 3) in [-1, 1]
        arr = ((px.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu().numpy()
        return [Image.fromarray(a, "RGB") for a in arr]


def _load(model: str, dtype: str, seed: int, image_tokens: int | None) -> tuple[Any, Any, str]:
    """(hf model, tokenizer, model_id): `tiny`, a rolescape-saved folder, or a Janus checkpoint."""
    from transformers import JanusForConditionalGeneration

    from rolescape.trainer.toy import ByteTokenizer

    torch_dtype = getattr(torch, dtype)
    if model == "tiny":
        torch.manual_seed(seed)
        m = JanusForConditionalGeneration(tiny_janus_config(image_tokens or 16)).to(torch_dtype)
        return m, ByteTokenizer(128), "tiny"
    p = Path(model)
    if p.exists():
        cfg_file = p / "config.json"
        if not cfg_file.is_file():
            raise InputError("not a Janus checkpoint (no config.json)", path=p)
        try:
            mt = json.loads(cfg_file.read_text()).get("model_type")
        except json.JSONDecodeError as e:
            raise InputError(f"config.json is not JSON: {e.msg}", path=cfg_file) from None
        if mt != "janus":
            raise InputError(f"not a Janus checkpoint (model_type {mt!r})", path=p)
    try:
        m = JanusForConditionalGeneration.from_pretrained(model, dtype=torch_dtype)
    except TypeError:  # transformers 4.x spells it torch_dtype
        m = JanusForConditionalGeneration.from_pretrained(model, torch_dtype=torch_dtype)
    except OSError as e:
        raise InputError(f"cannot load Janus model {model!r}: {str(e).splitlines()[0]}") from None
    tfile = p / TOKENIZER_FILE
    if p.exists() and tfile.is_file():
        info = json.loads(tfile.read_text())
        tok: Any = ByteTokenizer(int(info["vocab_size"]))
    else:
        from transformers import AutoTokenizer

        tok = _HFTokenizer(AutoTokenizer.from_pretrained(model))
    return m, tok, model


class JanusAdapter(TokenUnifiedAdapter, ModelAdapter):
    """Janus / Janus-Pro: `rolescape generate` adapter and `TrainableAdapter` in one."""

    name: ClassVar[str] = "janus"  # type: ignore[misc]
    capabilities = Capabilities(text_out=True, image_out=True, image_in=True)

    def __init__(self, hf_model: Any, tokenizer: Any, model_id: str, dtype: str = "float32"):
        super().__init__(JanusBackbone(hf_model, tokenizer))
        self.model_id = model_id
        self.dtype = dtype
        self.image_temperature = 1.0
        self.guidance: float | None = None

    # -- construction ---------------------------------------------------------------------------------
    @classmethod
    def for_training(cls, cfg: Any, seed: int) -> JanusAdapter:
        m, tok, mid = _load(cfg.model, cfg.dtype, seed, cfg.image_tokens)
        return cls(m, tok, mid, cfg.dtype)

    @classmethod
    def from_options(cls, model: str, options: AdapterOptions) -> JanusAdapter:
        dtype = options.get_str("dtype", "float32") or "float32"
        if dtype not in ("float32", "bfloat16", "float16"):
            raise AdapterError(f"--adapter-option dtype={dtype!r}: one of float32, bfloat16, float16")
        device = options.get_str("device", "cuda" if torch.cuda.is_available() else "cpu") or "cpu"
        seed = options.get_int("seed", 0)
        m, tok, mid = _load(model, dtype, seed, None)
        a = cls(m.to(device).eval(), tok, mid, dtype)
        a.max_prompt_tokens = options.get_int("max_prompt_tokens", 1024)
        a.image_temperature = options.get_float("image_temperature", 1.0)
        g = options.get_str("guidance")
        a.guidance = float(g) if g is not None else None
        return a

    # -- training protocol ----------------------------------------------------------------------------
    def lora_targets(self) -> str:
        return r".*language_model.*\.(q|k|v|o)_proj"

    def lora_keep_trainable(self) -> list[str]:
        return ["generation_head"]

    def fingerprint(self) -> dict[str, Any]:
        c = self.backbone.hf.config  # type: ignore[attr-defined]
        t = c.text_config
        return {
            "adapter": self.name,
            "hidden_size": int(t.hidden_size),
            "layers": int(t.num_hidden_layers),
            "vocab_size": int(t.vocab_size),
            "image_codes": int(c.vq_config.num_embeddings),
            "image_tokens": int(c.vision_config.num_image_tokens),
        }

    def save(self, path: Path) -> None:
        """Merged weights (`save_pretrained`) + tokenizer, loadable by `--adapter janus --model PATH`."""
        import copy

        path.mkdir(parents=True, exist_ok=True)
        m: Any = self.module()
        m = getattr(m, "module", m)
        if hasattr(m, "merge_and_unload"):
            m = copy.deepcopy(m).merge_and_unload()
        m.save_pretrained(str(path))
        tok: Any = self.backbone.tokenizer
        if isinstance(tok, _HFTokenizer):
            tok.tok.save_pretrained(str(path))
        else:
            (path / TOKENIZER_FILE).write_text(
                json.dumps({"kind": "byte", "vocab_size": tok.vocab_size}, sort_keys=True)
            )  # type: ignore[attr-defined]

    # -- generation protocol --------------------------------------------------------------------------
    def _gen(self, seed: int) -> torch.Generator:
        return torch.Generator(device=self.device).manual_seed(int(seed))

    def generate_text(self, requests: Sequence[TextRequest]) -> list[TextAnswer]:
        from rolescape.trainer.data import prompt_parts

        out = []
        for r in requests:
            s = r.sampling
            spec = SampleSpec(
                modalities=("text",),
                max_text_tokens=s.max_new_tokens,
                temperature=s.temperature if s.temperature > 0 else 1.0,
                greedy=s.greedy,
            )
            with torch.no_grad():
                ro = self.sample(prompt_parts(r.prompt), 1, spec, self._gen(r.seed))
            n = int(ro.text_mask.sum())
            out.append(TextAnswer(self.decode(ro)[0].get("text", ""), tokens=n))
        return out

    def generate_images(self, requests: Sequence[ImageRequest]) -> list[ImageAnswer]:
        out = []
        for r in requests:
            g = self.guidance if self.guidance is not None else r.sampling.guidance_scale
            spec = SampleSpec(modalities=("image",), guidance=g, temperature=self.image_temperature)
            with torch.no_grad():
                ro = self.sample([r.prompt], r.k, spec, self._gen(r.seed))
            imgs = []
            for c in self.decode(ro):
                buf = io.BytesIO()
                c["image"].save(buf, format="PNG")
                imgs.append(buf.getvalue())
            out.append(ImageAnswer(imgs, {"guidance": g, "image_temperature": self.image_temperature}))
        return out

    def provenance(self) -> ModelProvenance:
        from rolescape.trainer.loop import versions

        return ModelProvenance(
            adapter=self.name,
            model_id=self.model_id,
            dtype=self.dtype,
            device=str(self.device),
            versions=versions(),
            extra={
                "fingerprint": self.fingerprint(),
                "guidance": self.guidance,
                "image_temperature": self.image_temperature,
            },
        )
