"""Small I/O helpers: hashing, deterministic JSON, atomic writes, safe paths."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from rolescape.errors import InputError, OutputError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def dumps_canonical(obj: Any) -> str:
    """JSON with sorted keys and no incidental whitespace: stable across runs, good for hashing."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def hash_obj(obj: Any) -> str:
    return sha256_bytes(dumps_canonical(obj).encode("utf-8"))


def write_text_atomic(path: str | Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the usual file mode
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json_atomic(path: str | Path, obj: Any, *, indent: int | None = 2) -> None:
    write_text_atomic(path, json.dumps(obj, indent=indent, sort_keys=True, ensure_ascii=False) + "\n")


def write_jsonl_atomic(path: str | Path, rows: Iterable[Any]) -> None:
    write_text_atomic(path, "".join(dumps_canonical(r) + "\n" for r in rows))


def read_jsonl(path: str | Path) -> Iterator[tuple[int, Any]]:
    """Yield (line number, object) for every non-blank line; a malformed line raises InputError."""
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(f"malformed JSON: {e.msg}", path=path, where=f"{lineno}:{e.colno}") from None


def make_temp_dir(final: str | Path) -> Path:
    """A hidden temporary sibling of `final` (same filesystem, so the final rename is atomic)."""
    final = Path(final)
    parent = final.parent if str(final.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=parent))
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp creates 0700; the final folder gets the usual mode
        return tmp
    except OSError as e:
        raise OutputError(f"{final}: cannot write output here: {e.strerror or e}") from None


def replace_dir(tmp: Path, final: str | Path, *, overwrite: bool = False) -> None:
    """Move the finished folder `tmp` to `final`, replacing an existing `final` only if allowed."""
    final = Path(final)
    if final.exists() and not (final.is_dir() and not any(final.iterdir())):
        if not overwrite:
            raise OutputError(f"{final}: already exists (use --overwrite)")
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        if final.exists():
            final.rmdir()
        os.replace(tmp, final)


@contextlib.contextmanager
def atomic_dir(final: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling folder; on success rename it to `final`, on failure remove it.

    An interrupted run therefore never leaves a folder at `final` that looks complete.
    """
    tmp = make_temp_dir(final)
    try:
        yield tmp
        replace_dir(tmp, final, overwrite=overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def safe_join(root: str | Path, rel: str, *, source: str | Path | None = None, where: str | None = None) -> Path:
    """Resolve `rel` under `root`; refuse absolute paths and anything that escapes the root."""
    root_r = Path(root).resolve()
    if not rel or os.path.isabs(rel) or rel.startswith("~"):
        raise InputError(f"path {rel!r} must be relative to {root}", path=source, where=where)
    target = (root_r / rel).resolve()
    if target != root_r and root_r not in target.parents:
        raise InputError(f"path {rel!r} escapes its folder {root}", path=source, where=where)
    return target
