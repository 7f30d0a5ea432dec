"""The paired bootstraps on a thread pool: every p-value, cell and file is the same for any number of
threads; the number comes from the argument, else $ROLESCAPE_THREADS, and a bad value is one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from rolescape.cli import main
from rolescape.errors import InputError
from rolescape.leaderboard import build_leaderboard, load_runs, make_leaderboard
from rolescape.leaderboard import significance as sig  # its tests_against_best is no pytest test
from rolescape.leaderboard.significance import MAX_THREADS, bootstrap_threads, comparison_seed
from tests.fixtures.runs import write_run


@pytest.fixture(scope="module")
def many_runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("many")
    # close offsets: some comparisons significant, some not, so the p-values differ from each other
    return [write_run(root, f"m{k}", offset=0.012 * k, seed=k) for k in range(7)]


def _part(n_runs: int, n_items: int) -> pl.DataFrame:
    rng = np.random.default_rng(7)
    chars = [f"c{i % 4}" for i in range(n_items)]
    rows = [
        (f"r{k}", chars[i], f"t/{chars[i]}/{i}", float(rng.normal(0.01 * k, 0.3)))
        for k in range(n_runs)
        for i in range(n_items)
        if not (k == 3 and i % 5 == 0)  # one run missing some items: fewer common items
    ]
    return pl.DataFrame(rows, schema=["run", "character", "item_id", "value"], orient="row")


def test_tests_against_best_is_the_same_on_any_number_of_threads():
    part = _part(12, 60)
    seeds = {f"r{k}": comparison_seed(0, "t", "m", "r11", f"r{k}") for k in range(11)}
    seeds["absent"] = [0, 1]  # no values at all: None, in its place
    one = sig.tests_against_best(part, "r11", seeds, n_resamples=300, threads=1)
    assert list(one) == list(seeds) and one["absent"] is None
    assert one["r3"] is not None and one["r3"].n_common == 48
    assert len({r.p_value for r in one.values() if r is not None}) > 3  # not one repeated number
    for threads in (2, 5, 16):
        got = sig.tests_against_best(part, "r11", seeds, n_resamples=300, threads=threads)
        assert list(got) == list(seeds) and got == one


def test_leaderboard_files_identical_for_any_threads(many_runs: list[Path], tmp_path: Path):
    runset = load_runs(many_runs)
    one = build_leaderboard(runset, n_resamples=200, threads=1)
    four = build_leaderboard(runset, n_resamples=200, threads=4)
    assert one.tests == four.tests and len(one.tests) >= 3 * 6
    assert len({r.p_value for r in one.tests.values() if r is not None}) > 2
    files = {}
    for threads in (1, 3):
        out = make_leaderboard(
            many_runs, tmp_path / str(threads), formats=["md", "csv", "latex"], plots=False, threads=threads
        )
        files[threads] = {p.name: p.read_bytes() for p in out.files}
    assert files[1] == files[3] and set(files[1]) == {"leaderboard.md", "leaderboard.csv", "leaderboard.tex"}


def test_thread_count_from_argument_env_or_cpus(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("ROLESCAPE_THREADS", raising=False)
    assert bootstrap_threads() == 1 and MAX_THREADS >= 2  # the pool only when asked for
    monkeypatch.setenv("ROLESCAPE_THREADS", "3")
    assert bootstrap_threads() == 3
    assert bootstrap_threads(5) == 5  # the argument wins over the environment
    for bad in ("0", "two", "-1", "1.5"):
        monkeypatch.setenv("ROLESCAPE_THREADS", bad)
        with pytest.raises(InputError, match=r"\$ROLESCAPE_THREADS: expected a positive integer"):
            bootstrap_threads()
    with pytest.raises(InputError, match="expected a positive integer, got 0"):
        bootstrap_threads(0)


def test_bad_env_value_is_one_line_exit_2_nothing_written(
    many_runs: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("ROLESCAPE_THREADS", "lots")
    out = tmp_path / "o"
    rc = main(["leaderboard", *map(str, many_runs[:2]), "--out", str(out), "--format", "md,csv"])
    err = capsys.readouterr().err
    lines = [x for x in err.strip().splitlines() if x.strip()]
    assert rc == 2 and len(lines) == 1 and "Traceback" not in err
    assert "$ROLESCAPE_THREADS" in lines[0] and "'lots'" in lines[0]
    assert not out.exists() or not any(out.iterdir())
    monkeypatch.delenv("ROLESCAPE_THREADS")
    assert main(["leaderboard", *map(str, many_runs[:2]), "--out", str(out), "--threads", "2"]) == 0
    assert (out / "leaderboard.md").is_file()
