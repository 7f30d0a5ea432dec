"""`rolescape validate DIR`: check a built folder against its manifest and the schemas.

Names every file that was changed (hash mismatch), is missing, is unexpected, or is corrupt
(unreadable parquet, rows that do not validate, images that do not decode).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from rolescape.dataset import manifest_data_relpath
from rolescape.errors import InputError, ValidationFailed
from rolescape.io import resolve_inside, sha256_file

IGNORED_PREFIXES = (".git/", ".cache/", ".huggingface/")


def validate_built(path: str | Path, *, deep: bool = True) -> list[str]:
    """Return the list of problems (empty when the folder is intact)."""
    from rolescape.builders.export import MANIFEST_FORMAT, config_model
    from rolescape.builders.features import decode_row

    root = Path(path)
    problems: list[str] = []
    mpath = root / "manifest.json"
    if not root.is_dir():
        return [f"{root}: not a folder"]
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return [f"{mpath}: missing (not a rolescape build)"]
    except (OSError, json.JSONDecodeError) as e:
        return [f"{mpath}: corrupt: {e}"]
    except RecursionError:
        return [f"{mpath}: corrupt: JSON nested too deeply to read"]
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        if not isinstance(manifest, dict):
            return [f"{mpath}: not a rolescape build manifest (not a JSON object)"]
        return [f"{mpath}: not a rolescape build manifest (format {manifest.get('format')!r})"]
    files: dict[str, dict[str, Any]] = manifest.get("files", {})
    for rel, meta in sorted(files.items()):
        try:  # the manifest is a user file too: its paths stay inside the folder
            p = resolve_inside(root, rel, what="file", root_name=str(root))
        except InputError as e:
            problems.append(f"manifest.json: {e.detail}")
            continue
        if not p.is_file():
            problems.append(f"{rel}: missing")
        elif p.stat().st_size != meta.get("bytes") or sha256_file(p) != meta.get("sha256"):
            problems.append(f"{rel}: changed (sha256 differs from manifest.json)")
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if (
            p.is_file()
            and rel != "manifest.json"
            and rel not in files
            and not rel.startswith(IGNORED_PREFIXES)
        ):
            problems.append(f"{rel}: unexpected file (not in manifest.json)")
    if not deep:
        return problems

    import pyarrow.parquet as pq
    from PIL import Image

    changed = {p.split(":", 1)[0] for p in problems}
    for config, splits in sorted(manifest.get("configs", {}).items()):
        try:
            model = config_model(config)
        except KeyError:
            problems.append(f"manifest.json: unknown config {config!r}")
            continue
        for split in splits:
            try:
                drel = manifest_data_relpath(manifest, config, split, path=mpath)
                dpath = resolve_inside(root, drel, what="data file", root_name=str(root)) if drel else None
            except InputError as e:
                problems.append(f"manifest.json: {e.detail}")
                continue
            if drel is None or dpath is None:
                continue
            if drel in changed or not dpath.is_file():
                if drel not in files:
                    problems.append(f"{drel}: missing (config {config!r} split {split!r})")
                continue
            try:
                rows = pq.read_table(dpath).to_pylist()
            except Exception as e:  # pyarrow raises several types for corrupt files
                problems.append(f"{drel}: corrupt parquet: {e}")
                continue
            for i, row in enumerate(rows):
                image = row.pop("image", None) if config == "images" else None
                try:
                    model.model_validate(decode_row(model, row))
                    if image is not None:
                        with Image.open(io.BytesIO(image["bytes"])) as im:
                            im.verify()
                except Exception as e:
                    first = str(e).splitlines()
                    detail = " ".join(first[:3]) if first else type(e).__name__
                    problems.append(f"{drel}: row {i} (id {row.get('id', row.get('key', '?'))}): {detail}")
                    break
    return problems


def validate_or_raise(path: str | Path) -> dict[str, Any]:
    problems = validate_built(path)
    if problems:
        raise ValidationFailed(problems, header=f"{path}: {len(problems)} problem(s)")
    return json.loads((Path(path) / "manifest.json").read_text(encoding="utf-8"))
