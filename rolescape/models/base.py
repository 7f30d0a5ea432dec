"""The model-adapter protocol: what an adapter can do, what it is asked, what it answers.

`rolescape generate` turns each task item into a request (`TextRequest`, `ChoiceRequest`,
`ImageRequest`), hands batches of them to an adapter, and writes the answers as predictions. An
adapter declares its `Capabilities`; a task that needs one it lacks is skipped with the reason
(`missing_capability`). Adapters are built from `--model` + `--adapter-option KEY=VALUE`s through
`ModelAdapter.from_options`, and report their provenance for `generation.json`.

The trainer (rolescape/trainer) builds on the same classes: an adapter that can be trained exposes
its torch module through `ModelAdapter.module()`; anything more belongs to subclasses.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Literal

from rolescape.errors import RolescapeError

Role = Literal["system", "user", "assistant"]
Letter = Literal["A", "B", "C", "D"]
LETTERS: tuple[str, ...] = ("A", "B", "C", "D")


class AdapterError(RolescapeError):
    """An adapter cannot be built or cannot answer (bad option, not a model, endpoint failure)."""


# ----------------------------------------------------------------------------------- capabilities


@dataclass(frozen=True)
class Capabilities:
    """What an adapter can do. `generate` matches each task's needs against these."""

    text_out: bool = False
    image_out: bool = False
    image_in: bool = False
    multi_image_in: bool = False  # several images in one prompt
    constrained_choice: bool = False  # can be forced to answer one letter A-D

    def as_dict(self) -> dict[str, bool]:
        return asdict(self)


# Needs of each task: a tuple of capability names that must all be true.
TASK_NEEDS: dict[str, tuple[str, ...]] = {
    "roleplay": ("text_out", "image_out"),
    "t2i": ("image_out",),
    "t2i_vqa": ("image_out",),
    "knowledge_mcq": ("text_out",),
    "visual_mcq": ("text_out", "image_in"),
    "dialogue": ("text_out",),
    "memorization": ("text_out",),
    "personality": ("text_out",),
}


def missing_capability(task: str, caps: Capabilities) -> str | None:
    """None when `caps` can do `task`, else the reason it cannot ("needs image_out")."""
    lacking = [c for c in TASK_NEEDS[task] if not getattr(caps, c)]
    return f"needs {' and '.join(lacking)}" if lacking else None


# ------------------------------------------------------------------------------------------ prompts


@dataclass(frozen=True)
class Message:
    """One chat turn; `images` are original image bytes shown with this turn (image_in adapters)."""

    role: Role
    content: str
    images: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class Prompt:
    """A rendered prompt: the messages plus the style that made them. `sha256` goes into metadata."""

    messages: tuple[Message, ...]
    style: str

    @property
    def images(self) -> tuple[bytes, ...]:
        return tuple(b for m in self.messages for b in m.images)

    def as_text(self) -> str:
        """The prompt as one plain string (for adapters without a chat template)."""
        return "\n\n".join(m.content for m in self.messages)

    @property
    def sha256(self) -> str:
        h = hashlib.sha256()
        payload = [
            {
                "role": m.role,
                "content": m.content,
                "images": [hashlib.sha256(b).hexdigest() for b in m.images],
            }
            for m in self.messages
        ]
        h.update(json.dumps({"style": self.style, "messages": payload}, sort_keys=True).encode("utf-8"))
        return h.hexdigest()


# ------------------------------------------------------------------------------------ sampling/seeds


@dataclass(frozen=True)
class Sampling:
    """Sampling settings of a run; greedy text (temperature 0) by default. Recorded in generation.json."""

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    k: int = 1  # images per prompt for t2i_vqa (and t2i when > 1)
    num_inference_steps: int = 30
    guidance_scale: float = 5.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0


def item_seed(seed: int, item_id: str, salt: str = "") -> int:
    """A per-item seed derived from the run seed and the item id, so shards and resumes agree."""
    digest = hashlib.sha256(f"{seed}\x00{item_id}\x00{salt}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


# ----------------------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class TextRequest:
    """Generate a text reply to `prompt` (dialogue, memorization, personality, roleplay text)."""

    id: str
    task: str
    character: str
    prompt: Prompt
    sampling: Sampling
    seed: int


@dataclass(frozen=True)
class ChoiceRequest:
    """Answer a multiple-choice question: one of `options` (letter -> text)."""

    id: str
    task: str
    character: str
    prompt: Prompt
    options: Mapping[str, str]
    sampling: Sampling
    seed: int


@dataclass(frozen=True)
class ImageRequest:
    """Generate `k` images for `prompt` (t2i, t2i_vqa, the image half of roleplay)."""

    id: str
    task: str
    character: str
    prompt: str
    k: int
    sampling: Sampling
    seed: int
    reference_images: tuple[bytes, ...] = ()  # the character's train images, for adapters that use them
    negative_prompt: str = ""


# ------------------------------------------------------------------------------------------ answers


@dataclass
class TextAnswer:
    """A text reply; `tokens` is the number of generated tokens when known (throughput)."""

    text: str
    tokens: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class ChoiceAnswer:
    """A letter (None when the reply named none; `text` then is scored by the MCQ parser)."""

    choice: str | None
    text: str = ""
    tokens: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class ImageAnswer:
    """Generated images as encoded bytes (PNG unless the adapter says otherwise), `k` of them."""

    images: list[bytes]
    meta: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------ options


class AdapterOptions:
    """`--adapter-option KEY=VALUE` pairs with typed getters; an option no getter asked for is an error.

    Values matching `secret_keys` (api keys, tokens) never appear in `as_dict()`.
    """

    def __init__(self, pairs: Mapping[str, str] | Iterable[str] = ()):
        items: dict[str, str] = {}
        if isinstance(pairs, Mapping):
            items = {str(k): str(v) for k, v in pairs.items()}
        else:
            for raw in pairs:
                key, sep, value = raw.partition("=")
                if not sep or not key.strip():
                    raise AdapterError(f"--adapter-option {raw!r}: expected KEY=VALUE")
                if key.strip() in items:
                    raise AdapterError(f"--adapter-option {key.strip()!r} is given twice")
                items[key.strip()] = value
        self._items = items
        self._used: set[str] = set()

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def get_str(self, key: str, default: str | None = None) -> str | None:
        self._used.add(key)
        return self._items.get(key, default)

    def get_int(self, key: str, default: int) -> int:
        v = self.get_str(key)
        if v is None:
            return default
        try:
            return int(v)
        except ValueError:
            raise AdapterError(f"--adapter-option {key}={v!r}: expected an integer") from None

    def get_float(self, key: str, default: float) -> float:
        v = self.get_str(key)
        if v is None:
            return default
        try:
            return float(v)
        except ValueError:
            raise AdapterError(f"--adapter-option {key}={v!r}: expected a number") from None

    def get_bool(self, key: str, default: bool) -> bool:
        v = self.get_str(key)
        if v is None:
            return default
        low = v.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise AdapterError(f"--adapter-option {key}={v!r}: expected true or false")

    def check_used(self, adapter: str) -> None:
        """Refuse options that the adapter never read (a typo must not be silently ignored)."""
        unknown = sorted(set(self._items) - self._used)
        if unknown:
            known = ", ".join(sorted(self._used)) or "none"
            raise AdapterError(f"adapter {adapter!r} has no option {unknown[0]!r} (its options: {known})")

    def subset(self, prefix: str) -> AdapterOptions:
        """Options under `prefix.` (compose: `text.base_url=...`), with the prefix removed; marks them used."""
        out = {}
        for k, v in self._items.items():
            if k.startswith(prefix + "."):
                self._used.add(k)
                out[k[len(prefix) + 1 :]] = v
        return AdapterOptions(out)

    def as_dict(self, secret_keys: Sequence[str] = ()) -> dict[str, str]:
        return {k: ("***" if k in secret_keys else v) for k, v in sorted(self._items.items())}


# ------------------------------------------------------------------------------------------ adapter


@dataclass(frozen=True)
class ModelProvenance:
    """What generation.json records about the model: enough to reproduce the run."""

    adapter: str
    model_id: str
    revision: str | None = None
    dtype: str | None = None
    device: str | None = None
    options: dict[str, str] = field(default_factory=dict)  # secrets masked
    versions: dict[str, str] = field(default_factory=dict)  # library versions
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class ModelAdapter:
    """Base class of every adapter. Batched methods take a list of requests and return one answer each.

    Subclasses set `name` and `capabilities`, implement `from_options` and the methods matching
    their capabilities; the defaults raise, and `choose` falls back to `generate_text` + the MCQ parser.
    """

    name: ClassVar[str] = "adapter"
    capabilities: Capabilities = Capabilities()
    batch_size: int = 1  # how many requests generate hands over at once
    # Options that cannot change an answer (endpoint address, concurrency, timeouts, cache folder):
    # recorded in provenance, but a resumed run may change them.
    transport_options: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def from_options(cls, model: str, options: AdapterOptions) -> ModelAdapter:
        """Build the adapter for `--model` with its options; raise AdapterError on bad input."""
        raise NotImplementedError

    def generate_text(self, requests: Sequence[TextRequest]) -> list[TextAnswer]:
        raise AdapterError(f"adapter {self.name!r} cannot generate text")

    def choose(self, requests: Sequence[ChoiceRequest]) -> list[ChoiceAnswer]:
        """Default: free-text generation, the letter parsed from the reply (None if unparseable)."""
        from rolescape.metrics.mcq import extract_choice

        texts = self.generate_text(
            [TextRequest(r.id, r.task, r.character, r.prompt, r.sampling, r.seed) for r in requests]
        )
        out = []
        for r, a in zip(requests, texts, strict=True):
            letter, how = extract_choice(a.text, dict(r.options))
            out.append(ChoiceAnswer(letter, a.text, a.tokens, {**a.meta, "choice_parse": how}))
        return out

    def generate_images(self, requests: Sequence[ImageRequest]) -> list[ImageAnswer]:
        raise AdapterError(f"adapter {self.name!r} cannot generate images")

    def provenance(self) -> ModelProvenance:
        raise NotImplementedError

    def module(self) -> Any:
        """The underlying torch module for training, when there is one (trainer hook)."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (HTTP clients, servers, GPU memory)."""
        return None
