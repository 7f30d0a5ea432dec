"""Plots and the self-contained HTML page, opened in headless Chromium (DOM read back + screenshot).

Chromium comes from Debian's `chromium` package. Without it the browser tests skip, except when the
environment variable CI is set: there a missing browser is a failure.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from rolescape.leaderboard import make_leaderboard

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if exe:
        return exe
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed but CI is set: apt-get install -y chromium")
    pytest.skip("chromium is not installed (apt-get install -y chromium); set CI=1 to make this a failure")


def _browser(exe: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        exe,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp / 'chromium-profile'}",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)


@pytest.fixture(scope="module")
def page(runs: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("html")
    make_leaderboard(runs, out, formats=["html"])
    return out


def test_plots_written_and_deterministic(page: Path, runs: list[Path], tmp_path: Path):
    names = sorted(p.name for p in (page / "plots").iterdir())
    assert names == [
        "characters_knowledge_mcq.png",
        "characters_memorization.png",
        "characters_roleplay.png",
        "overview.png",
        "task_knowledge_mcq.png",
        "task_memorization.png",
        "task_roleplay.png",
    ]
    from PIL import Image

    for n in names:
        data = (page / "plots" / n).read_bytes()
        assert data.startswith(PNG_MAGIC)
        with Image.open(io.BytesIO(data)) as im:
            assert im.width > 200 and im.height > 150
    make_leaderboard(runs, tmp_path, formats=["html"])
    for n in names:
        assert (tmp_path / "plots" / n).read_bytes() == (page / "plots" / n).read_bytes(), n
    assert (tmp_path / "leaderboard.html").read_bytes() == (page / "leaderboard.html").read_bytes()


def test_html_is_self_contained(page: Path):
    html = (page / "leaderboard.html").read_text()
    refs = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert refs and all(r.startswith("data:image/png;base64,") for r in refs)
    assert "<script" not in html and "@import" not in html and "url(" not in html
    assert html.count("data:image/png;base64,") == 7
    # nothing fetched from the network, whatever the quoting: no http(s) URL in any src/href/srcset
    assert not re.search(r"""(?:src|href|srcset)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I)
    assert not re.search(r"<(?:link|iframe|object|embed)\b", html, re.I)


class _Tables(HTMLParser):
    """Collect the text of every cell of every table, and which cells hold <b>."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.bold: dict[str, list[str]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._in_b = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self._table = a.get("id") or ""
            self.tables[self._table] = []
            self.bold[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []
        elif tag == "b":
            self._in_b = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = None
        elif tag in ("td", "th") and self._table is not None and self._cell is not None:
            self.tables[self._table][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "b":
            self._in_b = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
            if self._in_b and self._table is not None:
                self.bold[self._table].append(data.strip())


def test_chromium_renders_the_tables(page: Path, tmp_path: Path):
    exe = chromium()
    url = (page / "leaderboard.html").resolve().as_uri()
    dom = _browser(exe, tmp_path, "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    parsed = _Tables()
    parsed.feed(dom.stdout)
    overall = parsed.tables["table-overall"]
    assert overall[0] == [
        "Rank",
        "Model",
        "roleplayclip_i_novel",
        "knowledge_mcqmcq_acc ‡",
        "memorizationpersona_sim",
        "Mean rank",
    ]
    body = overall[1:]
    assert [r[1] for r in body] == ["strong", "middle", "weak", "Paper (reported)"]
    assert body[0][2].startswith("0.787 [") and body[2][2].startswith("0.445† [")
    assert parsed.bold["table-overall"] == ["0.787", "0.833", "0.481", "1.00"]
    assert {"table-runs", "table-task-roleplay", "table-chars-roleplay"} <= set(parsed.tables)
    assert [r[0] for r in parsed.tables["table-chars-roleplay"][1:]] == [
        "alpha",
        "beta",
        "gamma",
        "Macro mean",
    ]

    shot = tmp_path / "shot.png"
    res = _browser(exe, tmp_path, f"--screenshot={shot}", "--window-size=1280,1600", "--hide-scrollbars", url)
    assert res.returncode == 0 and shot.is_file(), res.stderr[-2000:]
    import numpy as np
    from PIL import Image

    with Image.open(shot) as im:
        assert im.size == (1280, 1600)
        gray = np.asarray(im.convert("L"))
    dark = int((gray < 128).sum())
    # text, table rules and the bar plot: a blank or broken page has (almost) no dark pixels
    assert dark > 5000, dark
    assert gray[:120, :640].min() < 80  # the title is drawn


def test_missing_chromium_skips_locally_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="chromium is not installed"):
        chromium()
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        chromium()
