"""On-disk embedding cache: one `.npy` per (encoder key, image content sha256).

Layout: `<root>/<encoder name>/<key hash>/<sha[:2]>/<sha>.npy`, with `<key hash>/key.json` holding
the key in clear. The key is everything that determines an embedding besides the pixels: model id,
revision, dtype, preprocessing string (which includes the alpha policy). Files are written to a
temporary name and renamed into place, and read back with `allow_pickle=False`, so a hit returns the
bit-identical array that was stored and a crash never leaves a half-written entry that looks whole.
An empty array is a valid entry (e.g. "no face found"). Without a root (caching disabled) entries
live in a bounded in-memory LRU, so memory does not grow with the number of images.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rolescape.io import dumps_canonical, hash_obj, write_text_atomic

if TYPE_CHECKING:
    import numpy as np

KEY_FIELDS = ("model_id", "revision", "dtype", "preprocessing")
MEMORY_ENTRIES = 4096  # LRU size when there is no disk cache


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/rolescape/embeddings`, else `~/.cache/rolescape/embeddings`."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rolescape" / "embeddings"


_SHA_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyz-")


def _valid_sha(sha: str) -> bool:
    """Content keys are lowercase hex digests, optionally prefixed ('px-<hex>' for in-memory pixels)."""
    return 16 <= len(sha) <= 128 and all(c in _SHA_CHARS for c in sha)


class EmbeddingCache:
    """Embeddings of one encoder configuration, keyed by the content hash of the image.

    `key` must name every field of KEY_FIELDS (extra fields are allowed and also enter the key).
    `root=None` keeps entries in memory only (for tests or `--no-cache` runs).
    """

    def __init__(self, name: str, key: Mapping[str, Any], root: str | Path | None):
        missing = [f for f in KEY_FIELDS if f not in key]
        if missing:
            raise ValueError(f"embedding cache key lacks {missing}")
        self.name = name
        self.key = dict(key)
        self.key_hash = hash_obj({"name": name, **self.key})[:32]
        self.root = Path(root) if root is not None else None
        self._mem: OrderedDict[str, np.ndarray] = OrderedDict()
        self.hits = 0
        self.misses = 0
        self.dir: Path | None = None
        if self.root is not None:
            self.dir = self.root / _safe_name(name) / self.key_hash
            meta = self.dir / "key.json"
            if not meta.is_file():
                write_text_atomic(meta, dumps_canonical({"name": name, **self.key}) + "\n")

    def _path(self, sha: str) -> Path:
        assert self.dir is not None
        return self.dir / sha[:2] / f"{sha}.npy"

    def get(self, sha: str) -> np.ndarray | None:
        """The stored array, or None on a miss (a corrupt entry counts as a miss)."""
        import numpy as np

        arr = self._mem.get(sha)
        if arr is not None:
            self._mem.move_to_end(sha)
        if arr is None and self.dir is not None and _valid_sha(sha):
            p = self._path(sha)
            if p.is_file():
                try:
                    arr = np.load(p, allow_pickle=False)
                except (OSError, ValueError, EOFError):
                    arr = None
        if arr is None:
            self.misses += 1
            return None
        self.hits += 1
        return arr

    def get_many(self, shas: Iterable[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for s in shas:
            if s in out:
                continue
            a = self.get(s)
            if a is not None:
                out[s] = a
        return out

    def put(self, sha: str, arr: np.ndarray) -> None:
        import numpy as np

        arr = np.ascontiguousarray(arr)
        if self.dir is None or not _valid_sha(sha):
            self._mem[sha] = arr
            self._mem.move_to_end(sha)
            while len(self._mem) > MEMORY_ENTRIES:
                self._mem.popitem(last=False)
            return
        p = self._path(sha)
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{sha[:12]}.", suffix=".tmp", dir=p.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                np.save(f, arr, allow_pickle=False)
            os.replace(tmp, p)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def clear_memory(self) -> None:
        self._mem.clear()


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "encoder"


def cache_root(ctx: Any) -> Path | None:
    """The cache root of a run: ctx.cache_dir, else the default; None when the options disable it."""
    opts = getattr(ctx, "options", {}) or {}
    if opts.get("embedding_cache") is False:
        return None
    cd = getattr(ctx, "cache_dir", None)
    return Path(cd) if cd is not None else default_cache_dir()


class AppendLog:
    """An append-only JSONL file: whole lines, flushed and fsynced, under an exclusive lock.

    A crash can only leave a torn last line (no trailing newline); `read` drops it and truncates the
    file back to the last whole line, so the next append starts clean. `rewrite` replaces the file
    atomically (compaction). The items log of a run and any other append-only record use this class.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @contextlib.contextmanager
    def _locked(self, mode: str) -> Iterator[Any]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, mode) as f:
            try:
                import fcntl

                fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            except ImportError:  # pragma: no cover - non-POSIX: no lock
                pass
            yield f

    def read(self) -> list[tuple[int, bytes]]:
        """(line number, bytes) of every non-blank whole line; a torn tail is dropped and repaired."""
        if not self.path.exists():
            return []
        with self._locked("rb+") as f:
            raw = f.read()
            if raw and not raw.endswith(b"\n"):
                cut = raw.rfind(b"\n") + 1
                raw = raw[:cut]
                f.truncate(cut)
                f.flush()
                os.fsync(f.fileno())
        return [(n, line) for n, line in enumerate(raw.split(b"\n"), 1) if line.strip()]

    def append(self, lines: Iterable[str]) -> None:
        """Append whole lines (each without its newline) and fsync before returning."""
        data = "".join(line + "\n" for line in lines)
        if not data:
            return
        with self._locked("ab") as f:
            f.write(data.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())

    def rewrite(self, lines: Iterable[str]) -> None:
        """Replace the whole file atomically with `lines`."""
        write_text_atomic(self.path, "".join(line + "\n" for line in lines))


class KeyedRecords:
    """Records (JSON objects with a "key") kept in memory and appended to one `AppendLog`.

    The judge's score cache and generate's reply cache are both this: later lines win, a torn or
    malformed line is skipped, and `folder=None` keeps records in memory only.
    """

    def __init__(self, folder: str | Path | None, file_name: str):
        self.log = None if folder is None else AppendLog(Path(folder) / file_name)
        self.path = None if self.log is None else self.log.path
        self._mem: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.hits = 0
        for _, line in self.log.read() if self.log is not None else []:
            try:
                rec = json.loads(line)
                self._mem[str(rec["key"])] = rec
            except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
                continue

    def get(self, key: str) -> dict[str, Any] | None:
        rec = self._mem.get(key)
        if rec is not None:
            with self._lock:
                self.hits += 1
        return rec

    def put(self, rec: dict[str, Any]) -> None:
        with self._lock:
            self._mem[str(rec["key"])] = rec
            if self.log is not None:
                self.log.append([dumps_canonical(rec)])
