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
            yield lineno, loads_json(line, path=path, line=lineno)


_PARTIAL_RE = r"\.{name}\.(?:(?P<pid>\d+)\.[^/]*\.partial|old-(?P<oldpid>\d+))$"


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # it exists (another user's), or the number is not a pid: leave it alone
    return True


def sweep_partials(final: str | Path) -> list[Path]:
    """Remove the hidden work folders of `final` left by a killed run (their owner pid is dead).

    make_temp_dir names them `.<name>.<pid>.<random>.partial` (and replace_dir `.<name>.old-<pid>`),
    so a folder whose process still runs (a concurrent build) is never touched.
    """
    import re

    final = Path(final)
    parent = final.parent if str(final.parent) else Path(".")
    pat = re.compile(_PARTIAL_RE.format(name=re.escape(final.name)))
    removed: list[Path] = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    for e in entries:
        m = pat.match(e.name)
        if not m or not e.is_dir(follow_symlinks=False):
            continue
        if _pid_alive(int(m["pid"] or m["oldpid"])):
            continue
        shutil.rmtree(e.path, ignore_errors=True)
        removed.append(Path(e.path))
    return removed


def make_temp_dir(final: str | Path) -> Path:
    """A hidden temporary sibling of `final` (same filesystem, so the final rename is atomic).

    Work folders of `final` left behind by a killed earlier run are removed first (sweep_partials).
    """
    final = Path(final)
    parent = final.parent if str(final.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        sweep_partials(final)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.{os.getpid()}.", suffix=".partial", dir=parent))
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


NAME_MAX = 255  # bytes in one file name (Linux, macOS)
PATH_MAX = 4096  # bytes in a whole path (Linux)


def path_label(rel: str | Path, limit: int = 80) -> str:
    """A path as it is quoted in an error: repr (so NUL and newlines show), cut to `limit` characters."""
    r = repr(str(rel))
    return r if len(r) <= limit else r[: limit - 5] + "...'" + f" ({len(str(rel))} chars)"


def name_problem(rel: str | Path) -> str | None:
    """Why `rel` cannot be a path on this machine (NUL, empty, a name over NAME_MAX bytes), or None."""
    s = str(rel)
    if "\x00" in s:
        return "contains a NUL character"
    if not s.strip():
        return "is empty"
    try:
        if len(os.fsencode(s)) > PATH_MAX:
            return f"is longer than {PATH_MAX} bytes"
        for part in s.replace("\\", "/").split("/"):
            if len(os.fsencode(part)) > NAME_MAX:
                return f"has a file name longer than {NAME_MAX} bytes"
    except UnicodeError:
        return "is not valid Unicode (a lone surrogate)"
    return None


def _stat_problem(p: Path) -> tuple[str | None, os.stat_result | None]:
    """("missing" | "symlink loop" | "too long" | "unreadable: ..." | None, stat) of an existing path."""
    import errno

    try:
        return None, os.stat(p)
    except FileNotFoundError:
        return "missing", None
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "symlink loop", None
        if e.errno == errno.ENAMETOOLONG:
            return "too long", None
        if e.errno == errno.ENOTDIR:
            return "missing", None
        return f"unreadable: {e.strerror or e}", None


def is_inside(root: str | Path, target: str | Path) -> bool:
    """Is `target` (after resolving every symlink) `root` itself or below it (resolved too)?"""
    root_r = os.path.realpath(root)
    t = os.path.realpath(target)
    return t == root_r or t.startswith(root_r.rstrip(os.sep) + os.sep)


class PathRefused(InputError):
    """A user-given path that resolve_inside refused; `reason` is a stable code, `why` the words.

    Codes: "not_a_path" (NUL, empty, over-long, not Unicode), "absolute", "escapes", "loop",
    "unreadable", "missing", "folder", "not_regular", "not_folder".
    """

    def __init__(self, label: str, reason: str, why: str, *, path: str | Path | None, where: str | None):
        super().__init__(f"{label}: {why}", path=path, where=where)
        self.reason = reason
        self.why = why


def resolve_inside(
    root: str | Path,
    rel: str | Path,
    *,
    what: str = "path",
    must: str | None = None,
    path: str | Path | None = None,
    where: str | None = None,
    root_name: str | None = None,
) -> Path:
    """The one check for a path that comes from a user file: resolve `rel` under `root` or refuse.

    Refused, each as one InputError line "<what> '<rel>': <why>" (prefixed by `path`:`where` when
    given): NUL characters, empty paths, names over NAME_MAX bytes, absolute / `~` / drive paths,
    anything that leaves `root` through `..` or a symlink, and symlink loops. With `must="file"` or
    `"dir"` the target must exist and be of that kind ("not found", "is a folder", ...). Returns the
    resolved path. Used by the builder, predictions images, results.json `items_file` and manifests.
    """
    import re

    label = f"{what} {path_label(rel)}"
    folder = root_name or f"its folder {root}"

    def refuse(reason: str, why: str) -> PathRefused:
        return PathRefused(label, reason, why, path=path, where=where)

    if (why := name_problem(rel)) is not None:
        raise refuse("not_a_path", why)
    s = str(rel)
    if os.path.isabs(s) or s.startswith("~") or re.match(r"^[A-Za-z]:[\\/]", s):
        raise refuse("absolute", f"must be relative to {folder}")
    joined = Path(root) / s
    problem, st = _stat_problem(joined)
    if problem == "symlink loop":
        raise refuse("loop", "is a symlink loop")
    if problem == "too long":
        raise refuse("not_a_path", f"is longer than this system allows ({PATH_MAX} bytes)")
    if not is_inside(root, joined):
        raise refuse("escapes", f"escapes {folder}")
    if problem and problem.startswith("unreadable"):
        raise refuse("unreadable", problem)
    if must is not None:
        import stat as stat_mod

        if st is None:
            raise refuse("missing", "not found")
        if must == "file" and stat_mod.S_ISDIR(st.st_mode):
            raise refuse("folder", "is a folder, not a file")
        if must == "file" and not stat_mod.S_ISREG(st.st_mode):
            raise refuse("not_regular", "is not a regular file")
        if must == "dir" and not stat_mod.S_ISDIR(st.st_mode):
            raise refuse("not_folder", "is not a folder")
    return Path(os.path.realpath(joined))


def check_input_file(path: str | Path, *, what: str = "file") -> Path:
    """A file named on the command line must exist and be a regular file: one InputError line otherwise
    (not found, a folder, a symlink loop, a name too long), never an OSError traceback."""
    import stat as stat_mod

    p = Path(path)
    if (why := name_problem(p)) is not None:
        raise InputError(f"{what} {why}", path=path_label(p).strip("'"))
    problem, st = _stat_problem(p)
    if problem == "missing":
        raise InputError(f"{what} not found", path=p)
    if problem == "symlink loop":
        raise InputError(f"{what} is a symlink loop", path=p)
    if problem == "too long":
        raise InputError(f"{what} name is longer than this system allows", path=path_label(p).strip("'"))
    if problem is not None or st is None:
        raise InputError(f"{what} cannot be read ({problem})", path=p)
    if stat_mod.S_ISDIR(st.st_mode):
        raise InputError(f"{what} is a folder, not a file", path=p)
    if not stat_mod.S_ISREG(st.st_mode):
        raise InputError(f"{what} is not a regular file", path=p)
    return p


def safe_join(
    root: str | Path, rel: str, *, source: str | Path | None = None, where: str | None = None
) -> Path:
    """Resolve `rel` under `root`; refuse absolute paths and anything that escapes the root."""
    return resolve_inside(root, rel, path=source, where=where)


def check_out_dir(
    out: str | Path,
    *,
    flag: str = "--out",
    source: str | Path | None = None,
    source_flag: str = "--source",
) -> Path:
    """Refuse an output folder that cannot work, before any work is done (OutputError, one line).

    Refused: a name that is not a path (NUL, over-long), an existing non-folder (a regular file, a
    dangling or looping symlink), an output inside `source` or one that contains `source`, and a
    location whose nearest existing parent is not a writable folder.
    """
    out = Path(out)
    if (why := name_problem(out)) is not None:
        raise OutputError(f"{flag} {path_label(out)}: {why}")
    if os.path.lexists(out):
        problem, st = _stat_problem(out)
        import stat as stat_mod

        if problem == "symlink loop":
            raise OutputError(f"{flag} {out}: is a symlink loop")
        if st is None or not stat_mod.S_ISDIR(st.st_mode):
            raise OutputError(f"{flag} {out}: exists and is not a folder")
    if source is not None:
        src = os.path.realpath(source)
        tgt = os.path.realpath(out)
        if is_inside(src, tgt):
            raise OutputError(f"{flag} {out}: is inside {source_flag} {source}; write the output elsewhere")
        if is_inside(tgt, src):
            raise OutputError(f"{flag} {out}: contains {source_flag} {source}; write the output elsewhere")
    probe = Path(os.path.abspath(out)).parent
    while not os.path.lexists(probe) and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise OutputError(f"{flag} {out}: cannot write output here ({probe} is not a folder)")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise OutputError(f"{flag} {out}: cannot write output here ({probe} is not writable)")
    return out


def loads_json(text: str | bytes, *, path: str | Path | None = None, line: int | None = None) -> Any:
    """json.loads whose failures are one InputError: malformed (line:col) or nested too deeply."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        where = f"{line}:{e.colno}" if line is not None else f"{e.lineno}:{e.colno}"
        raise InputError(f"malformed JSON: {e.msg}", path=path, where=where) from None
    except RecursionError:
        at = str(line) if line is not None else None
        raise InputError("JSON nested too deeply to read", path=path, where=at) from None
