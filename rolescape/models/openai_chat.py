"""`openai` adapter: any OpenAI-compatible chat-completions endpoint (vLLM, llama.cpp, TGI, hosted APIs).

Options (`--adapter-option KEY=VALUE`):

| option | default | meaning |
|---|---|---|
| `base_url` | `$OPENAI_BASE_URL` | `http://host:port/v1` (or the full `/chat/completions` URL) |
| `key_env` | `OPENAI_API_KEY` | environment variable holding the key (unset: no Authorization header) |
| `concurrency` | 4 | requests in flight |
| `timeout` | 120 | seconds per request |
| `max_retries` | 4 | retries on 408/429/5xx, timeouts, refused connections (backoff doubles from `backoff`) |
| `backoff` | 1.0 | first backoff in seconds |
| `mcq` | `free` | `free` (letter parsed from the reply), `json_object` (llama.cpp: `response_format` json_object with a one-letter schema), `json_schema` (vLLM, OpenAI: strict json_schema), `guided_choice` (vLLM) |
| `vision` | false | send images as data URIs (visual MCQ, the reference image in roleplay) |
| `cache_dir` | `~/.cache/rolescape/replies` | disk cache of replies keyed by (model, prompt hash, sampling, seed); `false` disables |

A failed request (after retries), a 401/403/404, or a body that is not a chat completion stops the
run with one line naming the endpoint, the item and the reason; the key is never part of it.
"""

from __future__ import annotations

import base64
import concurrent.futures as cf
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rolescape.chat_client import ChatClient, ChatFailure, ClientConfig, chat_url, public_url
from rolescape.io import hash_obj
from rolescape.metrics.cache import KeyedRecords
from rolescape.metrics.mcq import extract_choice
from rolescape.models.base import (
    LETTERS,
    AdapterError,
    AdapterOptions,
    Capabilities,
    ChoiceAnswer,
    ChoiceRequest,
    ModelAdapter,
    ModelProvenance,
    Prompt,
    Sampling,
    TextAnswer,
    TextRequest,
)

MCQ_MODES = ("free", "json_object", "json_schema", "guided_choice")
CHOICE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"answer": {"type": "string", "enum": list(LETTERS)}},
    "required": ["answer"],
}


def default_reply_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rolescape" / "replies"


def _image_mime(data: bytes) -> str:
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return "application/octet-stream"


def data_uri(data: bytes) -> str:
    return f"data:{_image_mime(data)};base64,{base64.b64encode(data).decode('ascii')}"


def to_messages(prompt: Prompt, vision: bool) -> list[dict[str, Any]]:
    """Chat messages; images become `image_url` parts (data URIs) when `vision`, else are dropped."""
    out: list[dict[str, Any]] = []
    for m in prompt.messages:
        text = m.content.replace("<image>", "") if vision and m.images else m.content
        if vision and m.images:
            parts: list[dict[str, Any]] = [
                {"type": "image_url", "image_url": {"url": data_uri(b)}} for b in m.images
            ]
            parts.append({"type": "text", "text": text})
            out.append({"role": m.role, "content": parts})
        else:
            out.append({"role": m.role, "content": text})
    return out


class ReplyCache(KeyedRecords):
    """Replies keyed by hash of (model, prompt, sampling), appended to replies.jsonl."""

    def __init__(self, folder: Path | None):
        super().__init__(folder, "replies.jsonl")


class OpenAIAdapter(ModelAdapter):
    """Text and MCQ (optionally images in) over an OpenAI-compatible endpoint, requests in parallel."""

    name = "openai"
    transport_options = frozenset(
        {"base_url", "key_env", "concurrency", "timeout", "max_retries", "backoff", "cache_dir"}
    )

    def __init__(
        self,
        model: str,
        client: ChatClient,
        *,
        concurrency: int = 4,
        mcq: str = "free",
        vision: bool = False,
        cache: ReplyCache | None = None,
        options: dict[str, str] | None = None,
    ):
        self.model = model
        self.client = client
        self.concurrency = max(1, concurrency)
        self.mcq = mcq
        self.vision = vision
        self.cache = cache or ReplyCache(None)
        self.options = options or {}
        self.batch_size = 8 * self.concurrency
        self.capabilities = Capabilities(
            text_out=True, image_in=vision, multi_image_in=vision, constrained_choice=mcq != "free"
        )
        self.server_model: str | None = None
        self.system_fingerprint: str | None = None
        self._pool = cf.ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="openai")

    @classmethod
    def from_options(cls, model: str, options: AdapterOptions) -> OpenAIAdapter:
        base = options.get_str("base_url") or os.environ.get("OPENAI_BASE_URL")
        if not base:
            raise AdapterError(
                "adapter 'openai' needs an endpoint: --adapter-option base_url=http://host:port/v1 "
                "or $OPENAI_BASE_URL"
            )
        if not base.startswith(("http://", "https://")):
            raise AdapterError(f"base_url {public_url(base)!r}: expected an http(s) URL")
        mcq = options.get_str("mcq", "free") or "free"
        if mcq not in MCQ_MODES:
            raise AdapterError(f"--adapter-option mcq={mcq!r}: expected one of {', '.join(MCQ_MODES)}")
        key_env = options.get_str("key_env", "OPENAI_API_KEY") or "OPENAI_API_KEY"
        cache_opt = options.get_str("cache_dir")
        folder: Path | None
        if cache_opt is not None and cache_opt.lower() in ("false", "0", "off", "none", ""):
            folder = None
        else:
            folder = Path(cache_opt) if cache_opt else default_reply_cache()
        concurrency = options.get_int("concurrency", 4)
        config = ClientConfig(
            url=chat_url(base),
            key_env=key_env,
            timeout=options.get_float("timeout", 120.0),
            max_retries=max(0, options.get_int("max_retries", 4)),
            backoff=options.get_float("backoff", 1.0),
            user_agent="rolescape-generate",
            max_connections=max(4, concurrency),
        )
        return cls(
            model,
            ChatClient(config),
            concurrency=concurrency,
            mcq=mcq,
            vision=options.get_bool("vision", False),
            cache=ReplyCache(folder),
            options={k: (public_url(v) if k == "base_url" else v) for k, v in options.as_dict().items()},
        )

    # ------------------------------------------------------------------------------ requests

    def _body(self, prompt: Prompt, sampling: Sampling, seed: int, choice: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": to_messages(prompt, self.vision),
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "max_tokens": 16 if choice and self.mcq != "free" else sampling.max_new_tokens,
            "seed": seed,
        }
        if choice and self.mcq == "json_object":
            body["response_format"] = {"type": "json_object", "schema": CHOICE_SCHEMA}
        elif choice and self.mcq == "json_schema":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "choice", "schema": CHOICE_SCHEMA, "strict": True},
            }
        elif choice and self.mcq == "guided_choice":
            body["guided_choice"] = list(LETTERS)
        return body

    def _ask(self, item_id: str, body: dict[str, Any]) -> tuple[str, int | None]:
        key = hash_obj(body)  # model, messages, sampling settings and seed
        hit = self.cache.get(key)
        if hit is not None:
            return str(hit["content"]), hit.get("tokens")
        where = public_url(self.client.config.url)
        try:
            reply = self.client.post(body)
        except ChatFailure as e:
            raise AdapterError(f"endpoint {where} failed on {item_id}: {e.reason}") from None
        if reply.content is None:
            raise AdapterError(
                f"endpoint {where} answered {item_id} with a body that is not a chat completion"
            )
        if self.server_model is None:
            self.server_model = str(reply.data.get("model")) if reply.data.get("model") else None
            fp = reply.data.get("system_fingerprint")
            self.system_fingerprint = str(fp) if fp else None
        content = self.client.redact(reply.content)  # the reply is stored: no secret in it, ever
        self.cache.put({"key": key, "content": content, "tokens": reply.completion_tokens})
        return content, reply.completion_tokens

    def _run(self, jobs: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, int | None]]:
        futures = [self._pool.submit(self._ask, item_id, body) for item_id, body in jobs]
        try:
            return [f.result() for f in futures]
        except BaseException:
            for f in futures:
                f.cancel()
            raise

    def generate_text(self, requests: Sequence[TextRequest]) -> list[TextAnswer]:
        jobs = [(r.id, self._body(r.prompt, r.sampling, r.seed, False)) for r in requests]
        return [TextAnswer(text, tokens) for text, tokens in self._run(jobs)]

    def choose(self, requests: Sequence[ChoiceRequest]) -> list[ChoiceAnswer]:
        jobs = [(r.id, self._body(r.prompt, r.sampling, r.seed, True)) for r in requests]
        out = []
        for r, (text, tokens) in zip(requests, self._run(jobs), strict=True):
            letter, how = None, "unparseable"
            if self.mcq != "free":
                try:
                    obj = json.loads(text)
                    ans = str(obj.get("answer", "")).strip().upper() if isinstance(obj, dict) else ""
                    if ans in LETTERS:
                        letter, how = ans, "constrained"
                except (json.JSONDecodeError, ValueError):
                    pass
                if letter is None and text.strip().upper() in LETTERS:
                    letter, how = text.strip().upper(), "constrained"
            if letter is None:
                letter, how = extract_choice(text, dict(r.options))
            out.append(ChoiceAnswer(letter, text, tokens, {"choice_parse": how}))
        return out

    def provenance(self) -> ModelProvenance:
        from importlib.metadata import version

        import httpx2

        extra: dict[str, Any] = {"base_url": public_url(self.client.config.url), "mcq": self.mcq}
        if self.server_model:
            extra["server_model"] = self.server_model
        if self.system_fingerprint:
            extra["system_fingerprint"] = self.system_fingerprint
        return ModelProvenance(
            adapter=self.name,
            model_id=self.model,
            dtype="api",
            device="remote",
            options={k: v for k, v in self.options.items() if k != "cache_dir"},
            versions={"httpx2": httpx2.__version__, "tenacity": version("tenacity")},
            extra=extra,
        )

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()
