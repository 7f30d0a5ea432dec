"""Bad input to `rolescape leaderboard`: one red line naming the file and what is wrong, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rolescape.cli import main
from rolescape.errors import InputError
from rolescape.leaderboard import load_runs, make_leaderboard, parse_formats
from tests.fixtures.runs import write_run


def _run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    rc = main(args)
    err = capsys.readouterr().err
    return rc, err


def _one_line(err: str) -> str:
    lines = [x for x in err.strip().splitlines() if x.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_empty_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    rc, err = _run_cli(["leaderboard", "--out", str(tmp_path / "o")], capsys)
    assert rc == 2
    assert "no results given" in _one_line(err)
    assert not (tmp_path / "o").exists()


def test_missing_path_and_folder_without_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    rc, err = _run_cli(["leaderboard", str(tmp_path / "nope.json"), "--out", str(tmp_path / "o")], capsys)
    assert rc == 2 and "nope.json: no such results file" in _one_line(err)
    (tmp_path / "empty").mkdir()
    rc, err = _run_cli(["leaderboard", str(tmp_path / "empty"), "--out", str(tmp_path / "o")], capsys)
    assert rc == 2 and "empty: run folder has no results.json" in _one_line(err)


def test_truncated_results_names_file_line_and_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    good = write_run(tmp_path, "good", 0.1)
    bad = write_run(tmp_path, "bad", 0.0)
    text = (bad / "results.json").read_text()
    (bad / "results.json").write_text(text[: len(text) // 2])
    rc, err = _run_cli(["leaderboard", str(good), str(bad), "--out", str(tmp_path / "o")], capsys)
    assert rc == 2
    line = _one_line(err)
    cut = text[: len(text) // 2]
    assert f"{bad / 'results.json'}:" in line and "malformed JSON" in line and "truncated" in line
    # line:col points at the end of what is left
    assert f":{cut.count(chr(10)) + 1}:" in line
    assert not (tmp_path / "o").exists()


def test_schema_error_names_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    run = write_run(tmp_path, "m", 0.1)
    obj = json.loads((run / "results.json").read_text())
    obj["tasks"]["roleplay"]["metrics"]["clip_i"]["mean"] = "high"
    (run / "results.json").write_text(json.dumps(obj))
    rc, err = _run_cli(["leaderboard", str(run), "--out", str(tmp_path / "o")], capsys)
    assert rc == 2
    line = _one_line(err)
    assert "results.json" in line and "field tasks.roleplay.metrics.clip_i.mean" in line
    del obj["model_name"]
    obj["tasks"]["roleplay"]["metrics"]["clip_i"]["mean"] = 0.5
    (run / "results.json").write_text(json.dumps(obj))
    with pytest.raises(InputError, match=r"field model_name: Field required"):
        load_runs([run])
    (run / "results.json").write_text("[1, 2]")
    with pytest.raises(InputError, match="expected a JSON object"):
        load_runs([run])
    (run / "results.json").write_text("")
    with pytest.raises(InputError, match="empty results file"):
        load_runs([run])


def test_truncated_items_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    run = write_run(tmp_path, "m", 0.1)
    text = (run / "items.jsonl").read_text()
    (run / "items.jsonl").write_text(text[:-40])
    n_lines = text[:-40].count("\n") + 1
    rc, err = _run_cli(["leaderboard", str(run), "--out", str(tmp_path / "o")], capsys)
    assert rc == 2
    line = _one_line(err)
    assert f"items.jsonl:{n_lines}:" in line and "malformed JSON" in line
    (run / "items.jsonl").write_text('{"id": "x"}\n')
    with pytest.raises(InputError, match=r"items.jsonl:1: schema: field task"):
        load_runs([run])


def test_missing_items_log_is_a_note_not_an_error(tmp_path: Path):
    a = write_run(tmp_path, "a", 0.2)
    b = write_run(tmp_path, "b", -0.2, with_items=False)
    res = make_leaderboard([a, b], tmp_path / "o", formats=["md"], plots=False)
    md = (tmp_path / "o" / "leaderboard.md").read_text()
    assert "b: items.jsonl not found beside results.json: no significance tests for this run." in md
    assert "†" not in md.split("## Notes")[0]
    assert all(v is None for v in res.leaderboard.tests.values())


@pytest.mark.parametrize("what", ["protocol", "manifest"])
def test_mixed_runs_are_refused_unless_allowed(tmp_path: Path, what: str, capsys: pytest.CaptureFixture[str]):
    a = write_run(tmp_path, "a", 0.1)
    kw = {"protocol": "2"} if what == "protocol" else {"manifest": "ef" * 32}
    b = write_run(tmp_path, "b", 0.0, **kw)
    rc, err = _run_cli(["leaderboard", str(a), str(b), "--out", str(tmp_path / "o")], capsys)
    assert rc == 2
    line = _one_line(err)
    assert "not comparable" in line and "--allow-mixed" in line
    assert ("protocol versions" in line) == (what == "protocol")
    assert ("manifest" in line) == (what == "manifest")
    assert str(b / "results.json") in line
    rc = main(["leaderboard", str(a), str(b), "--out", str(tmp_path / "o"), "--allow-mixed", "--no-plots"])
    assert rc == 0
    md = (tmp_path / "o" / "leaderboard.md").read_text()
    assert "Compared with --allow-mixed: different" in md


def test_bad_format_and_headline(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    a = write_run(tmp_path, "a", 0.1)
    rc, err = _run_cli(["leaderboard", str(a), "--format", "md,pdf", "--out", str(tmp_path / "o")], capsys)
    assert rc == 2 and "unknown format 'pdf'" in _one_line(err)
    rc, err = _run_cli(
        ["leaderboard", str(a), "--headline", "roleplay", "--out", str(tmp_path / "o")], capsys
    )
    assert rc == 2 and "TASK=METRIC" in _one_line(err)
    assert parse_formats(["markdown,tex", "csv", "md"]) == ["md", "latex", "csv"]


def test_duplicate_model_names_get_distinct_labels(tmp_path: Path):
    a = write_run(tmp_path / "run1", "same", 0.1)
    b = write_run(tmp_path / "run2", "same", 0.0)
    rs = load_runs([a, b])
    assert [r.label for r in rs.runs] == ["same [run1/same]", "same [run2/same]"]
    assert [r.label for r in load_runs([a, a / "results.json"]).runs] == ["same #1", "same #2"]
