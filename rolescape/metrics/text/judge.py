"""Optional LLM judge: `judge_memorization`, `judge_personality`, `judge_tone` (1-10) via any
OpenAI-compatible chat-completions endpoint.

Enabled when `ctx.options["judge_url"]` is set (`--judge-url`); options read from `ctx.options`:

| option | default | meaning |
|---|---|---|
| `judge_url` | (required) | base URL (`http://host:8000/v1`) or the full `.../chat/completions` URL |
| `judge_model` | (required) | model id sent in each request and recorded in ModelInfo |
| `judge_key_env` | `ROLESCAPE_JUDGE_API_KEY` | name of the environment variable holding the API key (unset: no Authorization header) |
| `judge_concurrency` | 4 | requests in flight at once (a thread pool) |
| `judge_timeout` | 60 | seconds per request |
| `judge_max_retries` | 5 | retries of one request on 429, 408, 5xx, timeouts and connection errors |
| `judge_backoff` | 1.0 | first backoff in seconds, doubled per retry (capped at `judge_backoff_max`, 60); a `Retry-After` header is honoured instead (capped at 300) |
| `judge_parse_retries` | 1 | re-asks after a reply without a parseable score |
| `judge_cache_dir` | `<cache root>/judge` | on-disk cache; `False` disables it |

The API key is read from the environment at request time and only ever placed in the Authorization
header: it is never logged, never stored in results, cache or errors (any text we record is passed
through a redactor that masks it, in case a server echoes it back).

Which rubrics per task (one request per rubric, so the scores are independent):
memorization -> memorization (vs the full profile) + tone; personality, dialogue, roleplay ->
personality (vs the simplified personality profile) + tone. Scores stay on the rubric's 1-10 scale
(not normalised), so they compare directly with the paper's reported 1-10 judge numbers.

Replies are parsed strictly (`parse_score`): one integer 1-10 given as JSON {"score": n}, "Score: n",
"n/10", "n out of 10" or a bare number; anything ambiguous ("between 6 and 7", "6-7", two different
numbers) or out of range ("11", "0", "7.5") is malformed. A malformed reply is re-asked
`judge_parse_retries` times, then recorded as a failure (value None, `judge_failures` counts failed
rubrics per item, the reason goes to the item's `info`) - a score is never guessed. A blank reply
gets the floor, 1, on each rubric without a request (the rubrics' "no relevant answer"). Successful
scores are cached on disk keyed by (judge model, prompt hash, rubric, item id, response, rendered
prompt), so a second run sends no requests; failures are not cached and are retried next run. The
judge model id and the prompt hash are recorded in ModelInfo (`ctx.models["judge"]`).
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import logging
import os
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rolescape.chat_client import ChatClient, ChatFailure, ClientConfig, chat_url, public_url
from rolescape.chat_client import parse_retry_after as parse_retry_after  # re-exported
from rolescape.errors import ModelUnavailable, RolescapeError
from rolescape.io import hash_obj
from rolescape.metrics.base import ItemBatch, MetricFamily, ScoreContext, Scores
from rolescape.metrics.cache import KeyedRecords
from rolescape.schemas.results import ModelInfo
from rolescape.schemas.tasks import DialogueItem, ProbeItem, RoleplayItem, TaskItem

log = logging.getLogger(__name__)

DEFAULT_KEY_ENV = "ROLESCAPE_JUDGE_API_KEY"
PROMPT_VERSION = "judge-v1"
TEMPERATURE = 0.0
MAX_TOKENS = 256
FAILURES_METRIC = "judge_failures"

SYSTEM_PROMPT = (
    "You are a strict, consistent evaluator of role-play dialogue. You grade one reply of a model "
    "that plays a fictional or real character, on one rubric only, using the character material "
    "you are given as ground truth. Use the whole 1-10 scale. Answer with a JSON object "
    '{"score": <integer 1-10>, "reason": "<one short sentence>"} and nothing else.'
)

RUBRICS: dict[str, dict[str, str]] = {
    "memorization": {
        "title": "Factual recall",
        "profile_field": "full_profile_clean",
        "profile_label": "Character profile (ground truth)",
        "criteria": (
            "Judge only whether the facts in the reply are correct and specific according to the "
            "profile. Ignore style and tone.\n"
            "10: answers the question fully and specifically; every stated fact agrees with the profile.\n"
            "8-9: correct and specific, with a minor omission or imprecision.\n"
            "6-7: mostly correct but vague, or one minor error.\n"
            "4-5: partially correct; important facts missing, or one clear error.\n"
            "2-3: mostly wrong or evasive, or invents facts that contradict the profile.\n"
            "1: no relevant answer, a refusal, an out-of-character AI-assistant reply, or contradicts "
            "the profile throughout.\n"
            "If the profile does not contain the answer, an in-character answer that contradicts "
            "nothing in the profile gets at most 6."
        ),
    },
    "personality": {
        "title": "Personality consistency",
        "profile_field": "personality_profile",
        "profile_label": "Personality profile (ground truth)",
        "criteria": (
            "Judge whether the reply shows the character's personality as described: traits, values, "
            "emotional reactions, attitude toward the user, typical behaviour in this situation. "
            "Ignore factual details and wording style.\n"
            "10: exactly how this character would react, showing defining traits naturally.\n"
            "8-9: clearly in character, showing one or two defining traits.\n"
            "6-7: compatible with the character but generic; many characters could say it.\n"
            "4-5: partly in character, with reactions this character would unlikely have.\n"
            "2-3: mostly out of character.\n"
            "1: contradicts the personality, or breaks character (e.g. talks as an AI assistant)."
        ),
    },
    "tone": {
        "title": "Voice and tone",
        "profile_field": "personality_profile",
        "profile_label": "Personality and speech habits (ground truth)",
        "criteria": (
            "Judge only how the reply sounds: vocabulary, sentence length and rhythm, register, "
            "humour, verbal tics, catchphrases and speech patterns of this character (as described, "
            "and as in the example line if one is given). Ignore whether facts are correct.\n"
            "10: unmistakably this character's voice; the wording alone identifies the character.\n"
            "8-9: strongly in voice with small lapses.\n"
            "6-7: some characteristic features, otherwise neutral.\n"
            "4-5: mostly a neutral, generic voice.\n"
            "2-3: a voice that clashes with the character.\n"
            "1: a generic AI-assistant voice, or out-of-character meta talk."
        ),
    },
}

TASK_RUBRICS: dict[str, tuple[str, ...]] = {
    "memorization": ("memorization", "tone"),
    "personality": ("personality", "tone"),
    "dialogue": ("personality", "tone"),
    "roleplay": ("personality", "tone"),
}

USER_TEMPLATE = """Grade one reply of a role-play model.

## Character
Description: {description}
{opening_block}{profile_label}:
<<<
{profile}
>>>
{example_block}
## The exchange
User: {user_input}
Model's reply, in character:
<<<
{response}
>>>

## Rubric: {title}
{criteria}

Answer with a JSON object and nothing else: {{"score": <integer 1-10>, "reason": "<one short sentence>"}}"""

FIX_PROMPT = (
    "Your answer could not be read. Answer again with exactly one JSON object: "
    '{"score": <integer 1-10>, "reason": "<one short sentence>"}'
)


def prompt_hash() -> str:
    """sha256 of everything in the prompts that does not come from the data (recorded in ModelInfo)."""
    return hash_obj(
        {
            "version": PROMPT_VERSION,
            "system": SYSTEM_PROMPT,
            "rubrics": RUBRICS,
            "task_rubrics": TASK_RUBRICS,
            "template": USER_TEMPLATE,
            "fix": FIX_PROMPT,
            "temperature": TEMPERATURE,
            "max_tokens": MAX_TOKENS,
        }
    )


def _scene(item: TaskItem) -> tuple[str, str, str, str]:
    """(description, opening, what the user said, the reference reply) of a text task's item."""
    if isinstance(item, ProbeItem):
        return item.description, item.opening, item.question, ""
    if isinstance(item, (DialogueItem, RoleplayItem)):
        return item.description, item.opening, item.user_text, item.reference_response
    return "", "", "", ""


def build_messages(
    rubric: str, task: str, item: TaskItem, response: str, character: dict[str, Any]
) -> list[dict[str, str]]:
    r = RUBRICS[rubric]
    description, item_opening, said, reference = _scene(item)
    opening = str(item_opening or character.get("opening") or "").strip()
    ref = str(reference or "").strip() if rubric == "tone" else ""
    user_input = str(said or "").strip()
    text = USER_TEMPLATE.format(
        description=str(description or character.get("description") or "").strip(),
        opening_block=f"The character's opening line: {opening}\n" if opening else "",
        profile_label=r["profile_label"],
        profile=str(character.get(r["profile_field"]) or "").strip(),
        example_block=(
            f"Example line by this character (for the voice only; the reply need not match "
            f"its content):\n<<<\n{ref}\n>>>\n"
            if ref
            else ""
        ),
        user_input=user_input,
        response=response,
        title=r["title"],
        criteria=r["criteria"],
    )
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": text}]


# --------------------------------------------------------------------------- strict score parsing

_NUM = r"\d+(?:\.\d+)?"
_LABEL = re.compile(
    rf"\b(?:final\s+|overall\s+)?(?:score|rating|grade)\b\s*(?:is\s*|of\s*)?[:=]?\s*(?P<n>{_NUM})", re.I
)
_OUT_OF = re.compile(rf"(?P<n>{_NUM})\s*(?:/|out\s+of)\s*10\b", re.I)
_VERB = re.compile(
    rf"\b(?:rate|give|award)\b(?:\s+(?:it|this|that|the|reply|response|answer|one))*\s+(?:an?\s+)?(?P<n>{_NUM})\b",
    re.I,
)
_RANGE_AFTER = re.compile(rf"^\s*(?:-|–|—|~|to|or|and)\s*{_NUM}", re.I)
_BARE = re.compile(rf"^\s*(?P<n>{_NUM})\s*[.!]?\s*$")
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.S | re.I)


def _valid_score(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, str):
        if not re.fullmatch(r"\s*\d+(?:\.0+)?\s*", v):
            return None
        v = float(v)
    if isinstance(v, (int, float)) and float(v).is_integer() and 1 <= v <= 10:
        return int(v)
    return None


def _json_object(text: str) -> dict[str, Any] | None:
    t = text.strip()
    m = _FENCE.match(t)
    if m:
        t = m.group(1).strip()
    if not t.startswith("{"):
        start, end = t.find("{"), t.rfind("}")
        if start < 0 or end <= start:
            return None
        t = t[start : end + 1]
    try:
        obj = json.loads(t)
    except (json.JSONDecodeError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def parse_score(reply: str | None) -> int | None:
    """The 1-10 integer score of a judge reply, or None when the reply is malformed or ambiguous."""
    if not isinstance(reply, str) or not reply.strip():
        return None
    obj = _json_object(reply)
    if obj is not None:
        keys = {k.lower(): k for k in obj}
        for name in ("score", "rating"):
            if name in keys:
                return _valid_score(obj[keys[name]])
    text = reply.replace("**", "").replace("__", "")
    cands: list[str] = []
    for pat in (_LABEL, _OUT_OF, _VERB):
        for m in pat.finditer(text):
            if _RANGE_AFTER.match(text[m.end("n") :]) and pat is not _OUT_OF:
                return None  # "Score: 6-7", "rate it 6 or 7"
            cands.append(m.group("n"))
    if not cands:
        bare = _BARE.match(text)
        if bare:
            cands.append(bare.group("n"))
    values = {_valid_score(c) for c in cands}
    if len(values) != 1:
        return None
    return values.pop()


# --------------------------------------------------------------------------- HTTP client
# The transport is rolescape.chat_client (shared with `rolescape generate`); these names stay here.


class JudgeFailure(Exception):
    """A rubric request that produced no score (after retries); the message is already redacted."""


class JudgeError(RolescapeError):
    """The judge failed on every request (a bad key, a wrong URL, a dead server): the run stops."""


@dataclass
class JudgeConfig:
    url: str
    model: str
    key_env: str = DEFAULT_KEY_ENV
    concurrency: int = 4
    timeout: float = 60.0
    max_retries: int = 5
    backoff: float = 1.0
    backoff_max: float = 60.0
    retry_after_max: float = 300.0
    parse_retries: int = 1

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> JudgeConfig:
        url, model = options.get("judge_url"), options.get("judge_model")
        if not url:
            raise ModelUnavailable("the LLM judge is off: no --judge-url given")
        if not model:
            raise ModelUnavailable("the LLM judge needs --judge-model (the model id at --judge-url)")
        scheme = urllib.parse.urlsplit(str(url)).scheme
        if scheme not in ("http", "https"):
            raise ModelUnavailable(f"--judge-url must be an http(s) URL, got scheme {scheme!r}")
        return cls(
            url=chat_url(str(url)),
            model=str(model),
            key_env=str(options.get("judge_key_env") or DEFAULT_KEY_ENV),
            concurrency=max(1, int(options.get("judge_concurrency", 4))),
            timeout=float(options.get("judge_timeout", 60.0)),
            max_retries=max(0, int(options.get("judge_max_retries", 5))),
            backoff=float(options.get("judge_backoff", 1.0)),
            backoff_max=float(options.get("judge_backoff_max", 60.0)),
            retry_after_max=float(options.get("judge_retry_after_max", 300.0)),
            parse_retries=max(0, int(options.get("judge_parse_retries", 1))),
        )


class JudgeClient:
    """Rubric requests over the shared ChatClient: retries, Retry-After, strict parsing, fail-fast auth."""

    def __init__(self, config: JudgeConfig, sleep: Callable[[float], None] = time.sleep):
        self.config = config
        self._sleep = sleep
        self._lock = threading.Lock()
        self._http = ChatClient(
            ClientConfig(
                url=config.url,
                key_env=config.key_env,
                timeout=config.timeout,
                max_retries=config.max_retries,
                backoff=config.backoff,
                backoff_max=config.backoff_max,
                retry_after_max=config.retry_after_max,
                user_agent="rolescape-judge",
                max_connections=max(4, config.concurrency),
            ),
            sleep=lambda s: self._sleep(s),
        )

    @property
    def requests_sent(self) -> int:
        return self._http.requests_sent

    @property
    def fatal(self) -> str | None:
        """The reason every request fails (401/403), or None."""
        return self._http.fatal

    def redact(self, text: str, limit: int | None = None) -> str:
        return self._http.redact(text, limit)

    def _chat(self, messages: list[dict[str, str]]) -> str | None:
        body = {
            "model": self.config.model,
            "messages": messages,
            "temperature": TEMPERATURE,
            "max_tokens": MAX_TOKENS,
        }
        try:
            return self._http.post(body).content
        except ChatFailure as e:
            raise JudgeFailure(e.reason) from None

    def score(self, messages: list[dict[str, str]]) -> tuple[int, str]:
        """(score, reply) for one rubric prompt, or JudgeFailure."""
        msgs = list(messages)
        last = ""
        for _ in range(self.config.parse_retries + 1):
            reply = self._chat(msgs)
            value = parse_score(reply)
            if value is not None:
                return value, str(reply)
            last = reply if isinstance(reply, str) else "<not a chat completion>"
            msgs = list(messages) + [
                {"role": "assistant", "content": last},
                {"role": "user", "content": FIX_PROMPT},
            ]
        shown = self.redact(last.strip(), 120)  # mask first, then cut
        raise JudgeFailure(f"malformed reply after {self.config.parse_retries + 1} attempt(s): {shown!r}")


# --------------------------------------------------------------------------- cache


class JudgeCache(KeyedRecords):
    """Successful judge scores keyed by hash, appended to scores.jsonl."""

    def __init__(self, folder: Path | None):
        super().__init__(folder, "scores.jsonl")


def cache_key(
    model: str, p_hash: str, rubric: str, item_id: str, response: str, messages: list[dict[str, str]]
) -> str:
    return hash_obj(
        {
            "model": model,
            "prompt_hash": p_hash,
            "rubric": rubric,
            "id": item_id,
            "response_sha256": hashlib.sha256(response.encode("utf-8")).hexdigest(),
            "messages_sha256": hash_obj(messages),
        }
    )


# --------------------------------------------------------------------------- the family


class JudgeFamily(MetricFamily):
    name = "judge"
    tasks = tuple(TASK_RUBRICS)
    uses_device = False

    def __init__(self) -> None:
        self.config: JudgeConfig | None = None
        self.client: JudgeClient | None = None
        self.cache = JudgeCache(None)
        self.prompt_hash = prompt_hash()
        self._characters: dict[str, dict[str, Any]] = {}
        self.stats: dict[str, Any] = {"requests": 0, "cache_hits": 0, "scored": 0, "failures": {}}

    def metric_names(self, task: str) -> list[str]:
        if task not in TASK_RUBRICS:
            return []
        return [f"judge_{r}" for r in TASK_RUBRICS[task]] + [FAILURES_METRIC]

    def prepare(self, ctx: ScoreContext, tasks: Sequence[str]) -> None:
        self.config = JudgeConfig.from_options(dict(ctx.options or {}))
        self.client = JudgeClient(self.config)
        folder_opt = (ctx.options or {}).get("judge_cache_dir")
        if folder_opt is False:
            folder = None
        elif folder_opt:
            folder = Path(folder_opt)
        else:
            from rolescape.metrics.text.encoders import cache_root

            root = cache_root(ctx)
            folder = None if root is None else root / "judge"
        self.cache = JudgeCache(folder)
        self._characters = {str(c["id"]): c for c in ctx.dataset("judge").characters()}
        if not os.environ.get(self.config.key_env):
            log.info(
                "judge: $%s is not set; sending requests without an Authorization header", self.config.key_env
            )
        ctx.models["judge"] = ModelInfo(
            name="judge",
            id=self.config.model,
            revision=None,
            dtype="api",
            preprocessing=(
                f"rubrics {PROMPT_VERSION} (memorization, personality, tone), prompt sha256 "
                f"{self.prompt_hash}; temperature {TEMPERATURE:g}, max_tokens {MAX_TOKENS}; "
                "1-10 integer scores parsed strictly, malformed -> failure"
            ),
            source=f"api:{public_url(self.config.url)}",
        )

    def _job(self, task: str, rubric: str, item: TaskItem, response: str) -> tuple[int | None, str | None]:
        assert self.client is not None and self.config is not None
        char = self._characters.get(item.character, {})
        messages = build_messages(rubric, task, item, response, char)
        key = cache_key(self.config.model, self.prompt_hash, rubric, item.id, response, messages)
        hit = self.cache.get(key)
        if hit is not None:
            with self.client._lock:
                self.stats["cache_hits"] += 1
            return int(hit["score"]), None
        try:
            value, reply = self.client.score(messages)
        except JudgeFailure as e:
            return None, self.client.redact(str(e))
        self.cache.put(
            {
                "key": key,
                "model": self.config.model,
                "prompt_hash": self.prompt_hash,
                "rubric": rubric,
                "id": item.id,
                "score": value,
                "reply": self.client.redact(reply, 2000),
            }
        )
        return value, None

    def score(self, batch: ItemBatch, ctx: ScoreContext) -> list[Scores]:
        assert self.client is not None and self.config is not None, "prepare() first"
        rubrics = TASK_RUBRICS.get(batch.task, ())
        out: list[Scores] = [
            dict.fromkeys([*(f"judge_{r}" for r in rubrics), FAILURES_METRIC]) for _ in batch.items
        ]
        jobs: dict[cf.Future[tuple[int | None, str | None]], tuple[int, str]] = {}
        first_error: str | None = None
        with cf.ThreadPoolExecutor(max_workers=self.config.concurrency, thread_name_prefix="judge") as pool:
            for i, (item, pred) in enumerate(zip(batch.typed, batch.predictions, strict=True)):
                if pred.text is None:
                    continue
                out[i][FAILURES_METRIC] = 0.0
                for r in rubrics:
                    if not pred.text.strip():
                        out[i][f"judge_{r}"] = 1.0  # an empty reply is the rubric's floor, no request
                        continue
                    jobs[pool.submit(self._job, batch.task, r, item, pred.text)] = (i, r)
            for fut in cf.as_completed(jobs):
                i, r = jobs[fut]
                value, error = fut.result()
                if value is not None:
                    out[i][f"judge_{r}"] = float(value)
                    self.stats["scored"] += 1
                    continue
                out[i][FAILURES_METRIC] = (out[i][FAILURES_METRIC] or 0.0) + 1.0
                self.stats["failures"][f"judge_{r}"] = self.stats["failures"].get(f"judge_{r}", 0) + 1
                item_id = batch.typed[i].id
                first_error = first_error or f"{item_id} {r}: {error}"
                log.warning("judge: %s %s failed: %s", item_id, r, error)
                info = getattr(batch, "info", None)
                if info is not None and i < len(info):
                    info[i][f"judge_{r}_error"] = error
        self.stats["requests"] = self.client.requests_sent
        self._fail_if_dead(first_error)
        return out

    def _fail_if_dead(self, first_error: str | None) -> None:
        """Stop the run when the judge cannot work at all, instead of writing all-n/a judge metrics."""
        assert self.client is not None and self.config is not None
        where = public_url(self.config.url)
        if self.client.fatal:
            raise JudgeError(f"LLM judge at {where} refused the requests: {self.client.fatal}")
        failed = sum(self.stats["failures"].values())
        if failed and not self.stats["scored"] and not self.stats["cache_hits"]:
            raise JudgeError(f"LLM judge at {where} failed on every request so far ({failed}): {first_error}")

    def version(self) -> str:
        model = self.config.model if self.config is not None else "?"
        return f"{PROMPT_VERSION}|{model}|{self.prompt_hash[:16]}"
