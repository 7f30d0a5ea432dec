"""Model adapters behind a lazy registry: names resolve to "module:Class" on first use (no torch at import).

| name        | what                                                                  | capabilities |
|-------------|-----------------------------------------------------------------------|--------------|
| `openai`    | any OpenAI-compatible chat endpoint (vLLM, llama.cpp server, TGI, APIs) | text, image in, letter |
| `hf`        | transformers causal LMs / image-text-to-text models, in-process        | text (+ image in) |
| `diffusers` | diffusers text-to-image pipelines (SD, SDXL, DreamBooth / LoRA)         | image out |
| `compose`   | a text adapter + an image adapter (roleplay as T2T2I)                   | both halves |
| `janus`     | Janus / Janus-Pro through transformers (unified text + image)           | text, image in/out |

`build_adapter(name, model, options)` builds one; `rolescape generate --adapter NAME` uses it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rolescape.models.base import (
    AdapterError,
    AdapterOptions,
    Capabilities,
    ChoiceAnswer,
    ChoiceRequest,
    ImageAnswer,
    ImageRequest,
    Message,
    ModelAdapter,
    ModelProvenance,
    Prompt,
    Sampling,
    TextAnswer,
    TextRequest,
    item_seed,
    missing_capability,
)
from rolescape.registry import Registry

ADAPTERS: Registry[type[ModelAdapter]] = Registry("adapter", ModelAdapter)
ADAPTERS.register("openai", "rolescape.models.openai_chat:OpenAIAdapter")
ADAPTERS.register("hf", "rolescape.models.hf:HFAdapter")
ADAPTERS.register("diffusers", "rolescape.models.diffusers_t2i:DiffusersAdapter")
ADAPTERS.register("compose", "rolescape.models.compose:ComposeAdapter")
ADAPTERS.register("janus", "rolescape.models.janus:JanusAdapter")


def build_adapter(
    name: str, model: str, options: AdapterOptions | Mapping[str, str] | Iterable[str] = ()
) -> ModelAdapter:
    """The adapter `name` for `model`, with `--adapter-option`s; unknown options are refused."""
    cls = ADAPTERS.get(name)
    opts = options if isinstance(options, AdapterOptions) else AdapterOptions(options)
    adapter: ModelAdapter = cls.from_options(model, opts)
    try:
        opts.check_used(name)
    except AdapterError:
        adapter.close()
        raise
    return adapter


__all__ = [
    "ADAPTERS",
    "AdapterError",
    "AdapterOptions",
    "Capabilities",
    "ChoiceAnswer",
    "ChoiceRequest",
    "ImageAnswer",
    "ImageRequest",
    "Message",
    "ModelAdapter",
    "ModelProvenance",
    "Prompt",
    "Sampling",
    "TextAnswer",
    "TextRequest",
    "build_adapter",
    "item_seed",
    "missing_capability",
]
