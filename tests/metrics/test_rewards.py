"""trl-style reward functions built from metric families (MCQ end to end; image plumbing with a fake)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rolescape.errors import InputError, UnknownNameError
from rolescape.metrics.base import ItemBatch, MetricFamily, ScoreContext, Scores
from rolescape.metrics.images_io import prediction_images
from rolescape.metrics.registry import FAMILIES
from rolescape.metrics.rewards import RewardFunction, make_reward
from tests.fixtures.tiny import make_tiny_dataset, mcq_ids, mcq_options


@pytest.fixture(scope="module")
def ds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_dataset(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def mcq(ds: Path) -> RewardFunction:
    return make_reward("mcq_acc", data=ds, device="cpu")


def test_mcq_reward_by_item_id(mcq: RewardFunction) -> None:
    (i1, k1), (i2, k2), (i3, _) = mcq_ids()[:3]
    assert (k1, k2) == ("B", "B")
    out = mcq([k1, "Answer: C", "I have no idea"], ids=[i1, i2, i3])
    assert out == [1.0, 0.0, 0.0]
    assert all(isinstance(x, float) for x in out)
    assert mcq.__name__ == "mcq_acc"


def test_reward_accepts_trl_completion_shapes(mcq: RewardFunction) -> None:
    (i1, k1), (i2, k2) = mcq_ids()[:2]
    conversational = [
        [{"role": "assistant", "content": f"The answer is ({k1})."}],
        [{"role": "assistant", "content": "D"}],
    ]
    assert mcq(conversational, item_ids=[i1, i2]) == [1.0, 0.0]
    assert mcq([{"choice": k1}, {"text": k2}], id=[i1, i2]) == [1.0, 1.0]


def test_reward_from_dataset_columns(mcq: RewardFunction) -> None:
    # trl passes dataset columns as kwargs: the item is assembled from them
    opts = [mcq_options(1), mcq_options(2)]
    out = mcq(
        ["gamma 1", "B"],
        prompts=["q1", "q2"],
        options=opts,
        answer_key=["C", "A"],
        difficulty=["easy", "hard"],
        character=["Bo", "Chandler"],
        trainer_state=object(),
    )
    assert out == [1.0, 0.0]


def test_other_metrics_of_the_family(ds: Path) -> None:
    unparsed = make_reward("mcq_unparsed", data=ds)
    (i1, _), (i2, _) = mcq_ids()[:2]
    assert unparsed(["A or B", "B"], ids=[i1, i2]) == [1.0, 0.0]
    easy = make_reward("mcq_acc_easy", data=ds)
    assert easy(["B", "B"], ids=[i1, i2]) == [1.0, None]  # item 2 is 'medium': does not apply


def test_items_of_tasks_the_family_does_not_score_get_none(mcq: RewardFunction) -> None:
    i1, k1 = mcq_ids()[0]
    assert mcq([k1, "hello"], ids=[i1, "dialogue/bo/0"]) == [1.0, None]


def test_reward_input_errors(mcq: RewardFunction) -> None:
    with pytest.raises(InputError, match="2 ids for 1 completions"):
        mcq(["A"], ids=["a", "b"])
    with pytest.raises(InputError, match="unknown item id 'nope'"):
        mcq(["A"], ids=["nope"])
    with pytest.raises(InputError, match="cannot use a completion of type int"):
        mcq([3], ids=[mcq_ids()[0][0]])


def test_unknown_metric_suggests(ds: Path) -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'mcq_acc'"):
        make_reward("mcq_ac", data=ds)


# ---- derived metrics and depends_on ----------------------------------------------------------------


class Bonus(MetricFamily):
    """A derived metric over another family's score (like paper_reward over vqa/clip_t/...)."""

    name = "_test_bonus"
    tasks = ("knowledge_mcq",)
    depends_on = ("mcq",)
    uses_device = False

    def metric_names(self, task: str) -> list[str]:
        return ["mcq_bonus"]

    def score(self, batch: ItemBatch, ctx: ScoreContext) -> list[Scores]:
        return [{} for _ in batch.items]

    def derive(self, scores: Scores) -> Scores:
        acc = scores.get("mcq_acc")
        return {"mcq_bonus": None if acc is None else 10.0 * acc}


def test_derived_metric_runs_its_dependencies(ds: Path) -> None:
    if "_test_bonus" not in FAMILIES:
        FAMILIES.register("_test_bonus", Bonus)
    bonus = make_reward("mcq_bonus", data=ds)
    assert [f.name for f in bonus.families] == ["mcq", "_test_bonus"]
    (i1, k1), (i2, _) = mcq_ids()[:2]
    assert bonus([k1, "D"], ids=[i1, i2]) == [10.0, 0.0]


# ---- image completions -----------------------------------------------------------------------------


class Whiteness(MetricFamily):
    """Mean brightness of each completion's first image, read through prediction_images (the same
    call an image family makes); also reports how many images the completion had."""

    name = "_test_whiteness"
    tasks = ("t2i", "t2i_vqa")

    def metric_names(self, task: str) -> list[str]:
        return ["white", "n_images"]

    def score(self, batch: ItemBatch, ctx: ScoreContext) -> list[Scores]:
        out: list[Scores] = []
        for row, imgs in zip(batch.items, prediction_images(batch, ctx), strict=True):
            assert all(im.mode == "RGB" for im in imgs)
            px = imgs[0].getpixel((0, 0))
            out.append(
                {
                    "white": sum(px) / 765,
                    "n_images": float(len(imgs)),
                    "has_prompt": 1.0 if row.get("prompt") else 0.0,
                }
            )
        return out


def test_image_completions_reach_families_as_rgb(ds: Path) -> None:
    from PIL import Image

    from rolescape.dataset import BuiltDataset

    ctx = ScoreContext(data=BuiltDataset(ds), alpha="white")
    reward = RewardFunction("white", [Whiteness()], ctx, task="t2i_vqa")
    transparent = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    black = Image.new("RGB", (4, 4), (0, 0, 0))
    out = reward(
        [transparent, [black, black, black], {"image": black}],
        prompts=["a", "b", "c"],
        character=["Bo", "GAOQIQIANG", "gao qiqiang"],
        vqa_questions=[[], [], []],
    )
    assert out == [1.0, 0.0, 0.0]  # transparency composited on white
    n = RewardFunction("n_images", [Whiteness()], ctx, task="t2i_vqa")
    assert n([black, [black, black]], prompts=["a", "b"]) == [1.0, 2.0]
    paper = RewardFunction(
        "white", [Whiteness()], ScoreContext(data=BuiltDataset(ds), alpha="paper"), task="t2i"
    )
    assert paper([transparent], prompts=["a"]) == [0.0]  # --alpha paper: plain convert("RGB")
    # dataset items by id carry their references (here: the t2i prompt)
    assert RewardFunction("has_prompt", [Whiteness()], ctx, task="t2i")([black], ids=["t2i/bo/0"]) == [1.0]


def test_character_spellings_map_to_slugs(ds: Path) -> None:
    from rolescape.dataset import BuiltDataset

    r = RewardFunction("white", [Whiteness()], ScoreContext(data=BuiltDataset(ds)), task="t2i")
    assert r._slug("GaoQiqiang") == "gao-qiqiang"
    assert r._slug("gao qiqiang") == "gao-qiqiang"
    assert r._slug("Chandler") == "chandler"
    assert r._slug("Someone Else") == "someone-else"
