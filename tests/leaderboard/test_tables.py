"""What the tables mean: ranks and ties, bold best, reported rows, significance marks, headline choice."""

from __future__ import annotations

from pathlib import Path

import pytest

from rolescape.leaderboard import build_leaderboard, load_reported, load_runs, make_leaderboard
from rolescape.leaderboard.significance import paired_bootstrap
from rolescape.leaderboard.tables import competition_ranks, fmt_num, lower_is_better, pick_headline
from tests.fixtures.runs import write_run


def test_competition_ranks_and_direction():
    assert competition_ranks({"a": 0.5, "b": 0.7, "c": 0.5, "d": None}, False) == {"b": 1, "a": 2, "c": 2}
    assert competition_ranks({"a": 0.1, "b": 0.3}, True) == {"a": 1, "b": 2}
    assert (
        lower_is_better("no_face")
        and not lower_is_better("clip_i")
        and not lower_is_better("paper_dino_penalty")
    )
    assert fmt_num(-0.0001, 3) == "0.000" and fmt_num(5.449, 2) == "5.45"


def test_overall_table(runs: list[Path]):
    lb = build_leaderboard(load_runs(runs), reported=load_reported())
    rows = {r.key: r for r in lb.overall.rows}
    assert [r.key for r in lb.overall.rows] == ["strong", "middle", "weak", "__reported__"]
    assert [c.sub for c in lb.overall.columns[:-1]] == ["clip_i_novel", "mcq_acc ‡", "persona_sim"]
    assert all(c.best for c in rows["strong"].cells)
    assert not any(c.best for c in rows["weak"].cells)
    # the weak run is far below the best on every column: significant; the best itself is never marked
    assert all(c.significant for c in rows["weak"].cells[:-1])
    assert not any(c.significant for c in rows["strong"].cells)
    rep = rows["__reported__"]
    assert rep.reported and rep.stub == ["—", "Paper (reported)"]
    assert [c.value for c in rep.cells] == [None, 0.77, None, None]
    assert not any(c.best or c.rank for c in rep.cells)
    hidden = {e.name for e in lb.reported_hidden}
    assert hidden == {"VQA accuracy", "T2I CLIP-I", "Text role-play Memorization"}
    assert any("not yet checked against the paper" in n for n in lb.notes)


def test_mcq_floors_are_printed_beside_the_task(runs: list[Path]):
    lb = build_leaderboard(load_runs(runs))
    kt = next(t for t in lb.tasks if t.task == "knowledge_mcq")
    assert (
        "Floors of mcq_acc (answering without reading the question): always_C 0.500, longest_option 0.400."
        in (kt.notes)
    )


def test_no_reported(runs: list[Path]):
    lb = build_leaderboard(load_runs(runs), reported=None)
    assert not any(r.reported for t in [lb.overall, *lb.tasks] for r in t.rows)
    assert not any("reported" in n for n in lb.notes)


def test_task_table_ties_bold_all_best(tmp_path: Path):
    a = write_run(tmp_path, "a", 0.1)
    b = write_run(tmp_path, "b", 0.1)  # different seeds of noise, but force a tie below
    rs = load_runs([a, b])
    for r in rs.runs:
        r.results.tasks["knowledge_mcq"].metrics["mcq_acc"].mean = 0.5
    lb = build_leaderboard(rs)
    kt = next(t for t in lb.tasks if t.key == "task-knowledge_mcq")
    assert [r.stub[0] for r in kt.rows] == ["1", "1"]
    assert all(r.cells[1].best for r in kt.rows)


def test_headline_preference_and_override(runs: list[Path]):
    rs = load_runs(runs)
    assert pick_headline(rs.runs, "roleplay") == "clip_i_novel"
    assert pick_headline(rs.runs, "memorization") == "persona_sim"
    lb = build_leaderboard(rs, headline_overrides={"roleplay": "ref_sim"})
    assert lb.overall.columns[0].sub == "ref_sim"
    rt = next(t for t in lb.tasks if t.key == "task-roleplay")
    assert [c.title for c in rt.columns] == ["Coverage", "ref_sim", "clip_i", "clip_i_novel"]
    # ref_sim: middle beats strong in this fixture
    assert rt.rows[0].key == "middle"


def test_partial_runs_are_ranked_on_shared_tasks(tmp_path: Path):
    # "full" is worse on MCQ; a run that skips roleplay/memorization must still be ranked, on MCQ only.
    a = write_run(tmp_path, "full", -0.4)
    b = write_run(tmp_path, "mcq-only", 0.3, tasks=("knowledge_mcq",))
    out = make_leaderboard([a, b], tmp_path / "o", formats=["md"], plots=False)
    rows = {r.key: r for r in out.leaderboard.overall.rows}
    assert rows["mcq-only"].stub[0] == "1" and rows["full"].stub[0] == "2"
    # mean rank counts only the shared task (knowledge_mcq), not full's other columns
    assert rows["full"].cells[-1].value == 2.0 and rows["mcq-only"].cells[-1].value == 1.0
    assert rows["full"].cells[0].rank == 1  # roleplay column still ranks the runs that have it
    md = (tmp_path / "o" / "leaderboard.md").read_text()
    assert "use only the tasks every run was scored on: knowledge_mcq;" in md
    assert "mcq-only (1/3 tasks)" in md


def test_no_shared_task_means_no_overall_rank(tmp_path: Path):
    a = write_run(tmp_path, "mcq", 0.0, tasks=("knowledge_mcq",))
    b = write_run(tmp_path, "rp", 0.0, tasks=("roleplay",))
    out = make_leaderboard([a, b], tmp_path / "o", formats=["md"], plots=False)
    assert [r.stub[0] for r in out.leaderboard.overall.rows if not r.reported] == ["—", "—"]
    assert "No task was scored for every run" in (tmp_path / "o" / "leaderboard.md").read_text()


def test_per_character_breakdown(runs: list[Path]):
    lb = build_leaderboard(load_runs(runs))
    t = next(t for t in lb.characters if t.key == "chars-roleplay")
    assert [r.stub[0] for r in t.rows] == ["alpha", "beta", "gamma", "Macro mean"]
    assert [c.title for c in t.columns] == ["strong", "middle", "weak"]
    strong = next(r for r in load_runs(runs).runs if r.label == "strong").results
    assert t.rows[0].cells[0].value == strong.tasks["roleplay"].metrics["clip_i_novel"].per_character["alpha"]


def test_paired_bootstrap_properties():
    chars = {f"i{i}": "c" + str(i % 3) for i in range(60)}
    a = {k: 0.5 + 0.01 * (i % 7) for i, k in enumerate(chars)}
    assert paired_bootstrap(a, dict(a), chars).p_value == 1.0
    b = {k: v - 0.2 for k, v in a.items()}
    res = paired_bootstrap(a, b, chars)
    assert res.delta == pytest.approx(0.2) and res.p_value < 0.01 and res.n_common == 60
    noisy = {k: v + (0.05 if i % 2 else -0.05) for i, (k, v) in enumerate(a.items())}
    r1 = paired_bootstrap(a, noisy, chars, seed=[0, 1])
    assert r1 == paired_bootstrap(a, noisy, chars, seed=[0, 1])  # deterministic
    assert r1.p_value > 0.05
    assert paired_bootstrap({"x": 1.0}, {"x": 0.0}, {"x": "c"}) is None
    # only common ids count
    assert paired_bootstrap(a, {k: b[k] for k in list(b)[:10]}, chars).n_common == 10


def test_a_task_without_values_renders_everywhere(tmp_path: Path):
    run = write_run(tmp_path, "a", 0.1)
    rs = load_runs([run])
    for s in rs.runs[0].results.tasks["memorization"].metrics.values():
        s.mean = s.ci_low = s.ci_high = None
        s.per_character = {}
    lb = build_leaderboard(rs, reported=load_reported())
    assert "memorization" not in lb.headline
    mt = next(t for t in lb.tasks if t.task == "memorization")
    assert [c.title for c in mt.columns] == ["Coverage"] and mt.notes[0] == "No metric has a value."
    from rolescape.leaderboard import render
    from rolescape.leaderboard.plots import make_plots

    plots = make_plots(lb)
    assert "task_memorization.png" not in plots and "characters_memorization.png" not in plots
    for fn in (render.render_markdown, render.render_latex, render.render_csv):
        assert fn(lb)
    assert "Memorization" in render.render_html(lb, plots)
