"""Property-style: generated hostile names through the path checks of builds and predictions.

A seeded generator (no extra dependency) combines the hostile pieces of issue 11 — NUL, very long
names, `..`, absolute paths, `~`, symlinks inside and outside the root, symlink loops, dangling links,
folders, NFD spellings, lone surrogates — into relative paths, and feeds them to
`rolescape.io.resolve_inside` (the one shared check), to `rolescape validate-predictions` and to
`rolescape build`. Each outcome must be a clean acceptance (only of a regular file really inside the
root) or a clean refusal (exit 2, lines naming the offending entry); never a traceback, and never a
byte from outside the root in a build.
"""

from __future__ import annotations

import os
import random
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from rolescape.cli import main
from rolescape.io import PathRefused, resolve_inside
from tests.fixtures.tiny import make_tiny_dataset, png_bytes, write_predictions

SEED = 11
PIECES = [
    "ok.png",
    "in_link.png",
    "sub",
    "sub/inner.png",
    "..",
    "../outside.png",
    "out_link.png",
    "out_dir",
    "loop.png",
    "loop_a",
    "dangling.png",
    "a\x00b.png",
    "x" * 300,
    "y" * 200,
    "~",
    "/etc/passwd",
    "C:\\x.png",
    "",
    ".",
    unicodedata.normalize("NFD", "café.png"),
    unicodedata.normalize("NFC", "café.png"),
    "\ud800.png",
    "missing.png",
]
REASONS = {"not_a_path", "absolute", "escapes", "loop", "unreadable", "missing", "folder", "not_regular"}


def _hostile_names(rng: random.Random, n: int) -> list[str]:
    names = list(PIECES)
    while len(names) < n:
        k = rng.randint(1, 4)
        names.append("/".join(rng.choice(PIECES) for _ in range(k)))
    return names


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A predictions folder with good files, links in and out, loops and a folder; a file outside."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.png").write_bytes(png_bytes(color=(1, 2, 3)))
    r = tmp_path / "root"
    (r / "sub").mkdir(parents=True)
    (r / "ok.png").write_bytes(png_bytes())
    (r / "sub" / "inner.png").write_bytes(png_bytes(color=(9, 9, 9)))
    (r / unicodedata.normalize("NFC", "café.png")).write_bytes(png_bytes(color=(5, 5, 5)))
    (tmp_path / "outside.png").write_bytes(png_bytes(color=(7, 7, 7)))
    os.symlink("ok.png", r / "in_link.png")
    os.symlink(outside / "secret.png", r / "out_link.png")
    os.symlink(outside, r / "out_dir")
    os.symlink("loop.png", r / "loop.png")
    os.symlink("loop_b", r / "loop_a")
    os.symlink("loop_a", r / "loop_b")
    os.symlink("nothing-here.png", r / "dangling.png")
    return r


def test_resolve_inside_accepts_only_real_files_inside_and_refuses_cleanly(root: Path) -> None:
    good = {
        os.path.realpath(root / p)
        for p in ("ok.png", "sub/inner.png", unicodedata.normalize("NFC", "café.png"))
    }
    rng = random.Random(SEED)
    accepted = refused = 0
    for name in _hostile_names(rng, 400):
        try:
            p = resolve_inside(root, name, what="image", must="file")
        except PathRefused as e:
            refused += 1
            assert e.reason in REASONS, (name, e.reason)
            assert str(e).startswith("image ") and "\n" not in str(e)
            continue
        accepted += 1
        assert str(p) in good, (name, p)
    assert accepted and refused  # the generator reaches both outcomes


def test_validate_predictions_with_hostile_image_names(root: Path, tmp_path: Path, capsys) -> None:
    data = make_tiny_dataset(tmp_path / "tiny")
    ids = [f"t2i/{c}/{j}" for c in ("bo", "chandler", "gao-qiqiang") for j in range(2)]
    names = _hostile_names(random.Random(SEED + 1), 60)
    for start in range(0, len(names), len(ids)):
        batch = names[start : start + len(ids)]
        rows = [{"id": i, "image": n} for i, n in zip(ids, batch, strict=False)]
        p = write_predictions(root / "predictions.jsonl", rows)
        rc = main(["validate-predictions", str(p), "--data", str(data)])
        err = capsys.readouterr().err
        assert rc in (0, 2) and "Traceback" not in err, err
        lines = [x for x in err.splitlines() if x.strip()]
        for lineno, (ident, name) in enumerate(zip(ids, batch, strict=False), 1):
            try:
                resolve_inside(root, name, what="image", must="file")
                expect_ok = True
            except PathRefused:
                expect_ok = False
            mine = [x for x in lines if f"predictions.jsonl:{lineno}: id {ident!r}" in x]
            if expect_ok:
                assert not mine, (name, mine)
            else:
                assert len(mine) == 1, (name, mine)  # one line that names the line, the id, the image
                assert "image " in mine[0]


def _plant(rng: random.Random, char_dir: Path, tmp_path: Path) -> str:
    """Put one generated hostile entry into a character folder; return what kind it is."""
    kind = rng.choice(["out_file", "out_dir", "in_link", "loop", "dangling", "nfd", "dotdot", "abs_in"])
    name = f"planted_{rng.randrange(10**6)}.json"
    target = char_dir / name
    if kind == "out_file":
        os.symlink(tmp_path / "secret.txt", target)
    elif kind == "out_dir":
        os.symlink(tmp_path, target)
    elif kind == "in_link":
        os.symlink("annotation.json", target)
    elif kind == "loop":
        os.symlink(name, target)
    elif kind == "dangling":
        os.symlink("no-such-file.json", target)
    elif kind == "nfd":
        (char_dir / unicodedata.normalize("NFD", f"é_{name}")).write_text("{}")
    elif kind == "dotdot":
        os.symlink("../" * 12 + "etc/hostname", target)
    else:
        os.symlink(char_dir / "annotation.json", target)  # absolute, but inside the root
    return kind


@pytest.mark.slow
def test_build_with_hostile_entries_in_the_source(mini_release: Any, tmp_path: Path, capsys) -> None:
    (tmp_path / "secret.txt").write_text("SECRET-OUTSIDE-BYTES")
    char_dir = mini_release.data / "train" / "Skyline-Tess Ray"
    rng = random.Random(SEED + 2)
    seen = set()
    for i in range(12):
        for p in list(char_dir.iterdir()):
            if p.name.startswith(("planted_", unicodedata.normalize("NFD", "é_"))):
                p.unlink()
        kind = _plant(rng, char_dir, tmp_path)
        seen.add(kind)
        out = tmp_path / f"out{i}"
        rc = main(["build", "--source", str(mini_release.root), "--out", str(out)])
        err = capsys.readouterr().err
        assert "Traceback" not in err
        lines = [x for x in err.splitlines() if x.strip()]
        if kind in ("out_file", "out_dir", "loop", "dotdot"):
            assert rc == 2 and len(lines) == 1 and "planted_" in lines[0], (kind, lines)
            assert not out.exists()
        else:
            assert rc == 0, (kind, lines)
            for f in out.rglob("*"):
                if f.is_file():
                    assert b"SECRET-OUTSIDE-BYTES" not in f.read_bytes()
    assert len(seen) >= 5  # the seeded draw covers most kinds
