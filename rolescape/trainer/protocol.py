"""The training side of the model-adapter protocol: what a trainer needs from a unified model.

An adapter that can be trained implements `TrainableAdapter` (a Protocol: no base class to import, so
a BAGEL or Show-o adapter can live in another package). Token-based unified models (Janus, the toy
model, Show-o's discrete head, Emu3) only implement the much smaller `TokenBackbone`; wrapping one in
`rolescape.trainer.unified.TokenUnifiedAdapter` gives every method below, with sampling and
teacher-forced log-probs that share one code path (the same guidance scale and temperature).

A prompt is a list of parts, each a string or a PIL image (an input image for understanding).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

Modality = Literal["text", "image"]
CfgMode = Literal["consistent", "conditional"]
PromptPart = Any  # str | PIL.Image.Image
Prompt = Sequence[PromptPart]


@dataclass
class SFTExample:
    """One supervised example: a prompt and the target text and/or target image (PIL or codes)."""

    prompt: list[PromptPart]
    text: str | None = None
    image: Any = None  # PIL image, or a 1-D sequence of image codes
    kind: str = ""  # scene | dialogue | knowledge_qa | visual_qa (for logs)
    id: str = ""


@dataclass
class SampleSpec:
    """How to roll out: which modalities (text first, then image), lengths, guidance, temperature."""

    modalities: tuple[Modality, ...] = ("text",)
    max_text_tokens: int = 32
    guidance: float = 1.0  # CFG scale on image tokens; 1 = conditional only
    temperature: float = 1.0
    greedy: bool = False


@dataclass
class Rollouts:
    """G sampled completions of one prompt, with the log-probs the sampler drew them with.

    `text_ids` is right-padded with the pad id after EOS (`text_mask` False there); the padding stays
    in the context of later image tokens, exactly as sampled, so teacher forcing sees the same input.
    """

    prompt: list[PromptPart]
    spec: SampleSpec
    text_ids: Any  # LongTensor (G, T)
    text_mask: Any  # BoolTensor (G, T)
    image_ids: Any  # LongTensor (G, N)   (N = 0 without an image phase)
    logprobs_text: Any  # FloatTensor (G, T)
    logprobs_image: Any  # FloatTensor (G, N)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def group_size(self) -> int:
        return int(self.text_ids.shape[0])


@dataclass
class TokenLogProbs:
    """Teacher-forced per-token log-probs (and entropies) per modality, aligned with a Rollouts."""

    text: Any  # (G, T)
    image: Any  # (G, N)
    text_mask: Any
    image_mask: Any
    entropy_text: Any
    entropy_image: Any


@runtime_checkable
class TrainableAdapter(Protocol):
    """What `rolescape.trainer` calls. Everything is in the adapter's own device and dtype."""

    name: str  # registry name of the adapter ("janus", "toy", ...)
    model_id: str  # what was loaded (hub id, folder, or "tiny")
    max_prompt_tokens: int  # set by the trainer from the model config before the first step

    @classmethod
    def for_training(cls, cfg: Any, seed: int) -> TrainableAdapter:
        """The adapter a trainer model config (`rolescape.trainer.config.ModelConfig`) names."""

    def module(self) -> Any:
        """The torch module that is optimised (the `ModelAdapter.module()` hook of rolescape.models)."""

    def set_module(self, module: Any) -> None:
        """Replace the module by its wrapped form (peft / accelerate); later calls go through it."""

    def sft_losses(self, batch: Sequence[SFTExample], drop_prompt: Sequence[bool]) -> dict[str, Any]:
        """Per-modality CE, each averaged over that modality's tokens in the batch.

        Returns {"text": loss, "image": loss, "n_text": tokens, "n_image": tokens}; a modality
        absent from the batch is left out. `drop_prompt[i]` replaces example i's prompt with the
        unconditional prompt (prompt dropout keeps CFG working)."""

    def sample(self, prompt: Prompt, group_size: int, spec: SampleSpec, generator: Any = None) -> Rollouts:
        """G completions of one prompt, returning sampled ids and their log-probs (no grad)."""

    def logprobs(self, rollouts: Rollouts, cfg_mode: CfgMode = "consistent") -> TokenLogProbs:
        """Teacher-forced log-probs of the sampled ids with the SAME guidance and temperature as
        sampling ("consistent"), or conditional logits only ("conditional", the T2I-R1 way)."""

    def decode(self, rollouts: Rollouts) -> list[dict[str, Any]]:
        """One {"text": str, "image": PIL} dict per completion (keys for the modalities sampled)."""

    def trainable_parameters(self) -> list[Any]:
        """Parameters the optimiser updates (LoRA weights plus heads, or everything)."""

    def lora_targets(self) -> str:
        """A regex of module names LoRA wraps by default (the language model's projections)."""

    def reference(self) -> contextlib.AbstractContextManager[None]:
        """A context in which the module computes the reference policy (LoRA: `disable_adapter()`)."""

    def save(self, path: Path) -> None:
        """Write weights + everything `load` needs into folder `path` (merged, generate-ready)."""

    def fingerprint(self) -> dict[str, Any]:
        """What identifies the architecture; a checkpoint of another model is refused by comparing it."""


@contextlib.contextmanager
def nullcontext() -> Iterator[None]:
    yield
