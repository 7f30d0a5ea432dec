"""Keep the builder inside its source: every symlink in the folders it reads must resolve inside.

The build reads many files through globs and fixed names; instead of checking at each read, the
folders the builder reads (data/personalized_data, the GRPO prompt folder, data/dataset_info.py)
are walked once before parsing. A symlink whose target leaves the confinement root, or a symlink
loop, refuses the whole build with one line naming it (rolescape never builds from files outside
`--source`; a refusal rather than a finding, so nothing from outside can reach a built folder).
Symlinks that stay inside the root are followed (each real folder is walked once).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from rolescape.errors import SourceError
from rolescape.io import _stat_problem, is_inside


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def check_source_tree(root: Path, bases: Iterable[Path], confine: Path | None = None) -> int:
    """Walk `bases` (folders or files under `root`) and refuse any entry that resolves outside
    `confine` (default `root`) or is a symlink loop. Returns the number of entries checked."""
    confine_r = Path(os.path.realpath(confine if confine is not None else root))
    shown = confine if confine is not None else root

    def refuse(p: Path, why: str) -> SourceError:
        return SourceError(
            f"{shown}: {_rel(p, root)}: {why}; rolescape builds only from files inside the source"
        )

    def check(p: Path) -> bool:
        """True when `p` is a folder to descend into."""
        problem, st = _stat_problem(p)
        if problem == "symlink loop":
            raise refuse(p, "is a symlink loop")
        if not is_inside(confine_r, p):
            raise refuse(p, "is a symlink that points outside the source folder")
        if problem is not None:
            return False  # a dangling link inside the root reads as a missing file later
        return st is not None and os.path.isdir(p)

    visited: set[str] = set()
    stack = [b for b in bases if os.path.lexists(b)]
    n = 0
    for b in stack:
        n += 1
        check(b)
    while stack:
        d = stack.pop()
        real = os.path.realpath(d)
        if real in visited or not os.path.isdir(d):
            continue
        visited.add(real)
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError as err:
            raise SourceError(f"{shown}: {_rel(d, root)}: cannot be listed: {err.strerror or err}") from None
        for entry in entries:
            n += 1
            p = Path(entry.path)
            if check(p):
                stack.append(p)
    return n
