"""The one HTTP client for OpenAI-compatible chat-completions endpoints (the judge and `generate`).

Built on httpx2 (already required by huggingface_hub) and tenacity: a pooled connection, bounded
retries with exponential backoff on 408/409/425/429/5xx, timeouts and connection errors, honouring
`Retry-After`; 401/403 stop every later request of the client (a bad key fails fast). The API key is
read from an environment variable at request time and only placed in the Authorization header;
every reason it reports went through `rolescape.redact.redact`.
"""

from __future__ import annotations

import datetime as _dt
import email.utils
import json
import logging
import os
import re
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rolescape.redact import redact

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({408, 409, 425, 429})
AUTH_STATUS = frozenset({401, 403})


class ChatFailure(Exception):
    """A request that got no chat completion after its retries; `reason` is already redacted."""

    def __init__(self, reason: str, *, status: int | None = None, fatal: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.fatal = fatal


class _Transient(Exception):
    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def chat_url(url: str) -> str:
    """`.../v1` or `.../v1/chat/completions` -> the chat-completions URL."""
    u = url.strip().rstrip("/")
    return u if u.endswith("/chat/completions") else u + "/chat/completions"


def public_url(url: str) -> str:
    """The URL without credentials, query or fragment (safe to record)."""
    p = urllib.parse.urlsplit(url)
    host = p.hostname or ""
    if p.port:
        host = f"{host}:{p.port}"
    return urllib.parse.urlunsplit((p.scheme, host, p.path, "", ""))


@dataclass
class ChatReply:
    """One reply: `content` is None when the body was not a chat completion."""

    content: str | None
    completion_tokens: int | None = None
    finish_reason: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class ClientConfig:
    url: str  # the chat-completions URL (see chat_url)
    key_env: str | None = None
    timeout: float = 60.0
    max_retries: int = 5
    backoff: float = 1.0
    backoff_max: float = 60.0
    retry_after_max: float = 300.0
    user_agent: str = "rolescape"
    max_connections: int = 16


class ChatClient:
    """POSTs chat-completion bodies; thread-safe (one pooled httpx2 client shared by worker threads)."""

    def __init__(self, config: ClientConfig, sleep: Callable[[float], None] = time.sleep):
        import httpx2

        self.config = config
        self.sleep = sleep
        self._lock = threading.Lock()
        self.requests_sent = 0
        self.fatal: str | None = None
        limits = httpx2.Limits(
            max_connections=config.max_connections, max_keepalive_connections=config.max_connections
        )
        self._http = httpx2.Client(timeout=config.timeout, limits=limits, follow_redirects=False)

    def key(self) -> str:
        return os.environ.get(self.config.key_env, "").strip() if self.config.key_env else ""

    def redact(self, text: object, limit: int | None = None) -> str:
        return redact(text, secrets=[self.key()], env=[self.config.key_env or ""], limit=limit)

    def close(self) -> None:
        self._http.close()

    def _post_once(self, body: dict[str, Any]) -> ChatReply:
        import httpx2

        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        headers["User-Agent"] = self.config.user_agent
        key = self.key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        with self._lock:
            self.requests_sent += 1
        try:
            resp = self._http.post(self.config.url, content=json.dumps(body).encode("utf-8"), headers=headers)
        except httpx2.TimeoutException:
            raise _Transient("timeout") from None
        except httpx2.HTTPError as e:
            raise _Transient(self.redact(f"connection error: {type(e).__name__}: {e}", 200)) from None
        except OSError as e:
            raise _Transient(self.redact(f"connection error: {type(e).__name__}", 200)) from None
        code = resp.status_code
        if code >= 400:
            retry_after = parse_retry_after(resp.headers.get("Retry-After"))
            if code in RETRY_STATUS or code >= 500:
                raise _Transient(f"HTTP {code}", retry_after)
            reason = self.redact(f"HTTP {code} {resp.reason_phrase}: {resp.text.strip()}", 240)
            if code in AUTH_STATUS:
                hint = f" (check ${self.config.key_env})" if self.config.key_env else ""
                self.fatal = reason + hint
                raise ChatFailure(self.fatal, status=code, fatal=True)
            raise ChatFailure(reason, status=code, fatal=code == 404)
        try:
            data = resp.json()
            choice = data["choices"][0]
            content = choice["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            return ChatReply(None)
        if not isinstance(content, str):
            return ChatReply(None)
        usage = data.get("usage") if isinstance(data, dict) else None
        tokens = usage.get("completion_tokens") if isinstance(usage, dict) else None
        return ChatReply(
            content,
            tokens if isinstance(tokens, int) else None,
            choice.get("finish_reason") if isinstance(choice, dict) else None,
            data,
        )

    def _wait(self, state: Any) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        attempt = state.attempt_number - 1
        if isinstance(exc, _Transient) and exc.retry_after is not None:
            delay = min(exc.retry_after, self.config.retry_after_max)
        else:
            delay = min(self.config.backoff * (2**attempt), self.config.backoff_max)
        log.info(
            "chat: %s, retrying in %.2fs (attempt %d/%d)",
            getattr(exc, "reason", exc),
            delay,
            attempt + 1,
            self.config.max_retries,
        )
        return delay

    def post(self, body: dict[str, Any]) -> ChatReply:
        """One chat completion with retries; raises ChatFailure (redacted reason)."""
        import tenacity

        if self.fatal:
            raise ChatFailure(self.fatal, fatal=True)
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.config.max_retries + 1),
            wait=self._wait,
            retry=tenacity.retry_if_exception_type(_Transient),
            sleep=lambda s: self.sleep(s),
            reraise=True,
        )
        try:
            return retrying(self._post_once, body)
        except _Transient as e:
            raise ChatFailure(f"{e.reason} after {self.config.max_retries + 1} attempts") from None
