"""Resolve a `--source` into a local release root: a folder, the Hugging Face Hub, or the demo.

Accepted forms:
* a path to the release repository root (it contains `data/personalized_data/`), or to
  `data/personalized_data` itself;
* `hf://datasets/<owner>/<name>[@revision]`, downloaded with huggingface_hub into its standard cache;
* `demo`, the original characters shipped inside the package.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from rolescape._paths import demo_release_root
from rolescape.errors import SourceError

DEFAULT_HUB_REPO = "Tangc03/RoleScape20"
HUB_RE = re.compile(r"^hf://datasets/(?P<repo>[\w.-]+/[\w.-]+)(?:@(?P<rev>[\w./-]+))?/?$")


@dataclass(frozen=True)
class ResolvedSource:
    root: Path  # release repository root (contains data/personalized_data)
    kind: str  # "local" | "hub" | "demo"
    name: str  # display name: folder name, repo id or "demo"
    revision: str | None = None
    # The folder nothing may be read outside of (symlinks included). None: `root` itself. A Hub
    # snapshot's files are symlinks into the repository's blob store, so there it is the repo cache.
    confine: Path | None = None


def _release_root(path: Path) -> Path | None:
    """The repository root for a path that is the root or its data/personalized_data folder."""
    if (path / "data" / "personalized_data" / "train").is_dir():
        return path
    if path.name == "personalized_data" and (path / "train").is_dir() and path.parent.name == "data":
        return path.parent.parent
    return None


def _not_release_message(path: Path) -> str:
    try:
        entries = sorted(p.name for p in path.iterdir())[:8]
    except OSError:
        entries = []
    seen = ", ".join(entries) if entries else "nothing"
    return (
        f"{path}: not a RoleScape-20 release: expected data/personalized_data/{{train,test}}/ "
        f"(the UniCharacter repository root) or the data/personalized_data folder; found {seen}"
    )


def resolve_local(path: str | Path) -> ResolvedSource:
    p = Path(path).expanduser()
    if not p.exists():
        raise SourceError(f"{p}: source does not exist")
    if not p.is_dir():
        raise SourceError(f"{p}: source is not a folder")
    root = _release_root(p.resolve())
    if root is None:
        raise SourceError(_not_release_message(p))
    if not (root / "data" / "personalized_data" / "test").is_dir():
        raise SourceError(f"{root}: not a RoleScape-20 release: data/personalized_data/test/ is missing")
    return ResolvedSource(root=root, kind="local", name=root.name)


def resolve_demo() -> ResolvedSource:
    return ResolvedSource(root=demo_release_root(), kind="demo", name="demo")


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _hub_layout_root(snapshot: Path, repo: str) -> Path:
    """Find the release layout inside a Hub snapshot, or explain why it cannot be used."""
    if (root := _release_root(snapshot)) is not None:
        return root
    if (snapshot / "personalized_data" / "train").is_dir():
        # Hub copy rooted at data/: give the builder a view with the GitHub layout.
        return _wrap_as_repo(snapshot / "personalized_data", snapshot)
    if (snapshot / "train").is_dir() and (snapshot / "test").is_dir():
        return _wrap_as_repo(snapshot, snapshot)
    raise SourceError(
        f"hf://datasets/{repo}: the downloaded layout is not one rolescape knows "
        f"({_not_release_message(snapshot).split(': ', 2)[-1]}); download the GitHub release "
        f"(Tangc03/UniCharacter) and pass --source /path/to/UniCharacter"
    )


def _wrap_as_repo(personalized: Path, snapshot: Path) -> Path:
    """Symlink a bare personalized_data tree into `<cache>/rolescape-layout/data/personalized_data`."""
    view = snapshot.parent / f".rolescape-layout-{snapshot.name}"
    target = view / "data" / "personalized_data"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(personalized.resolve(), target, target_is_directory=True)
    return view


def resolve_hub(spec: str) -> ResolvedSource:
    m = HUB_RE.match(spec)
    if not m:
        raise SourceError(f"{spec}: a Hub source looks like hf://datasets/<owner>/<name>[@revision]")
    repo, rev = m["repo"], m["rev"]
    offline_hint = (
        f"cannot download hf://datasets/{repo} (no connection to the Hugging Face Hub); "
        "download the release elsewhere (git clone of Tangc03/UniCharacter, or "
        f"`huggingface-cli download --repo-type dataset {repo}`) and pass --source /path/to/that/folder"
    )
    try:
        from huggingface_hub import snapshot_download
    except ImportError:  # pragma: no cover - it is a core dependency
        raise SourceError("huggingface_hub is not installed; pip install huggingface_hub") from None
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError

    try:
        path = snapshot_download(repo_id=repo, repo_type="dataset", revision=rev, local_files_only=True)
    except Exception:
        if _hub_offline():
            raise SourceError(offline_hint + " (HF_HUB_OFFLINE is set)") from None
        try:
            path = snapshot_download(repo_id=repo, repo_type="dataset", revision=rev)
        except GatedRepoError:
            raise SourceError(
                f"hf://datasets/{repo}: the repository is gated; accept its terms on the Hub and log in "
                "(HF_TOKEN or `huggingface-cli login`), or pass --source /path/to/a/local/copy"
            ) from None
        except RevisionNotFoundError:
            raise SourceError(f"hf://datasets/{repo}: revision {rev!r} does not exist") from None
        except RepositoryNotFoundError:
            raise SourceError(
                f"hf://datasets/{repo}: the dataset repository does not exist (or is private: log in)"
            ) from None
        except Exception as e:  # no connection (LocalEntryNotFoundError), timeouts, proxies, HTTP 5xx ...
            raise SourceError(offline_hint + f" ({type(e).__name__})") from None
    snapshot = Path(path)
    return ResolvedSource(
        root=_hub_layout_root(snapshot, repo),
        kind="hub",
        name=repo,
        revision=snapshot.name,
        confine=snapshot.resolve().parent.parent,
    )


def resolve_source(spec: str | Path) -> ResolvedSource:
    s = str(spec)
    if s == "demo":
        return resolve_demo()
    if s.startswith("hf://"):
        return resolve_hub(s)
    return resolve_local(s)
