"""`hf` adapter: a transformers causal LM in-process, batched, chat template, greedy by default.

`--model` is a local model folder, a Hub id (through the usual cache), or a `.gguf` file (loaded with
transformers' GGUF support, the `gguf` package; the converted model is saved once under the cache so
later loads take a second). Never `trust_remote_code`.

Options: `device` (auto|cpu|cuda[:N]|mps), `dtype` (float32|bfloat16|float16|auto; float32 on CPU by
default), `batch_size` (8), `revision`, `chat_template` (true: the tokenizer's template when it has
one; false: the prompt as plain text), `cache_dir` (for converted GGUF models).

Batches are left-padded; with greedy decoding the answer of an item does not depend on the other
items of its batch up to floating-point ties. Sampling (`--temperature > 0`) seeds torch with the
first request's seed of each batch; the seed of every item is recorded in its prediction.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rolescape.models.base import (
    AdapterError,
    AdapterOptions,
    Capabilities,
    ModelAdapter,
    ModelProvenance,
    Prompt,
    TextAnswer,
    TextRequest,
)


def gguf_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rolescape" / "gguf"


def _file_key(path: Path) -> str:
    st = path.stat()
    return hashlib.sha256(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:24]


def resolve_device(spec: str) -> str:
    import torch

    if spec == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if spec.startswith("cuda") and not torch.cuda.is_available():
        raise AdapterError(f"--adapter-option device={spec}: CUDA is not available")
    return spec


def _dtype(name: str, device: str) -> Any:
    import torch

    if name == "auto":
        return torch.float32 if device == "cpu" else torch.bfloat16
    table = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if name not in table:
        raise AdapterError(f"--adapter-option dtype={name!r}: expected auto, float32, bfloat16 or float16")
    return table[name]


def load_causal_lm(
    model: str, *, revision: str | None, dtype: Any, cache_dir: Path | None
) -> tuple[Any, Any, str]:
    """(model, tokenizer, where it came from); a path that is not a model is an AdapterError."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    p = Path(model)
    if p.suffix == ".gguf":
        if not p.is_file():
            raise AdapterError(f"--model {model}: no such GGUF file")
        folder = (cache_dir or gguf_cache_dir()) / _file_key(p)
        if not (folder / "config.json").is_file():
            try:
                m = AutoModelForCausalLM.from_pretrained(str(p.parent), gguf_file=p.name, dtype=dtype)
                tok = AutoTokenizer.from_pretrained(str(p.parent), gguf_file=p.name)
            except Exception as e:  # noqa: BLE001 - any loader failure is "not a model" to the user
                raise AdapterError(
                    f"--model {model}: not a loadable GGUF model ({type(e).__name__}: {e})"
                ) from None
            tmp = folder.with_name(folder.name + ".partial")
            # transformers dequantizes GGUF weights to plain tensors on load; only its marker forbids saving
            m.hf_quantizer = None  # type: ignore[assignment]
            if hasattr(m.config, "quantization_config"):
                del m.config.quantization_config
            m.save_pretrained(tmp)
            tok.save_pretrained(tmp)
            if not folder.exists():
                os.replace(tmp, folder)
        return _load_folder(str(folder), None, dtype) + (f"gguf:{p.name}",)
    if p.exists() and not (p / "config.json").is_file():
        raise AdapterError(f"--model {model}: not a transformers model folder (no config.json)")
    return _load_folder(model, revision, dtype) + ("local" if p.exists() else "hub",)


def _load_folder(where: str, revision: str | None, dtype: Any) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(where, revision=revision)
        m = AutoModelForCausalLM.from_pretrained(where, revision=revision, dtype=dtype)
    except Exception as e:  # noqa: BLE001
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise AdapterError(
            f"--model {where}: cannot load a causal LM ({type(e).__name__}: {msg[:200]})"
        ) from None
    return m, tok


class HFAdapter(ModelAdapter):
    """Text generation with a transformers causal LM."""

    name = "hf"
    transport_options = frozenset({"device", "cache_dir"})

    def __init__(
        self,
        model_id: str,
        model: Any,
        tokenizer: Any,
        *,
        device: str,
        dtype: Any,
        batch_size: int,
        chat_template: bool,
        source: str,
        options: dict[str, str],
    ):
        self.model_id = model_id
        self.model = model.to(device).eval()
        self.tok = tokenizer
        self.device = device
        self.dtype = dtype
        self.batch_size = max(1, batch_size)
        self.source = source
        self.options = options
        self.use_template = chat_template and bool(getattr(tokenizer, "chat_template", None))
        self.tok.padding_side = "left"
        if self.tok.pad_token_id is None:
            self.tok.pad_token = self.tok.eos_token
        self.capabilities = Capabilities(text_out=True)

    @classmethod
    def from_options(cls, model: str, options: AdapterOptions) -> HFAdapter:
        device = resolve_device(options.get_str("device", "auto") or "auto")
        dtype = _dtype(options.get_str("dtype", "auto") or "auto", device)
        cache = options.get_str("cache_dir")
        m, tok, source = load_causal_lm(
            model, revision=options.get_str("revision"), dtype=dtype, cache_dir=Path(cache) if cache else None
        )
        return cls(
            model,
            m,
            tok,
            device=device,
            dtype=dtype,
            batch_size=options.get_int("batch_size", 8),
            chat_template=options.get_bool("chat_template", True),
            source=source,
            options=options.as_dict(),
        )

    def render(self, prompt: Prompt) -> str:
        if self.use_template:
            msgs = [{"role": m.role, "content": m.content} for m in prompt.messages]
            return str(self.tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False))
        return prompt.as_text()

    def generate_text(self, requests: Sequence[TextRequest]) -> list[TextAnswer]:
        import torch

        if not requests:
            return []
        s = requests[0].sampling
        texts = [self.render(r.prompt) for r in requests]
        enc = self.tok(texts, return_tensors="pt", padding=True, add_special_tokens=not self.use_template)
        enc = {k: v.to(self.device) for k, v in enc.items()}
        kw: dict[str, Any] = {"max_new_tokens": s.max_new_tokens, "pad_token_id": self.tok.pad_token_id}
        if s.greedy:
            kw.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        else:
            torch.manual_seed(requests[0].seed)
            kw.update(do_sample=True, temperature=s.temperature, top_p=s.top_p)
        with torch.inference_mode():
            out = self.model.generate(**enc, **kw)
        new = out[:, enc["input_ids"].shape[1] :]
        answers = []
        eos = {self.tok.eos_token_id, self.tok.pad_token_id}
        for row in new.tolist():
            kept = []
            for t in row:
                if t in eos:
                    break
                kept.append(t)
            answers.append(TextAnswer(self.tok.decode(kept, skip_special_tokens=True).strip(), len(kept)))
        return answers

    def provenance(self) -> ModelProvenance:
        import torch
        import transformers

        cfg = getattr(self.model, "config", None)
        return ModelProvenance(
            adapter=self.name,
            model_id=self.model_id,
            revision=self.options.get("revision") or getattr(cfg, "_commit_hash", None),
            dtype=str(self.dtype).replace("torch.", ""),
            device=self.device,
            options=self.options,
            versions={"torch": torch.__version__, "transformers": transformers.__version__},
            extra={
                "source": self.source,
                "chat_template": self.use_template,
                "architecture": (getattr(cfg, "architectures", None) or [type(self.model).__name__])[0],
            },
        )

    def module(self) -> Any:
        return self.model

    def close(self) -> None:
        self.model = None
