"""One on-disk store for embeddings and derived artefacts: keyed, bounded, atomic (`ArtifactStore`).

Layout: `<root>/<store name>/<key hash>/<id[:2]>/<id>.npy` (one array) or `.npz` (a named set of
arrays plus JSON metadata), with `<key hash>/key.json` holding the key in clear. The key is everything
that determines an entry besides its content id: for an encoder the model id, revision, dtype and
preprocessing string (which includes the alpha policy); for a fitted artefact (the style classifier)
its own version, data manifest and config. Entry ids are content hashes (image or text sha256).

Files are written to a temporary name and renamed into place, and read back with
`allow_pickle=False`, so a hit returns the bit-identical arrays that were stored and a crash never
leaves a half-written entry that looks whole; a torn, foreign or corrupt file counts as a miss and is
replaced by the next `put`. An empty array is a valid entry (e.g. "no face found"). Entries also sit
in a bounded in-memory LRU (the only layer when there is no root, i.e. caching disabled), so memory
does not grow with the number of images or texts. The image encoders, the sentence encoders and the
style classifiers all use this one class; `FORMAT` enters every key hash, so files of an older
layout are never read as entries (they are ignored, never a crash).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rolescape.io import dumps_canonical, hash_obj, write_bytes_atomic, write_text_atomic

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

FORMAT = "rolescape-store-v2"
KEY_FIELDS = ("model_id", "revision", "dtype", "preprocessing")
MEMORY_ENTRIES = 4096  # LRU size (entries) without a disk root
MEMORY_ENTRIES_WITH_DISK = 512  # in front of the disk: recent entries only
META_MEMBER = "__meta__"  # the JSON metadata of an artefact, stored as a uint8 array member


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/rolescape/embeddings`, else `~/.cache/rolescape/embeddings`."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rolescape" / "embeddings"


_ID_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyz-")


def _valid_id(entry: str) -> bool:
    """Entry ids are lowercase hex digests, optionally prefixed ('px-<hex>' for in-memory pixels)."""
    return 16 <= len(entry) <= 128 and all(c in _ID_CHARS for c in entry)


def npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    """The bytes of an .npz (readable by `np.load(allow_pickle=False)`) that depend only on the arrays.

    `np.savez` stamps the current time into the zip entries; this writes a fixed date instead, so
    saving the same arrays twice gives identical files. Object arrays are refused (no pickle).
    """
    import numpy as np

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in sorted(arrays):
            arr = np.ascontiguousarray(arrays[name])
            if arr.dtype.hasobject:
                raise TypeError(f"{name}: object arrays cannot be stored without pickle")
            entry = io.BytesIO()
            np.lib.format.write_array(entry, arr, allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            zf.writestr(info, entry.getvalue())
    return buf.getvalue()


def save_npz_deterministic(path: str | Path, arrays: Mapping[str, np.ndarray]) -> None:
    """`npz_bytes` written atomically to `path`."""
    write_bytes_atomic(path, npz_bytes(arrays))


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    import numpy as np

    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


_UNREADABLE = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, UnicodeDecodeError)


class ArtifactStore:
    """Entries of one keyed namespace (an encoder configuration, a fitted-model family).

    `key` must name every field of `required` (KEY_FIELDS by default; extra fields also enter the
    key). `root=None` keeps entries in the bounded memory LRU only (tests, `--no-cache` runs).
    `get`/`put` hold one array per id; `get_arrays`/`put_arrays` a named set of arrays plus JSON
    metadata per id. Thread-safe; concurrent processes may write the same entry (last rename wins,
    both are whole).
    """

    def __init__(
        self,
        name: str,
        key: Mapping[str, Any],
        root: str | Path | None,
        *,
        required: tuple[str, ...] = KEY_FIELDS,
        memory_entries: int | None = None,
    ):
        missing = [f for f in required if f not in key]
        if missing:
            raise ValueError(f"cache key of {name!r} lacks {missing}")
        self.name = name
        self.key = dict(key)
        self.key_hash = hash_obj({"format": FORMAT, "name": name, **self.key})[:32]
        self.root = Path(root) if root is not None else None
        default = MEMORY_ENTRIES if root is None else MEMORY_ENTRIES_WITH_DISK
        self.memory_entries = max(1, int(memory_entries or default))
        self._mem: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.dir: Path | None = None
        if self.root is not None:
            self.dir = self.root / _safe_name(name) / self.key_hash
            meta = self.dir / "key.json"
            if not meta.is_file():
                write_text_atomic(meta, dumps_canonical({"format": FORMAT, "name": name, **self.key}) + "\n")

    def path(self, entry: str, suffix: str = ".npy") -> Path | None:
        """Where `entry` lives on disk (None without a root or for an id that is not stored on disk)."""
        if self.dir is None or not _valid_id(entry):
            return None
        return self.dir / entry[:2] / f"{entry}{suffix}"

    # -- the memory layer
    def _remember(self, entry: str, value: Any) -> None:
        with self._lock:
            self._mem[entry] = value
            self._mem.move_to_end(entry)
            while len(self._mem) > self.memory_entries:
                self._mem.popitem(last=False)

    def _recall(self, entry: str) -> Any:
        with self._lock:
            value = self._mem.get(entry)
            if value is not None:
                self._mem.move_to_end(entry)
            return value

    def _count(self, hit: bool) -> None:
        with self._lock:
            if hit:
                self.hits += 1
            else:
                self.misses += 1

    # -- one array per id
    def get(self, entry: str) -> np.ndarray | None:
        """The stored array, or None on a miss (a torn or corrupt file counts as a miss)."""
        import numpy as np

        arr = self._recall(entry)
        p = self.path(entry)
        if arr is None and p is not None and p.is_file():
            try:
                arr = np.load(p, allow_pickle=False)
            except _UNREADABLE:
                arr = None
            if arr is not None:
                self._remember(entry, arr)
        self._count(arr is not None)
        return arr

    def get_many(self, entries: Iterable[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for s in entries:
            if s in out:
                continue
            a = self.get(s)
            if a is not None:
                out[s] = a
        return out

    def put(self, entry: str, arr: np.ndarray) -> None:
        import numpy as np

        arr = np.ascontiguousarray(arr)
        self._remember(entry, arr)
        p = self.path(entry)
        if p is None:
            return
        buf = io.BytesIO()
        np.save(buf, arr, allow_pickle=False)
        write_bytes_atomic(p, buf.getvalue())

    # -- a named set of arrays plus JSON metadata per id
    def get_arrays(self, entry: str) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
        """(arrays, metadata) of an artefact, or None on a miss (unreadable files count as misses)."""
        got = self._recall(entry)
        p = self.path(entry, ".npz")
        if got is None and p is not None and p.is_file():
            try:
                arrays = load_npz(p)
                meta = json.loads(arrays.pop(META_MEMBER).tobytes().decode("utf-8"))
                if not isinstance(meta, dict):
                    raise ValueError("metadata is not an object")
                got = (arrays, meta)
            except (*_UNREADABLE, json.JSONDecodeError) as e:
                log.warning("%s cache: ignoring unreadable %s (%s); it will be rewritten", self.name, p, e)
                got = None
            if got is not None:
                self._remember(entry, got)
        self._count(got is not None)
        return None if got is None else (dict(got[0]), dict(got[1]))

    def put_arrays(self, entry: str, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> None:
        import numpy as np

        if META_MEMBER in arrays:
            raise ValueError(f"{META_MEMBER!r} is reserved for the metadata")
        blob = np.frombuffer(dumps_canonical(dict(meta)).encode("utf-8"), dtype=np.uint8)
        data = npz_bytes({**arrays, META_MEMBER: blob})  # refuses object arrays before anything is kept
        self._remember(entry, (dict(arrays), dict(meta)))
        p = self.path(entry, ".npz")
        if p is not None:
            write_bytes_atomic(p, data)

    def clear_memory(self) -> None:
        with self._lock:
            self._mem.clear()


EmbeddingCache = ArtifactStore  # the name the image pipeline has always used: the same one class


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
