"""MCQ: letter extraction from free text, the family's metrics and floors, shuffle-options."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rolescape.cli import main
from rolescape.errors import InputError
from rolescape.metrics.engine import score
from rolescape.metrics.mcq import (
    answer_key_floors,
    extract_choice,
    item_permutation,
    load_permutations,
    shuffle_options,
)
from rolescape.metrics.predictions import LETTERS
from tests.fixtures.tiny import MCQ_SPEC, make_tiny_dataset, mcq_ids, mcq_options, write_predictions

JOB = {"A": "Statistical analysis and data reconfiguration", "B": "Chef", "C": "Paleontologist", "D": "Actor"}
BDAY = {"A": "July31,1979", "B": "September19,1979", "C": "October31,1979", "D": "August15,1979"}
COUNT = {"A": "1", "B": "2", "C": "3", "D": "4"}  # the release's int-valued options, coerced to str

# (free-text answer, options, expected letter or None)
CASES: list[tuple[str, dict[str, str], str | None]] = [
    ("B", JOB, "B"),
    ("b", JOB, "B"),
    ("(B)", JOB, "B"),
    ("B)", JOB, "B"),
    ("B.", JOB, "B"),
    ("**C**", JOB, "C"),
    ('"D"', JOB, "D"),
    ("Answer: D.", JOB, "D"),
    ("The answer is B", JOB, "B"),
    ("I think (b)", JOB, "B"),
    ("not A but C", JOB, "C"),
    ("A or B", JOB, None),
    ("Absolutely", JOB, None),
    ("Absolutely, that's right.", JOB, None),
    ("chef", JOB, "B"),  # option text, other case
    ("  PALEONTOLOGIST. ", JOB, "C"),
    ("statistical analysis AND data reconfiguration!", JOB, "A"),
    ("July 31, 1979", BDAY, "A"),  # the release's missing-space options
    ("He is a chef.", JOB, "B"),  # option text inside a sentence
    ("B) Chef", JOB, "B"),
    ("B. Actor", JOB, None),  # letter and text disagree
    ("Option C: he digs up bones", JOB, "C"),
    ("I'd go with D.", JOB, "D"),
    ("The correct answer is option A because he works with statistics", JOB, "A"),
    ("C and D both sound plausible, but I'd go with D", JOB, "D"),
    ("Either A or B", JOB, None),
    ("A/B", JOB, None),
    ("It is not C.", JOB, None),
    ("B, not A", JOB, "B"),
    ("A is wrong; it's B", JOB, "B"),
    ("answer is c.", JOB, "C"),
    ("the answer is a chef", JOB, "B"),  # 'a' is the article here, 'chef' the option
    ("A dog ate my homework", JOB, None),  # the article A is not a letter
    ("A is correct", JOB, "A"),
    ("D'Artagnan would know", JOB, None),
    ("None of the above", JOB, None),
    ("I'd rule out A and D; it's C.", JOB, "C"),
    ("Answer: A or B", JOB, None),
    ("B\n\nBecause he cooks at Alessandro's.", JOB, "B"),
    ("My final answer: (C)", JOB, "C"),
    ("Chef or actor, I can't tell", JOB, None),
    ("", JOB, None),
    ("Definitely C!", JOB, "C"),
    ("A lot of people would say B", JOB, "B"),
    ("3", COUNT, "C"),
    ("There are 3 people in the picture", COUNT, "C"),
    ("Answer - (d)", JOB, "D"),
    ("I choose B over A", JOB, "B"),
    ("> **Answer:** B", JOB, "B"),
    ("Options A and B are both wrong", JOB, None),
]


@pytest.mark.parametrize(("text", "options", "expected"), CASES, ids=[repr(c[0])[:40] for c in CASES])
def test_extract_choice(text: str, options: dict[str, str], expected: str | None) -> None:
    letter, reason = extract_choice(text, options)
    assert letter == expected, reason
    assert reason


def test_the_table_is_big_enough() -> None:
    assert len(CASES) >= 30


def test_reasons_separate_ambiguous_from_unparseable() -> None:
    assert extract_choice("A or B", JOB)[1] == "ambiguous: A, B"
    assert extract_choice("B. Actor", JOB)[1].startswith("ambiguous: letter B")
    assert extract_choice("Absolutely", JOB)[1] == "unparseable"
    assert extract_choice("It is not C.", JOB)[1] == "unparseable: only excluded letters"
    assert extract_choice(None)[1] == "empty"
    assert extract_choice("chef", JOB)[1] == "option text"
    assert extract_choice("Answer: D.", JOB)[1] == "answer marker"


def test_extraction_without_options() -> None:
    assert extract_choice("The answer is (C).") == ("C", "answer marker")
    assert extract_choice("chef")[0] is None


# ---- the family through the engine -----------------------------------------------------------------


@pytest.fixture(scope="module")
def ds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_dataset(tmp_path_factory.mktemp("tiny"))


def mcq_run(ds: Path, tmp: Path, rows: list, **kw):
    p = write_predictions(tmp / "m" / "predictions.jsonl", rows)
    return score(p, ds, out_dir=tmp / "run", families=["mcq"], progress=False, **kw)


def items_of(tmp: Path) -> dict[str, dict]:
    return {x["id"]: x for x in map(json.loads, (tmp / "run" / "items.jsonl").read_text().splitlines())}


def test_family_metrics_per_item(ds: Path, tmp_path: Path) -> None:
    ids = mcq_ids()
    rows = [
        {"id": ids[0][0], "choice": "B"},  # bo 1 key B easy: right
        {"id": ids[1][0], "text": "I believe the answer is (C)."},  # bo 2 key B medium: wrong
        {"id": ids[2][0], "text": "gamma 3"},  # bo 3 key C hard: option text, right
        {"id": ids[3][0], "text": "A or B?"},
    ]  # bo 4 key A easy: ambiguous, wrong
    res = mcq_run(ds, tmp_path, rows)
    it = items_of(tmp_path)
    one, two, three, four = (it[i]["metrics"] for i, _ in ids[:4])
    assert one["mcq_acc"] == 1.0 and one["mcq_kappa"] == 1.0 and one["mcq_unparsed"] == 0.0
    assert one["mcq_acc_easy"] == 1.0 and one["mcq_acc_medium"] is None and one["mcq_acc_hard"] is None
    assert (
        two["mcq_acc"] == 0.0 and two["mcq_kappa"] == pytest.approx(-1 / 3) and two["mcq_acc_medium"] == 0.0
    )
    assert three["mcq_acc"] == 1.0 and three["mcq_acc_hard"] == 1.0
    assert four["mcq_acc"] == 0.0 and four["mcq_unparsed"] == 1.0
    assert it[ids[3][0]]["info"] == {
        "mcq_answer": None,
        "mcq_letter": None,
        "mcq_parse": "ambiguous: A, B",
        "mcq_permuted": False,
    }
    assert it[ids[2][0]]["info"]["mcq_parse"] == "option text"
    m = res.tasks["knowledge_mcq"].metrics
    assert m["mcq_acc"].mean == 0.5 and m["mcq_unparsed"].mean == 0.25
    assert m["mcq_kappa"].mean == pytest.approx((0.5 - 0.25) / 0.75)
    assert m["mcq_acc_easy"].n == 2 and m["mcq_acc_easy"].mean == 0.5
    assert res.tasks["knowledge_mcq"].coverage == pytest.approx(4 / 9)


def test_floors_are_computed_from_the_task_config(ds: Path, tmp_path: Path) -> None:
    res = mcq_run(ds, tmp_path, [{"id": mcq_ids()[0][0], "choice": "A"}])
    floors = res.tasks["knowledge_mcq"].metrics["mcq_acc"].floors
    # keys: bo B,B,C,A  chandler C,B  gao C,D,C ; macro over characters like mcq_acc
    assert floors == pytest.approx(
        {
            "always_A": (1 / 4) / 3,
            "always_B": (2 / 4 + 1 / 2) / 3,
            "always_C": (1 / 4 + 1 / 2 + 2 / 3) / 3,
            "always_D": (1 / 3) / 3,
            "longest_option": (2 / 4 + 1 / 2) / 3,
        }
    )  # B is always the longest here
    kf = res.tasks["knowledge_mcq"].metrics["mcq_kappa"].floors
    assert kf["always_C"] == pytest.approx((floors["always_C"] - 0.25) / 0.75)


def test_release_key_skew_gives_the_documented_always_c_floor() -> None:
    keys = ["A"] * 7 + ["B"] * 83 + ["C"] * 99 + ["D"] * 11
    items = [
        {
            "id": f"knowledge_mcq/c{i // 10}/{i}",
            "character": f"c{i // 10}",
            "answer_key": k,
            "options": mcq_options(i),
        }
        for i, k in enumerate(keys)
    ]
    f = answer_key_floors(items)
    assert f["always_C"] == pytest.approx(0.495) and f["always_B"] == pytest.approx(0.415)
    assert f["always_A"] == pytest.approx(0.035) and f["always_D"] == pytest.approx(0.055)


def test_longest_option_ties_go_to_the_earlier_letter() -> None:
    opts = {"A": "aaaa", "B": "bbbb", "C": "c", "D": "d"}
    rows = [
        {"id": "x", "character": "c", "answer_key": "A", "options": opts},
        {"id": "y", "character": "c", "answer_key": "B", "options": opts},
    ]
    assert answer_key_floors(rows[:1])["longest_option"] == 1.0
    assert answer_key_floors(rows[1:])["longest_option"] == 0.0


# ---- shuffle-options -------------------------------------------------------------------------------


def test_shuffle_is_seeded_and_remaps_keys(ds: Path) -> None:
    a = shuffle_options(ds, "knowledge_mcq", seed=3)
    assert a == shuffle_options(ds, "knowledge_mcq", seed=3)
    assert [r["permutation"] for r in a] != [
        r["permutation"] for r in shuffle_options(ds, "knowledge_mcq", seed=4)
    ]
    from rolescape.dataset import BuiltDataset

    orig = {r["id"]: r for r in BuiltDataset(ds).task_items("knowledge_mcq")}
    for r in a:
        o = orig[r["id"]]
        assert sorted(r["permutation"]) == list(LETTERS)
        assert r["options"][r["answer_key"]] == o["options"][o["answer_key"]]
        assert r["permutation"][LETTERS.index(r["answer_key"])] == o["answer_key"]
        for i, shown in enumerate(LETTERS):
            assert r["options"][shown] == o["options"][r["permutation"][i]]
    # the permutation of an item does not depend on the other items
    assert item_permutation(3, a[4]["id"]) == a[4]["permutation"]


def test_shuffle_rejects_non_mcq_tasks(ds: Path) -> None:
    with pytest.raises(InputError, match="shuffle-options works on"):
        shuffle_options(ds, "t2i", 0)


def test_scoring_through_a_permutation_file(ds: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "shuffled.jsonl"
    assert (
        main(
            [
                "shuffle-options",
                "--data",
                str(ds),
                "--task",
                "knowledge_mcq",
                "--seed",
                "11",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert "9 knowledge_mcq items, seed 11" in capsys.readouterr().out
    shuffled = [json.loads(x) for x in out.read_text().splitlines()]
    # a model that answers every shuffled item correctly, half by letter, half by option text
    rows = [
        {"id": r["id"], "choice": r["answer_key"]}
        if n % 2
        else {"id": r["id"], "text": r["options"][r["answer_key"]]}
        for n, r in enumerate(shuffled)
    ]
    p = write_predictions(tmp_path / "m" / "predictions.jsonl", rows)
    rc = main(
        [
            "score",
            str(p),
            "--data",
            str(ds),
            "--out",
            str(tmp_path / "run"),
            "--families",
            "mcq",
            "--options-permutation",
            str(out),
            "--no-progress",
        ]
    )
    assert rc == 0
    res = json.loads((tmp_path / "run" / "results.json").read_text())
    acc = res["tasks"]["knowledge_mcq"]["metrics"]["mcq_acc"]
    assert acc["mean"] == 1.0
    # floors are those of the keys as shown
    keys = [r["answer_key"] for r in shuffled]
    per_char: dict[str, list[str]] = {}
    for r in shuffled:
        per_char.setdefault(r["character"], []).append(r["answer_key"])
    expect_c = sum(v.count("C") / len(v) for v in per_char.values()) / len(per_char)
    assert acc["floors"]["always_C"] == pytest.approx(expect_c)
    assert len(keys) == 9
    # without the permutation the same letters are mostly wrong: the mapping is what made them right
    res2 = score(p, ds, out_dir=tmp_path / "run2", families=["mcq"], progress=False)
    assert res2.tasks["knowledge_mcq"].metrics["mcq_acc"].mean < 1.0


def test_permutation_from_prediction_metadata(ds: Path, tmp_path: Path) -> None:
    shuffled = shuffle_options(ds, "knowledge_mcq", seed=5)
    rows = [dict(r, choice=r["answer_key"]) for r in shuffled]  # the export line + the answer
    for r in rows:
        for k in ("task", "character", "question", "options", "answer_key", "difficulty", "seed"):
            r.pop(k)
    res = mcq_run(ds, tmp_path, rows)
    assert res.tasks["knowledge_mcq"].metrics["mcq_acc"].mean == 1.0
    assert all(x["info"]["mcq_permuted"] for x in items_of(tmp_path).values())


def test_permutation_file_is_part_of_the_resume_key(ds: Path, tmp_path: Path) -> None:
    rows = [{"id": i, "choice": "A"} for i, _ in mcq_ids()]
    p = write_predictions(tmp_path / "m" / "predictions.jsonl", rows)
    r1 = score(p, ds, out_dir=tmp_path / "run", families=["mcq"], progress=False)
    perms = {i: ["B", "A", "C", "D"] for i, _ in mcq_ids()}  # shown A = original B
    r2 = score(
        p,
        ds,
        out_dir=tmp_path / "run",
        families=["mcq"],
        progress=False,
        options={"options_permutation": perms},
    )
    n_b = sum(k == "B" for spec in MCQ_SPEC.values() for k, _ in spec)
    assert (
        r1.tasks["knowledge_mcq"].metrics["mcq_acc"].n == r2.tasks["knowledge_mcq"].metrics["mcq_acc"].n == 9
    )
    lines = (tmp_path / "run" / "items.jsonl").read_text().splitlines()
    assert len(lines) == 9
    assert sum(json.loads(x)["metrics"]["mcq_acc"] for x in lines) == n_b


def test_load_permutations_errors_name_the_line(tmp_path: Path) -> None:
    p = tmp_path / "perm.jsonl"
    p.write_text('{"id": "a", "permutation": ["B","A","C","D"]}\n{"id": "b", "permutation": "ABCC"}\n')
    with pytest.raises(InputError, match=r"perm.jsonl:2: options permutation must list A, B, C, D"):
        load_permutations(p)
    p.write_text('{"id": "a", "permutation": "BACD"}\n')
    assert load_permutations(p) == {"a": ["B", "A", "C", "D"]}
    with pytest.raises(InputError, match="not found"):
        load_permutations(tmp_path / "nope.jsonl")
