"""The one redaction helper for text that came from a remote server or a library error.

Every place that prints or stores such text (the judge, `generate`, both Hub uploads) calls
`redact()`. It masks every known secret **first** and only then cuts to a length, so a secret that
crosses the cut can never leak in part. Known secrets: the values passed in, the values of the
environment variables named (plus the usual token variables), and anything shaped like a bearer
token, an `sk-…` or an `hf_…` key.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Iterable

MASK = "***"
# Environment variables whose values are always treated as secrets.
SECRET_ENV_VARS: tuple[str, ...] = (
    "OPENAI_API_KEY",
    "ROLESCAPE_JUDGE_API_KEY",
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
)
MIN_SECRET_LEN = 4  # shorter values would mask ordinary words
MIN_PARTIAL = 6  # a trailing prefix of a secret at least this long is masked too
_SHAPES = (
    re.compile(r"(?i)(bearer\s+)[^\s\"',;]+"),
    re.compile(r"\bsk-[A-Za-z0-9_\-]{6,}"),
    re.compile(r"\bhf_[A-Za-z0-9]{6,}"),
)


def known_secrets(secrets: Iterable[str | None] = (), env: Iterable[str] = ()) -> list[str]:
    """The secret values to mask, longest first (so a key that contains another is masked whole)."""
    values = {s for s in secrets if s}
    for var in (*SECRET_ENV_VARS, *env):
        v = os.environ.get(var, "").strip()
        if v:
            values.add(v)
    out: set[str] = set()
    for v in values:
        if len(v) < MIN_SECRET_LEN:
            continue
        out.add(v)
        out.add(urllib.parse.quote(v, safe=""))  # a server may echo it URL-encoded
    return sorted(out, key=lambda s: (-len(s), s))


def redact(
    text: object,
    *,
    secrets: Iterable[str | None] = (),
    env: Iterable[str] = (),
    limit: int | None = None,
    one_line: bool = False,
) -> str:
    """`text` with every secret masked, then (optionally) reduced to its first line and cut to `limit`."""
    s = str(text)
    values = known_secrets(secrets, env)
    for secret in values:
        s = s.replace(secret, MASK)
    for secret in values:  # a server that cut its echo of the key leaves a prefix at the end
        for n in range(len(secret) - 1, MIN_PARTIAL - 1, -1):
            if s.endswith(secret[:n]):
                s = s[:-n] + MASK
                break
    for pat in _SHAPES:
        s = pat.sub(lambda m: (m.group(1) if m.groups() else "") + MASK, s)
    if one_line:
        s = (s.strip().splitlines() or [""])[0]
    if limit is not None and len(s) > limit:
        s = s[: max(0, limit - 1)] + "…"
    return s
