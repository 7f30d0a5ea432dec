"""`rolescape build`: source -> parse + audit -> parquet, card, audit, manifest, renamed into place."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rolescape.builders.release import Progress
from rolescape.builders.sources import ResolvedSource, resolve_source
from rolescape.errors import OutputError, RolescapeError
from rolescape.io import check_out_dir, hash_obj, make_temp_dir, replace_dir, sha256_file


class StrictBuildError(RolescapeError):
    """--strict and the audit found error-level problems."""


@dataclass
class BuildResult:
    out: Path
    manifest: dict[str, Any]
    unchanged: bool  # the folder already held this exact build
    n_findings: dict[str, int]


def source_identity(src: ResolvedSource, files_read: list[str]) -> dict[str, Any]:
    """What was read, as content hashes: the same files give the same identity wherever they live.

    A local source's folder name is not part of it (nor of anything else in the build): the same
    files under another folder name give a byte-identical build.
    """
    tree = {rel: sha256_file(src.root / rel) for rel in sorted(files_read)}
    ident: dict[str, Any] = {"kind": src.kind, "tree_sha256": hash_obj(tree), "n_files": len(tree)}
    if src.kind != "local":
        ident["name"] = src.name
    if src.revision:
        ident["revision"] = src.revision
    if src.kind == "hub":
        ident["identity"] = f"hf://datasets/{src.name}@{src.revision}"
    elif src.kind == "local":
        ident["identity"] = f"local:tree#{ident['tree_sha256'][:16]}"
    else:
        ident["identity"] = f"{src.kind}:{src.name}#{ident['tree_sha256'][:16]}"
    return ident


def _existing_build(out: Path) -> dict[str, Any] | None:
    """Manifest of a previous build at `out`, None if `out` is absent or empty; refuse anything else."""
    if not out.exists():
        return None
    if not out.is_dir():
        raise OutputError(f"{out}: exists and is not a folder")
    if not any(out.iterdir()):
        return None
    m = out / "manifest.json"
    try:
        manifest = json.loads(m.read_text(encoding="utf-8"))
        if manifest.get("format") != "rolescape-built":
            raise ValueError
    except (OSError, ValueError):
        raise OutputError(f"{out}: exists and is not a rolescape build; choose another --out") from None
    return manifest


def build(
    source: str | Path,
    out: str | Path,
    *,
    strict: bool = False,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> BuildResult:
    """Build a dataset folder at `out` from `source` (path, hf://datasets/..., or "demo")."""
    from rolescape.builders.export import write_build
    from rolescape.builders.parse_release import parse_release

    out = Path(out)
    check_out_dir(out)
    src = resolve_source(source)
    check_out_dir(out, source=src.confine or src.root)
    previous = _existing_build(out)
    parsed = parse_release(src.root, progress=progress, confine=src.confine)
    counts: dict[str, int] = {}
    for f in parsed.findings:
        counts[f.severity] = counts.get(f.severity, 0) + 1
    if strict and counts.get("error"):
        errs = [f for f in parsed.findings if f.severity == "error"]
        shown = [
            f"{f.code} {f.file}" + (f"@{f.location}" if f.location else "") + f": {f.message}"
            for f in errs[:10]
        ]
        more = [f"... and {len(errs) - 10} more"] if len(errs) > 10 else []
        raise StrictBuildError(
            f"--strict: the audit found {len(errs)} error-level problems; nothing was written\n"
            + "\n".join(shown + more)
        )
    ident = source_identity(src, parsed.files_read)
    tmp = make_temp_dir(out)
    try:
        manifest = write_build(parsed, tmp, ident, progress=progress)
        if previous is not None and previous.get("build_id") == manifest["build_id"]:
            shutil.rmtree(tmp, ignore_errors=True)  # the identical build is already in place
            return BuildResult(out=out, manifest=manifest, unchanged=True, n_findings=counts)
        if previous is not None and not overwrite:
            raise OutputError(
                f"{out}: already holds a different build (build_id {str(previous.get('build_id'))[:12]}, "
                f"source {previous.get('source', {}).get('identity', '?')}); use --overwrite to replace it"
            )
        replace_dir(tmp, out, overwrite=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return BuildResult(out=out, manifest=manifest, unchanged=False, n_findings=counts)
