"""What both Hub uploads share: the error, the repo-id check, the token, redaction, and the upload plan.

`rolescape push` (a built dataset folder, :mod:`rolescape.builders.hub`) and `rolescape push-results`
(a scored run, :mod:`rolescape.leaderboard.hub`) each make an :class:`UploadPlan`: exactly the files
one commit uploads, with their sizes and sha256. The plan needs no network; ``--dry-run`` prints it with
:func:`report_lines`, and so does a real push after its commit, so both commands look the same.

The token comes from ``--token-env VAR``, else huggingface_hub's usual places (HF_TOKEN, the stored
token). It is never printed: the report names only where it came from, and every error message that
may carry text from the server passes through :func:`rolescape.redact.redact` with the token first.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from rolescape.errors import InputError, RolescapeError
from rolescape.io import sha256_bytes
from rolescape.redact import redact

REPO_TYPE = "dataset"
_REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*")
NO_TOKEN_HELP = "none found (set HF_TOKEN, run `hf auth login`, or pass --token-env VAR)"


class PushError(RolescapeError):
    """The Hub refused or could not be reached; the message never contains the token."""


def check_repo_id(repo_id: str) -> str:
    """``owner/name`` with the characters the Hub allows, else an InputError naming ``--repo-id``."""
    if not _REPO_ID.fullmatch(repo_id or ""):
        raise InputError(f"--repo-id must look like 'owner/name', got {repo_id!r}")
    return repo_id


@dataclass(frozen=True)
class PlannedFile:
    """One file of an upload: where it goes, its size and hash, and what it is.

    ``data`` holds the bytes when the plan built them in memory; None means the file of that name in
    the folder being uploaded (its size and hash as the build's manifest records them).
    """

    path_in_repo: str
    size: int
    sha256: str
    what: str
    data: bytes | None = None

    @classmethod
    def from_bytes(cls, path_in_repo: str, data: bytes, what: str) -> PlannedFile:
        return cls(path_in_repo, len(data), sha256_bytes(data), what, data)


@dataclass
class UploadPlan:
    """Exactly what one commit uploads to one dataset repository."""

    repo_id: str
    files: list[PlannedFile]
    commit_message: str
    private: bool = False
    revision: str | None = None
    create_pr: bool = False
    details: list[str] = field(default_factory=list)  # extra lines for the report (config, split)

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def describe(self) -> list[str]:
        """The repository, the commit and one line per file (path, size, sha256 prefix, what)."""
        vis = "private" if self.private else "public (unless the repository already exists)"
        target = self.revision or "main"
        lines = [
            f"repository: {self.repo_id} (type {REPO_TYPE}, {vis})",
            f"revision: {target}" + (", as a pull request" if self.create_pr else ""),
            *self.details,
            f"commit message: {self.commit_message}",
        ]
        lines += [
            f"  {f.path_in_repo}  {f.size} bytes  sha256 {f.sha256[:16]}  ({f.what})" for f in self.files
        ]
        return lines


def report_lines(
    plan: UploadPlan, token_source: str, *, dry_run: bool, commit_url: str | None = None
) -> list[str]:
    """What both push commands print: a summary, the plan, where the token came from, the commit."""
    head = "dry run: would upload" if dry_run else "uploaded"
    lines = [f"{head} {len(plan.files)} files ({plan.total_bytes:,} bytes) to datasets/{plan.repo_id}"]
    lines += plan.describe()
    lines.append(f"token: {token_source}")
    if not dry_run:
        lines.append(f"pushed {len(plan.files)} files, commit: {commit_url or '(no commit url returned)'}")
    return lines


def resolve_token(token_env: str | None = None) -> tuple[str | None, str]:
    """(token, where it came from); the description never contains the token itself.

    ``token_env`` names an environment variable that must hold it; without one, huggingface_hub's
    usual places are asked (None and a hint when there is none).
    """
    if token_env:
        value = os.environ.get(token_env, "")
        if not value.strip():
            raise InputError(f"environment variable {token_env} is not set or empty", where="--token-env")
        return value.strip(), f"${token_env}"
    from huggingface_hub import get_token

    tok = get_token()
    if not tok:
        return None, NO_TOKEN_HELP
    return tok, "$HF_TOKEN" if os.environ.get("HF_TOKEN") else "huggingface_hub's stored token"


def require_token(token_env: str | None = None) -> tuple[str, str]:
    """:func:`resolve_token`, but a missing token is a PushError (nothing is sent without one)."""
    token, where = resolve_token(token_env)
    if token is None:
        raise PushError(f"no Hugging Face token: {where}")
    return token, where


def push_failed(action: str, repo_id: str, exc: BaseException, token: str | None) -> PushError:
    """One line for a library/network error, the token (and every known secret) masked first."""
    text = f"{action} to {repo_id} failed: {type(exc).__name__}: {exc}"
    return PushError(redact(text, secrets=[token], one_line=True))


def manifest_files(folder: Path, manifest: dict[str, object]) -> list[PlannedFile]:
    """A built folder's upload: every file its manifest lists, plus ``manifest.json`` itself."""
    listed = manifest.get("files")
    if not isinstance(listed, dict):
        raise InputError("manifest.json has no `files` table", path=folder / "manifest.json")
    files = [
        PlannedFile(rel, int(meta["bytes"]), str(meta["sha256"]), "built file")
        for rel, meta in sorted(listed.items())
    ]
    files.append(PlannedFile.from_bytes("manifest.json", (folder / "manifest.json").read_bytes(), "manifest"))
    return sorted(files, key=lambda f: f.path_in_repo)


__all__ = [
    "REPO_TYPE",
    "PushError",
    "check_repo_id",
    "PlannedFile",
    "UploadPlan",
    "report_lines",
    "resolve_token",
    "require_token",
    "push_failed",
    "manifest_files",
]
