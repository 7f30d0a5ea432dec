"""Through the CLI: partial runs (issue 15 §2), hostile names in every output format and in the plots,
and NaN / Infinity in results files and per-item logs (issue 11 §2, §4)."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from rolescape.cli import main
from tests.fixtures.runs import write_run

ALL = "md,latex,csv,html,parquet"


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = main(args)
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def _one_line(err: str) -> str:
    lines = [x for x in err.strip().splitlines() if x.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def _mark_partial(run: Path, **fields: object) -> None:
    obj = json.loads((run / "results.json").read_text())
    obj.update(fields)
    (run / "results.json").write_text(json.dumps(obj, indent=2))


# -- partial runs ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "fields,reason",
    [({"limit": 2, "partial": True}, "--limit 2"), ({"shard": "1/4", "partial": True}, "--shard 1/4"),
     ({"limit": 5}, "--limit 5")],
)  # fmt: skip
def test_partial_run_beside_full_runs_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fields: dict[str, object], reason: str
):
    full = write_run(tmp_path, "full", 0.1)
    part = write_run(tmp_path, "part", 0.0)
    _mark_partial(part, **fields)
    rc, _, err = _cli(["leaderboard", str(full), str(part), "--out", str(tmp_path / "o")], capsys)
    assert rc == 2
    line = _one_line(err)
    assert str(part / "results.json") in line and reason in line and "--allow-partial-runs" in line
    assert not (tmp_path / "o").exists()


def test_allowed_partial_run_is_marked_in_every_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    full = write_run(tmp_path, "full", 0.1)
    part = write_run(tmp_path, "part", 0.0)
    _mark_partial(part, limit=2, partial=True)
    out = tmp_path / "o"
    args = ["leaderboard", str(full), str(part), "--format", ALL, "--allow-partial-runs", "--out", str(out)]
    rc, stdout, _ = _cli(args, capsys)
    assert rc == 0
    assert "part (partial) is a partial run (--limit 2)" in stdout
    assert "full (partial)" not in stdout
    md = (out / "leaderboard.md").read_text()
    assert "| part (partial) |" in md and "part (partial): a partial run, scored on a subset" in md
    assert "part (partial)" in (out / "leaderboard.tex").read_text()
    assert "part (partial)" in (out / "leaderboard.html").read_text()
    rows = list(csv.DictReader(io.StringIO((out / "leaderboard.csv").read_text())))
    assert {r["model"] for r in rows if r["section"] != "reported"} == {"full", "part (partial)"}
    table = pq.read_table(out / "leaderboard.parquet").to_pylist()
    flags = {(r["model"], r["partial"]) for r in table if r["section"] != "reported"}
    assert flags == {("full", False), ("part (partial)", True)}


def test_only_partial_runs_and_old_files_without_the_fields(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    a = write_run(tmp_path, "a", 0.1)
    b = write_run(tmp_path, "b", 0.0)
    for run in (a, b):  # a results file from before issue 15 has none of the fields: a full run
        obj = json.loads((run / "results.json").read_text())
        for k in ("limit", "shard", "partial"):
            obj.pop(k)
        (run / "results.json").write_text(json.dumps(obj))
    rc, _, _ = _cli(["leaderboard", str(a), str(b), "--no-plots", "--out", str(tmp_path / "o")], capsys)
    assert rc == 0 and "partial" not in (tmp_path / "o" / "leaderboard.md").read_text()
    for run in (a, b):  # partial runs among themselves are ranked (smoke tests), and marked
        _mark_partial(run, limit=2, partial=True)
    rc, _, _ = _cli(["leaderboard", str(a), str(b), "--no-plots", "--out", str(tmp_path / "p")], capsys)
    assert rc == 0
    md = (tmp_path / "p" / "leaderboard.md").read_text()
    assert "| a (partial) |" in md and "| b (partial) |" in md


# -- hostile names -----------------------------------------------------------------------------------------
EVIL = "evil $\\x$ | <script>alert(1)</script> & co\nsecond line"
EVIL_CHAR = "ch|ar <b>x</b>"


def _evil_runs(tmp_path: Path) -> list[Path]:
    good = write_run(tmp_path, "good", 0.1)
    bad = write_run(tmp_path, "bad", -0.1)
    obj = json.loads((bad / "results.json").read_text())
    obj["model_name"] = EVIL
    for tr in obj["tasks"].values():
        for s in tr["metrics"].values():
            s["per_character"][EVIL_CHAR] = s["per_character"].pop("alpha")
    obj["skipped"] = [{"task": "roleplay", "metric": "face_sim", "reason": "no <i>model</i>\n| here"}]
    (bad / "results.json").write_text(json.dumps(obj))
    return [good, bad]


def _md_cells(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def test_hostile_names_are_escaped_in_every_format_and_plot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    runs = _evil_runs(tmp_path)
    out = tmp_path / "o"
    rc, stdout, err = _cli(["leaderboard", *map(str, runs), "--format", ALL, "--out", str(out)], capsys)
    assert rc == 0, err
    assert "second line" in stdout and "\nsecond line" not in stdout  # one terminal line per run
    # Markdown: every row of a table has as many column separators as its header; no raw HTML
    md = (out / "leaderboard.md").read_text()
    assert "<script" not in md and "<b>" not in md and "<i>" not in md
    assert "&lt;script>" in md and "& co" in md and "evil $\\\\x$ \\| " in md  # \\ and | escaped
    assert not any(line.startswith("second line") for line in md.splitlines())
    blocks = re.findall(r"((?:^\|.*\n)+)", md, flags=re.M)
    assert blocks
    for block in blocks:
        lines = block.splitlines()
        assert len({_md_cells(x) for x in lines}) == 1, block
    # LaTeX: specials escaped, no line break inside a row, none in a comment
    tex = (out / "leaderboard.tex").read_text()
    assert r"evil \$\textbackslash{}x\$ | <script>" in tex
    for line in tex.splitlines():  # nothing after a line break of a name or a reason starts a line
        if line.startswith(("second line", "| here")):
            pytest.fail(f"a line break reached the LaTeX source: {line!r}")
    assert "no <i>model</i> | here" in tex
    # CSV: the csv module quotes; the name reads back whole
    rows = list(csv.DictReader(io.StringIO((out / "leaderboard.csv").read_text())))
    assert EVIL in {r["model"] for r in rows} and EVIL_CHAR in {r["character"] for r in rows}
    assert {len(r) for r in rows} == {16}
    # HTML: escaped, never a live tag
    page = (out / "leaderboard.html").read_text()
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # parquet keeps the raw name
    assert EVIL in {r["model"] for r in pq.read_table(out / "leaderboard.parquet").to_pylist()}
    # plots: `$\x$` would be parsed as mathtext (and crash); they were all drawn
    pngs = sorted(p.name for p in (out / "plots").iterdir())
    assert "overview.png" in pngs and "characters_roleplay.png" in pngs


def test_mpl_text_keeps_dollars_literal():
    pytest.importorskip("matplotlib")
    from rolescape.leaderboard.plots import _plt, mpl_text

    plt = _plt()
    fig, ax = plt.subplots()
    ax.set_title(mpl_text("a $\\x$ b"))
    fig.canvas.draw()  # raises ValueError (mathtext) without the escape
    assert ax.get_title() == "a \\$\\x\\$ b"
    plt.close(fig)


# -- non-finite numbers -------------------------------------------------------------------------------------
@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_number_in_results_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], token: str
):
    good = write_run(tmp_path, "good", 0.1)
    bad = write_run(tmp_path, "bad", 0.0)
    text = (bad / "results.json").read_text()
    obj = json.loads(text)
    obj["tasks"]["knowledge_mcq"]["metrics"]["mcq_acc"]["mean"] = "__X__"
    (bad / "results.json").write_text(json.dumps(obj, indent=2).replace('"__X__"', token))
    rc, _, err = _cli(["leaderboard", str(good), str(bad), "--out", str(tmp_path / "o")], capsys)
    assert rc == 2
    line = _one_line(err)
    assert str(bad / "results.json") in line
    assert "field tasks.knowledge_mcq.metrics.mcq_acc.mean: NaN or infinite" in line
    assert not (tmp_path / "o").exists()
    # per-character values and intervals too
    obj["tasks"]["knowledge_mcq"]["metrics"]["mcq_acc"]["mean"] = 0.5
    obj["tasks"]["roleplay"]["metrics"]["clip_i"]["per_character"]["beta"] = "__X__"
    (bad / "results.json").write_text(json.dumps(obj).replace('"__X__"', token))
    rc, _, err = _cli(["leaderboard", str(bad), "--out", str(tmp_path / "o")], capsys)
    assert rc == 2 and "field tasks.roleplay.metrics.clip_i.per_character.beta" in _one_line(err)


def test_non_finite_number_in_items_log_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    run = write_run(tmp_path, "m", 0.1)
    lines = (run / "items.jsonl").read_text().splitlines()
    obj = json.loads(lines[4])
    metric = sorted(obj["metrics"])[0]
    obj["metrics"][metric] = "__X__"
    lines[4] = json.dumps(obj).replace('"__X__"', "NaN")
    (run / "items.jsonl").write_text("\n".join(lines) + "\n")
    rc, _, err = _cli(["leaderboard", str(run), "--out", str(tmp_path / "o")], capsys)
    assert rc == 2
    line = _one_line(err)
    assert f"items.jsonl:5: schema: field metrics.{metric}: NaN or infinite" in line
    assert not (tmp_path / "o").exists()


def test_a_line_holding_two_items_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """The one-pass validation joins lines with commas; a line `{..}, {..}` must still be an error."""
    run = write_run(tmp_path, "m", 0.1)
    lines = (run / "items.jsonl").read_text().splitlines()
    lines[2] = lines[2] + ", " + lines.pop(3)
    (run / "items.jsonl").write_text("\n".join(lines) + "\n")
    rc, _, err = _cli(["leaderboard", str(run), "--out", str(tmp_path / "o")], capsys)
    assert rc == 2 and "items.jsonl:3:" in _one_line(err) and "malformed JSON" in err
