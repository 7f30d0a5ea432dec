"""`rolescape push`: upload a built folder to a Hugging Face dataset repository.

The plan is the manifest's files plus manifest.json (:func:`rolescape.hub.manifest_files`); the error,
the repo-id check, the token and the report are :mod:`rolescape.hub`'s, shared with `push-results`.
The token is never printed or logged.
"""

from __future__ import annotations

from pathlib import Path

from rolescape.errors import RolescapeError
from rolescape.hub import (
    REPO_TYPE,
    PushError,
    UploadPlan,
    check_repo_id,
    manifest_files,
    push_failed,
    require_token,
)


def plan_upload(
    folder: str | Path,
    repo_id: str,
    *,
    revision: str | None = None,
    private: bool = False,
    create_pr: bool = False,
) -> UploadPlan:
    """Exactly the files that would be uploaded: the manifest's files plus manifest.json."""
    from rolescape.builders.validate import validate_or_raise

    folder = Path(folder)
    manifest = validate_or_raise(folder)
    check_repo_id(repo_id)
    return UploadPlan(
        repo_id=repo_id,
        files=manifest_files(folder, manifest),
        commit_message=f"rolescape build {str(manifest.get('build_id', ''))[:12]}",
        private=private,
        revision=revision,
        create_pr=create_pr,
    )


def push(folder: str | Path, plan: UploadPlan, *, token_env: str | None = None) -> tuple[str, str]:
    """Create the dataset repo if needed and upload the planned files; (commit URL, token source)."""
    from huggingface_hub import HfApi

    token, where = require_token(token_env)
    api = HfApi(token=token)
    try:
        api.create_repo(plan.repo_id, repo_type=REPO_TYPE, private=plan.private, exist_ok=True)
        if plan.revision and not plan.create_pr:
            api.create_branch(plan.repo_id, repo_type=REPO_TYPE, branch=plan.revision, exist_ok=True)
        info = api.upload_folder(
            folder_path=str(folder),
            repo_id=plan.repo_id,
            repo_type=REPO_TYPE,
            revision=plan.revision,
            create_pr=plan.create_pr,
            allow_patterns=[f.path_in_repo for f in plan.files],
            # data files are named by content: the previous build's files would otherwise linger
            delete_patterns=["data/*"],
            commit_message=plan.commit_message,
        )
    except RolescapeError:
        raise
    except Exception as e:  # network, auth, permissions: one line, never the token
        raise push_failed("upload", plan.repo_id, e, token) from None
    return str(getattr(info, "commit_url", info)), where


__all__ = ["PushError", "UploadPlan", "plan_upload", "push"]
