"""A plain-torch toy unified model (text head + image-code head) so the trainer's core tests need no
transformers. Text is ASCII bytes; an image is a 4x4 grid of 64 palette colours (4 levels per RGB
channel), so image codes map to pixels and back exactly and a reward on codes is verifiable.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from rolescape.errors import InputError
from rolescape.trainer.unified import TextTokenizer, TokenUnifiedAdapter

PAD, BOS, EOS, IMG, BOI = 0, 1, 2, 3, 4  # the ids of the tiny Janus config in trainer-notes.md


class ByteTokenizer:
    """ASCII characters map to their code (5..vocab-1); anything else becomes '?'. No download."""

    bos_id: int = BOS
    eos_id: int = EOS
    pad_id: int = PAD
    boi_id: int = BOI

    def __init__(self, vocab_size: int = 128):
        self.vocab_size = vocab_size

    def encode(self, text: str) -> list[int]:
        q = ord("?")
        return [o if 5 <= (o := ord(c)) < self.vocab_size else q for c in text]

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(chr(i) for i in ids if 5 <= i < self.vocab_size)


class PaletteCodec:
    """Image <-> codes: side x side cells, each the nearest of 4^3 colours (code = r*16 + g*4 + b)."""

    def __init__(self, side: int = 4, out_px: int = 64):
        self.side, self.out_px = side, out_px

    def encode(self, image: Any) -> torch.Tensor:
        from PIL import Image

        im = image.convert("RGB").resize((self.side, self.side), Image.Resampling.BOX)
        import numpy as np

        px = torch.from_numpy(np.asarray(im, dtype=np.float32).reshape(-1, 3))  # (side*side, 3)
        lv = torch.round(px / 85.0).long().clamp(0, 3)
        return lv[:, 0] * 16 + lv[:, 1] * 4 + lv[:, 2]

    def decode(self, codes: torch.Tensor) -> Any:
        from PIL import Image

        c = codes.long().cpu()
        rgb = torch.stack([c // 16, (c // 4) % 4, c % 4], -1) * 85
        import numpy as np

        arr = rgb.reshape(self.side, self.side, 3).numpy().astype(np.uint8)
        im = Image.fromarray(arr, "RGB")
        return im.resize((self.out_px, self.out_px), Image.Resampling.NEAREST)


class _Block(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.q_proj, self.k_proj, self.v_proj, self.o_proj = (nn.Linear(d, d) for _ in range(4))
        self.up_proj, self.down_proj = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, L, d = x.shape
        y = self.ln1(x)
        q, k, v = (
            p(y).view(B, L, self.heads, d // self.heads).transpose(1, 2)
            for p in (self.q_proj, self.k_proj, self.v_proj)
        )
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, L, d)
        x = x + self.o_proj(a)
        return x + self.down_proj(F.gelu(self.up_proj(self.ln2(x))))


class ToyUnifiedLM(nn.Module):
    """Causal transformer over mixed text / image-code embeddings with a head per modality."""

    def __init__(
        self,
        vocab_size: int = 128,
        image_vocab: int = 64,
        d: int = 64,
        layers: int = 2,
        heads: int = 4,
        max_len: int = 512,
    ):
        super().__init__()
        self.config = {
            "vocab_size": vocab_size,
            "image_vocab": image_vocab,
            "d": d,
            "layers": layers,
            "heads": heads,
            "max_len": max_len,
        }
        self.tok_emb = nn.Embedding(vocab_size, d)
        self.img_emb = nn.Embedding(image_vocab, d)
        self.pos_emb = nn.Embedding(max_len, d)
        self.blocks = nn.ModuleList(_Block(d, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d)
        self.text_head = nn.Linear(d, vocab_size)
        self.image_head = nn.Linear(d, image_vocab)

    def forward(self, embeds: torch.Tensor) -> torch.Tensor:
        L = embeds.shape[1]
        x = embeds + self.pos_emb(torch.arange(L, device=embeds.device))[None]
        for b in self.blocks:
            x = b(x)
        return self.ln_f(x)  # type: ignore[no-any-return]


class ToyBackbone:
    """`TokenBackbone` of the toy model. `past` is the embeddings so far (recomputed each step)."""

    def __init__(self, module: ToyUnifiedLM):
        self.module: nn.Module = module
        self.tokenizer: TextTokenizer = ByteTokenizer(module.config["vocab_size"])
        side = int(math.isqrt(16))
        self.codec = PaletteCodec(side)
        self.num_image_tokens = side * side

    def _m(self) -> ToyUnifiedLM:
        m: Any = self.module
        m = getattr(m, "module", m)  # DDP
        base = getattr(m, "base_model", None)  # peft
        return getattr(base, "model", m) if base is not None else m  # type: ignore[no-any-return]

    def embed_text(self, ids: torch.Tensor) -> torch.Tensor:
        return self._m().tok_emb(ids)  # type: ignore[no-any-return]

    def embed_image_codes(self, codes: torch.Tensor) -> torch.Tensor:
        return self._m().img_emb(codes)  # type: ignore[no-any-return]

    def embed_input_image(self, image: Any) -> torch.Tensor:
        codes = self.codec.encode(image).to(self._m().img_emb.weight.device)
        return self.embed_image_codes(codes[None])[0]

    def input_image_length(self, image: Any) -> int:
        return self.num_image_tokens

    def hidden(self, embeds: torch.Tensor, past: Any = None) -> tuple[torch.Tensor, Any]:
        full = embeds if past is None else torch.cat([past, embeds], 1)
        h = self.module(full)  # through the wrapper, so DDP / peft hooks run
        return h[:, -embeds.shape[1] :], full

    def text_logits(self, h: torch.Tensor) -> torch.Tensor:
        return self._m().text_head(h)  # type: ignore[no-any-return]

    def image_logits(self, h: torch.Tensor) -> torch.Tensor:
        return self._m().image_head(h)  # type: ignore[no-any-return]

    def encode_image(self, image: Any) -> torch.Tensor:
        return self.codec.encode(image)

    def decode_images(self, codes: torch.Tensor) -> list[Any]:
        return [self.codec.decode(c) for c in codes]


TOY_FILE = "toy_model.json"


class ToyAdapter(TokenUnifiedAdapter):
    """The toy model as a trainable adapter (`model: tiny` builds a random one from `seed`)."""

    name = "toy"

    def __init__(self, module: ToyUnifiedLM, model_id: str = "tiny"):
        super().__init__(ToyBackbone(module))
        self.model_id = model_id

    @classmethod
    def load(cls, model: str = "tiny", seed: int = 0, **config: Any) -> ToyAdapter:
        """`tiny` (random init, seeded) or a folder written by `save`."""
        if model == "tiny":
            torch.manual_seed(seed)
            return cls(ToyUnifiedLM(**config), "tiny")
        p = Path(model)
        meta = p / TOY_FILE
        if not meta.is_file():
            raise InputError(f"not a toy-model checkpoint (no {TOY_FILE})", path=p)
        info = json.loads(meta.read_text())
        m = ToyUnifiedLM(**info["config"])
        from safetensors.torch import load_file

        m.load_state_dict(load_file(str(p / "model.safetensors")))
        return cls(m, str(p))

    @classmethod
    def for_training(cls, cfg: Any, seed: int) -> ToyAdapter:
        """Build from a trainer `ModelConfig` (`tiny`, or a folder written by `save`)."""
        return cls.load(cfg.model, seed=seed)

    def lora_targets(self) -> str:
        return r".*blocks\.\d+\.(q|k|v|o)_proj"

    def lora_keep_trainable(self) -> list[str]:
        return ["image_head"]

    def fingerprint(self) -> dict[str, Any]:
        return {"adapter": self.name, "config": self.backbone._m().config}  # type: ignore[attr-defined]

    def save(self, path: Path) -> None:
        from safetensors.torch import save_file

        m = self.backbone._m()  # type: ignore[attr-defined]
        path.mkdir(parents=True, exist_ok=True)
        mod = self.module()
        mod = getattr(mod, "module", mod)
        if hasattr(mod, "merge_and_unload"):  # write merged weights without touching the live model
            state = {k: v for k, v in _merged_state(mod).items()}
        else:
            state = {k: v.detach().contiguous().cpu() for k, v in m.state_dict().items()}
        save_file(state, str(path / "model.safetensors"))
        (path / TOY_FILE).write_text(
            json.dumps({"adapter": self.name, "config": m.config}, sort_keys=True, indent=1)
        )


def _merged_state(peft_model: Any) -> dict[str, torch.Tensor]:
    """Base weights with LoRA deltas folded in, computed on a copy (the live model keeps its adapter)."""
    import copy

    merged = copy.deepcopy(peft_model).merge_and_unload()
    return {k: v.detach().contiguous().cpu() for k, v in merged.state_dict().items()}
