"""Golden Markdown / LaTeX / CSV tables from deterministic results built through the Results schema.

Regenerate after an intended change with `UPDATE_GOLDEN=1 pytest tests/leaderboard/test_golden.py` and
review the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rolescape.leaderboard import make_leaderboard
from tests.fixtures.runs import assert_golden

GOLDEN = Path(__file__).parent / "golden"
FILES = {"md": "leaderboard.md", "latex": "leaderboard.tex", "csv": "leaderboard.csv"}


@pytest.fixture(scope="module")
def board(runs: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("board")
    make_leaderboard(runs, out, formats=["md,latex", "csv"], plots=False)
    return out


@pytest.mark.parametrize("fmt", sorted(FILES))
def test_golden(board: Path, fmt: str):
    got = (board / FILES[fmt]).read_text(encoding="utf-8")
    assert_golden(got, GOLDEN / FILES[fmt])


def test_same_inputs_same_bytes(runs: list[Path], board: Path, tmp_path: Path):
    make_leaderboard(list(reversed(runs)), tmp_path, formats=["md", "latex", "csv"], plots=False)
    for name in FILES.values():
        # input order does not matter: rows are ranked, labels come from model names
        assert (tmp_path / name).read_bytes() == (board / name).read_bytes(), name


def test_latex_compiles(board: Path, tmp_path: Path):
    import shutil
    import subprocess

    exe = shutil.which("pdflatex")
    if exe is None:
        pytest.skip("pdflatex is not installed (apt-get install texlive-latex-recommended)")
    doc = tmp_path / "doc.tex"
    doc.write_text(
        "\\documentclass{article}\n\\usepackage[T1]{fontenc}\n\\usepackage{booktabs,graphicx}\n"
        f"\\begin{{document}}\n\\input{{{(board / 'leaderboard.tex').as_posix()}}}\n\\end{{document}}\n"
    )
    res = subprocess.run(
        [exe, "-interaction=nonstopmode", "-halt-on-error", doc.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stdout[-3000:]
    assert (tmp_path / "doc.pdf").is_file()
