"""items.jsonl as the leaderboard reads it: one pydantic-core pass over the whole log, the same frame
as the line-by-line reader, and the paired bootstrap's statistic unchanged by how it is computed."""

from __future__ import annotations

import gc
import random
import typing
from pathlib import Path

import numpy as np
import pytest

from rolescape.leaderboard import load
from rolescape.leaderboard.significance import bootstrap_groups
from rolescape.metrics.engine import ItemsLog
from rolescape.schemas.results import FamilyScore, ItemScore


def _records(n: int, seed: int) -> list[ItemScore]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        task = ("dialogue", "roleplay")[i % 2]
        sim = {"ref_sim": round(rng.random(), 4), "rouge_l": None if i % 5 == 0 else round(rng.random(), 4)}
        style = {"style_acc": float(rng.random() < 0.5)}
        fams = {"sim": FamilyScore(key=f"s{i}", metrics=sim, info={"n_words": i, "lang": "en"}),
                "style": FamilyScore(key=f"t{i}", metrics=style)}  # fmt: skip
        out.append(ItemScore(id=f"{task}/c{i % 3}/{i}", task=task, character=f"c{i % 3}", key=f"k{i}",
                             metrics={**sim, **style}, info={"n_words": i}, families=fams))  # fmt: skip
    return out


def _reference_frame(path: Path):  # type: ignore[no-untyped-def]
    """The frame by definition: `load_items` (one ItemScore per line, last line of an id wins)."""
    import polars as pl

    items = load.load_items(path).values()
    rows = [(s.task, s.character, s.id, m, v) for s in items for m, v in s.metrics.items()]
    schema = {k: getattr(pl, v) for k, v in load.ITEM_FRAME_SCHEMA.items()}
    return pl.DataFrame(rows, schema=schema, orient="row")


def test_the_line_types_are_the_schema_types():
    """The one-pass types carry exactly the fields of ItemScore / FamilyScore (else every log that
    has one of the missing fields falls back to the slow reader, or one with an unknown field passes)."""
    assert set(typing.get_type_hints(load._ItemLine)) == set(ItemScore.model_fields)
    assert set(typing.get_type_hints(load._FamilyLine)) == set(FamilyScore.model_fields)


def test_an_engine_written_log_is_read_in_one_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "items.jsonl"
    log = ItemsLog(path)  # the engine's own writer: sealed lines with families and check
    recs = _records(40, 0)
    log.append(recs)
    log.append([recs[3].model_copy(update={"metrics": {"ref_sim": 0.5, "rouge_l": None, "style_acc": 1.0}})])
    expected = _reference_frame(path)
    assert '"check"' in path.read_text() and '"families"' in path.read_text()

    def refuse(p: Path) -> dict[tuple[str, str], ItemScore]:
        raise AssertionError(f"{p} was re-read line by line")

    monkeypatch.setattr(load, "load_items", refuse)
    got = load.load_item_frame(path)
    assert got.equals(expected)  # same rows, order, dtypes; the resumed item keeps its first place
    row = got.filter(got["item_id"] == recs[3].id).sort("metric")
    assert (
        row["value"].to_list() == [0.5, None, 1.0]
        and got["item_id"].unique(maintain_order=True)[3] == recs[3].id
    )


@pytest.mark.parametrize("enabled", [True, False])
def test_loading_leaves_the_garbage_collector_as_it_was(tmp_path: Path, enabled: bool):
    path = tmp_path / "items.jsonl"
    ItemsLog(path).append(_records(5, 1))
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        load.load_item_frame(path)
        assert gc.isenabled() is enabled
        (tmp_path / "bad.jsonl").write_text(path.read_text() + '{"id": 1}\n')
        with pytest.raises(load.InputError, match=r"bad.jsonl:6: schema"):
            load.load_item_frame(tmp_path / "bad.jsonl")
        assert gc.isenabled() is enabled
    finally:
        gc.enable() if was else gc.disable()


def test_bootstrap_statistic_is_the_per_draw_definition():
    """Same draws (one integers call per character, in order), same sums, same delta and p-value as
    the plain definition written with np.mean."""
    rs = np.random.default_rng(7)
    for k in range(30):
        diffs = [rs.normal(0.05, 0.3, int(rs.integers(1, 40))) for _ in range(int(rs.integers(1, 8)))]
        got = bootstrap_groups(diffs, sum(map(len, diffs)), n_resamples=199, seed=[0, k])
        rng = np.random.default_rng([0, k])
        boot = np.mean([d[rng.integers(0, len(d), size=(199, len(d)))].mean(axis=1) for d in diffs], axis=0)
        below, above = int(np.sum(boot <= 0)), int(np.sum(boot >= 0))
        assert got.p_value == min(1.0, 2.0 * (min(below, above) + 1) / 200)
        assert got.delta == float(np.mean([d.mean() for d in diffs]))
