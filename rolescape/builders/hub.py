"""`rolescape push`: upload a built folder to a Hugging Face dataset repository.

The token comes from the usual places (HF_TOKEN, or the token stored by `huggingface-cli login`) and
is never printed or logged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from rolescape.errors import RolescapeError


class PushError(RolescapeError):
    pass


@dataclass(frozen=True)
class UploadPlan:
    repo_id: str
    revision: str | None
    private: bool
    create_pr: bool
    files: list[tuple[str, int]]  # (path in repo, bytes)

    @property
    def total_bytes(self) -> int:
        return sum(n for _, n in self.files)


def plan_upload(folder: str | Path, repo_id: str, *, revision: str | None = None, private: bool = False,
                create_pr: bool = False) -> UploadPlan:
    """Exactly the files that would be uploaded: the manifest's files plus manifest.json."""
    from rolescape.builders.validate import validate_or_raise

    folder = Path(folder)
    manifest = validate_or_raise(folder)
    files = [(rel, int(meta["bytes"])) for rel, meta in sorted(manifest["files"].items())]
    files.append(("manifest.json", (folder / "manifest.json").stat().st_size))
    if "/" not in repo_id or repo_id.count("/") != 1:
        raise PushError(f"--repo-id {repo_id!r}: expected <owner>/<name>")
    return UploadPlan(repo_id=repo_id, revision=revision, private=private, create_pr=create_pr,
                      files=sorted(files))


def push(folder: str | Path, plan: UploadPlan) -> str:
    """Create the dataset repo if needed and upload the planned files; returns the commit URL."""
    from huggingface_hub import HfApi, get_token

    if not get_token():
        raise PushError("no Hugging Face token found: set HF_TOKEN or run `huggingface-cli login`")
    api = HfApi()
    try:
        api.create_repo(plan.repo_id, repo_type="dataset", private=plan.private, exist_ok=True)
        if plan.revision and not plan.create_pr:
            api.create_branch(plan.repo_id, repo_type="dataset", branch=plan.revision, exist_ok=True)
        manifest = json.loads((Path(folder) / "manifest.json").read_text(encoding="utf-8"))
        info = api.upload_folder(
            folder_path=str(folder), repo_id=plan.repo_id, repo_type="dataset", revision=plan.revision,
            create_pr=plan.create_pr, allow_patterns=[p for p, _ in plan.files],
            # data files are named by content: the previous build's files would otherwise linger
            delete_patterns=["data/*"],
            commit_message=f"rolescape build {manifest.get('build_id', '')[:12]}",
        )
    except RolescapeError:
        raise
    except Exception as e:  # network, auth, permissions: one line, never the token
        raise PushError(f"upload to {plan.repo_id} failed: {type(e).__name__}: {_redact(str(e))}") from None
    return str(getattr(info, "commit_url", info))


def _redact(msg: str) -> str:
    from rolescape.redact import redact

    return redact(msg, one_line=True)  # HF_TOKEN, HUGGING_FACE_HUB_TOKEN and hf_… shapes, masked first
