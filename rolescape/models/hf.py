"""`hf` adapter: transformers causal LMs and image-text-to-text models in-process, batched, chat template.

`--model` is a local model folder, a Hub id (through the usual cache), or a `.gguf` file (loaded with
transformers' GGUF support, the `gguf` package; the converted model is saved once under the cache so
later loads take a second). Never `trust_remote_code`.

Two kinds of model (option `kind`, `auto` by default: the config's model type decides):

* `causal-lm`: `AutoModelForCausalLM` + its tokenizer; text tasks; images in a prompt are dropped.
* `image-text-to-text`: a vision-language model (LLaVA, Idefics3 / SmolVLM, Qwen2-VL, Gemma 3, ...)
  through `AutoModelForImageTextToText` + `AutoProcessor`; capability `image_in`: visual MCQ sees the
  item's image, and roleplay's text half (through `compose`) the character's reference image. Each
  message becomes image parts followed by its text (the release's `<image>` marker removed), rendered
  by the processor's chat template.

Options: `kind` (auto|causal-lm|image-text-to-text), `device` (auto|cpu|cuda[:N]|mps), `dtype`
(float32|bfloat16|float16|auto; float32 on CPU by default), `batch_size` (8), `revision`,
`chat_template` (true: the tokenizer's / processor's template when it has one; false: the prompt as
plain text, images as the processor's image token), `cache_dir` (for converted GGUF models).

Batches are left-padded; with greedy decoding the answer of an item does not depend on the other
items of its batch up to floating-point ties (a batch mixing items with and without images is run as
two sub-batches). Sampling (`--temperature > 0`) seeds torch with the first request's seed of each
batch; the seed of every item is recorded in its prediction.
"""

from __future__ import annotations

import hashlib
import io
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
from rolescape.models.prompts import IMAGE_TOKEN


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


KINDS = ("auto", "causal-lm", "image-text-to-text")
CAUSAL, VISION = "causal-lm", "image-text-to-text"


def model_kind(where: str, revision: str | None, requested: str) -> str:
    """`requested`, or for `auto` the kind the model's config names (image-text-to-text when the
    config's model type has an `AutoModelForImageTextToText` class, else causal-lm)."""
    if requested not in KINDS:
        raise AdapterError(f"--adapter-option kind={requested!r}: expected one of {', '.join(KINDS)}")
    if requested != "auto":
        return requested
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES

    try:
        cfg = AutoConfig.from_pretrained(where, revision=revision)
    except Exception:  # noqa: BLE001 - the loader below names what is wrong
        return CAUSAL
    return (
        VISION if getattr(cfg, "model_type", None) in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES else CAUSAL
    )


def load_model(
    model: str, *, revision: str | None, dtype: Any, cache_dir: Path | None, kind: str = "auto"
) -> tuple[Any, Any, str, str]:
    """(model, tokenizer or processor, where it came from, kind); a path that is not a model is an
    AdapterError. GGUF files are causal LMs (transformers reads no vision GGUF)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if kind not in KINDS:
        raise AdapterError(f"--adapter-option kind={kind!r}: expected one of {', '.join(KINDS)}")
    p = Path(model)
    if p.suffix == ".gguf":
        if kind == VISION:
            raise AdapterError(f"--model {model}: a GGUF file loads as a causal LM only (kind={kind})")
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
        return _load_folder(str(folder), None, dtype, CAUSAL) + (f"gguf:{p.name}", CAUSAL)
    if p.exists() and not (p / "config.json").is_file():
        raise AdapterError(f"--model {model}: not a transformers model folder (no config.json)")
    kind = model_kind(model, revision, kind)
    return _load_folder(model, revision, dtype, kind) + ("local" if p.exists() else "hub", kind)


def load_causal_lm(
    model: str, *, revision: str | None, dtype: Any, cache_dir: Path | None
) -> tuple[Any, Any, str]:
    """(model, tokenizer, where it came from) of a causal LM."""
    m, tok, source, _ = load_model(model, revision=revision, dtype=dtype, cache_dir=cache_dir, kind=CAUSAL)
    return m, tok, source


def _load_folder(where: str, revision: str | None, dtype: Any, kind: str) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoModelForImageTextToText, AutoProcessor, AutoTokenizer

    what = "an image-text-to-text model" if kind == VISION else "a causal LM"
    try:
        if kind == VISION:
            tok = AutoProcessor.from_pretrained(where, revision=revision)
            if getattr(tok, "tokenizer", None) is None or getattr(tok, "image_processor", None) is None:
                raise ValueError(f"no image processor (AutoProcessor gives a {type(tok).__name__})")
            m = AutoModelForImageTextToText.from_pretrained(where, revision=revision, dtype=dtype)
        else:
            tok = AutoTokenizer.from_pretrained(where, revision=revision)
            m = AutoModelForCausalLM.from_pretrained(where, revision=revision, dtype=dtype)
    except Exception as e:  # noqa: BLE001
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise AdapterError(f"--model {where}: cannot load {what} ({type(e).__name__}: {msg[:200]})") from None
    return m, tok


def _pil(data: bytes, item_id: str) -> Any:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            return im.convert("RGB")
    except (UnidentifiedImageError, OSError) as e:
        raise AdapterError(f"{item_id}: an input image cannot be decoded ({e})") from None


class HFAdapter(ModelAdapter):
    """Text generation with a transformers causal LM or image-text-to-text model."""

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
        kind: str = CAUSAL,
    ):
        self.model_id = model_id
        self.model = model.to(device).eval()
        self.kind = kind
        # image-text-to-text: `tokenizer` is the processor (tokenizer + image processor + template)
        self.processor = tokenizer if kind == VISION else None
        self.tok = tokenizer.tokenizer if kind == VISION else tokenizer
        self.device = device
        self.dtype = dtype
        self.batch_size = max(1, batch_size)
        self.source = source
        self.options = options
        self.use_template = chat_template and bool(getattr(tokenizer, "chat_template", None))
        self.tok.padding_side = "left"
        if self.tok.pad_token_id is None:
            self.tok.pad_token = self.tok.eos_token
        vision = kind == VISION
        self.image_token = str(getattr(self.processor, "image_token", "") or "") if vision else ""
        if vision and not self.use_template and not self.image_token:
            raise AdapterError(
                f"--model {model_id}: its processor has neither a chat template nor an image token"
            )
        self.capabilities = Capabilities(text_out=True, image_in=vision, multi_image_in=vision)

    @classmethod
    def from_options(cls, model: str, options: AdapterOptions) -> HFAdapter:
        device = resolve_device(options.get_str("device", "auto") or "auto")
        dtype = _dtype(options.get_str("dtype", "auto") or "auto", device)
        cache = options.get_str("cache_dir")
        m, tok, source, kind = load_model(
            model,
            revision=options.get_str("revision"),
            dtype=dtype,
            cache_dir=Path(cache) if cache else None,
            kind=options.get_str("kind", "auto") or "auto",
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
            kind=kind,
        )

    def render(self, prompt: Prompt) -> str:
        if self.kind == VISION:
            return self._render_vision(prompt)
        if self.use_template:
            msgs = [{"role": m.role, "content": m.content} for m in prompt.messages]
            return str(self.tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False))
        return prompt.as_text()

    def _render_vision(self, prompt: Prompt) -> str:
        """Each message: one image part per image, then its text (the release's marker removed)."""
        if not self.use_template:
            return "\n\n".join(
                self.image_token * len(m.images)
                + (m.content.replace(IMAGE_TOKEN, "") if m.images else m.content)
                for m in prompt.messages
            )
        msgs = []
        for m in prompt.messages:
            parts: list[dict[str, str]] = [{"type": "image"} for _ in m.images]
            parts.append(
                {"type": "text", "text": m.content.replace(IMAGE_TOKEN, "") if m.images else m.content}
            )
            msgs.append({"role": m.role, "content": parts})
        assert self.processor is not None
        return str(self.processor.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False))

    def generate_text(self, requests: Sequence[TextRequest]) -> list[TextAnswer]:
        if not requests:
            return []
        if self.kind != VISION:
            texts = [self.render(r.prompt) for r in requests]
            enc = self.tok(texts, return_tensors="pt", padding=True, add_special_tokens=not self.use_template)
            return self._generate(requests, enc)
        # items with and without images cannot share a processor call: run them as two sub-batches
        answers: list[TextAnswer | None] = [None] * len(requests)
        for with_images in (True, False):
            idx = [i for i, r in enumerate(requests) if bool(r.prompt.images) == with_images]
            if not idx:
                continue
            sub = [requests[i] for i in idx]
            texts = [self.render(r.prompt) for r in sub]
            images = [[_pil(b, r.id) for b in r.prompt.images] for r in sub] if with_images else None
            assert self.processor is not None
            enc = self.processor(
                text=texts,
                images=images,
                return_tensors="pt",
                padding=True,
                add_special_tokens=not self.use_template,
            )
            for i, a in zip(idx, self._generate(sub, enc), strict=True):
                answers[i] = a
        return [a for a in answers if a is not None]

    def _generate(self, requests: Sequence[TextRequest], enc: Any) -> list[TextAnswer]:
        import torch

        s = requests[0].sampling
        inputs = {
            k: (v.to(self.device, self.dtype) if v.is_floating_point() else v.to(self.device))
            for k, v in dict(enc).items()
            if isinstance(v, torch.Tensor)
        }
        kw: dict[str, Any] = {"max_new_tokens": s.max_new_tokens, "pad_token_id": self.tok.pad_token_id}
        if s.greedy:
            kw.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        else:
            torch.manual_seed(requests[0].seed)
            kw.update(do_sample=True, temperature=s.temperature, top_p=s.top_p)
        with torch.inference_mode():
            out = self.model.generate(**inputs, **kw)
        new = out[:, inputs["input_ids"].shape[1] :]
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
                "kind": self.kind,
                "architecture": (getattr(cfg, "architectures", None) or [type(self.model).__name__])[0],
            },
        )

    def module(self) -> Any:
        return self.model

    def close(self) -> None:
        self.model = None
