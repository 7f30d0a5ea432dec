"""Protocol v2 metrics on constructed cases: image copy detection and copy-robust identity, text copy
detection, cross-fitted style attribution, clean MCQ accuracy, the threshold calibration, and the
declared-metrics table."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageOps

from rolescape.metrics.image.copy import (
    IMAGE_COPY_THRESHOLD,
    CopyBank,
    augment,
    choose_threshold,
    novel_similarity,
    thumb_vector,
)

# --------------------------------------------------------------------------------------- images


def scene(seed: int, palette: tuple[int, int, int], size: int = 256) -> Image.Image:
    """A smooth random 'photo': low-frequency noise tinted by a character's palette."""
    rng = np.random.default_rng(seed)
    low = rng.random((8, 8, 1)).astype(np.float32)
    field = np.asarray(
        Image.fromarray((low[:, :, 0] * 255).astype(np.uint8)).resize((size, size), Image.BICUBIC)
    )
    f = field.astype(np.float32)[:, :, None] / 255.0
    rgb = np.clip(f * np.array(palette, np.float32) + (1 - f) * 40, 0, 255).astype(np.uint8)
    return Image.fromarray(rgb, "RGB")


def reencode(img: Image.Image, q: int = 50) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=q)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


@pytest.fixture(scope="module")
def character_a() -> list[Image.Image]:
    return [scene(s, (230, 120, 60)) for s in range(6)]


def test_copy_detector_flags_copies_and_spares_real_images(character_a):
    bank = CopyBank(character_a)
    src = character_a[2]
    w, h = src.size
    copies = {
        "exact": src,
        "flipped": ImageOps.mirror(src),
        "cropped": src.crop((20, 5, w - 5, h - 20)),
        "reencoded": reencode(src),
        "resized": src.resize((w // 3, h // 3)),
        "all": reencode(ImageOps.mirror(src).crop((10, 10, w - 12, h - 8)).resize((180, 180)), 60),
    }
    for name, img in copies.items():
        sims = bank.similarities(img)
        assert int(sims.argmax()) == 2, name
        assert sims[2] > IMAGE_COPY_THRESHOLD, (name, float(sims[2]))
    same_character_new_photo = scene(100, (230, 120, 60))
    other_character = scene(200, (40, 90, 220))
    for img in (same_character_new_photo, other_character):
        assert float(bank.similarities(img).max()) < IMAGE_COPY_THRESHOLD


def test_novel_similarity_scores_a_copy_like_a_real_photo():
    """A copied train image scores its similarity to the other train images, never 1."""
    rng = np.random.default_rng(0)
    bank = rng.normal(size=(4, 8)).astype(np.float32)
    bank /= np.linalg.norm(bank, axis=1, keepdims=True)
    g = bank[1].copy()  # an exact copy of train image 1
    sims = bank @ g
    dup = np.array([False, True, False, False])
    copy_sims = np.array([0.1, 0.99, 0.2, 0.1])
    v1 = float(np.mean(sims))
    novel = novel_similarity(sims, [0, 1, 2, 3], dup, copy_sims, bank)
    expected = float(np.mean(bank[[0, 2, 3]] @ bank[1]))
    assert novel == pytest.approx(expected)
    assert novel < v1  # the plain form counts the perfect self-match
    # nothing near-duplicated: the plain mean
    assert novel_similarity(sims, [0, 1, 2, 3], np.zeros(4, bool), copy_sims, bank) == pytest.approx(v1)
    # everything duplicated: the nearest duplicate against the others
    allv = novel_similarity(sims, [0, 1, 2, 3], np.ones(4, bool), copy_sims, bank)
    assert allv == pytest.approx(expected)
    # face encoders keep only images with a face: positions map rows to train images
    face = novel_similarity(sims[[0, 1]], [0, 1], dup, copy_sims, bank[[0, 1]])
    assert face == pytest.approx(float(sims[0]))
    assert novel_similarity(sims[[1]], [1], dup, copy_sims, bank[[1]]) is None


def test_choose_threshold_separable_and_not():
    rep = choose_threshold([0.1, 0.5, 0.7], [0.9, 0.95])
    assert 0.7 < rep["tau"] < 0.9 and rep["false_positive_rate"] == 0 and rep["false_negative_rate"] == 0
    rep = choose_threshold([0.1, 0.8], [0.7, 0.9, 0.95])
    assert rep["margin"] < 0
    assert rep["false_positive_rate"] + rep["false_negative_rate"] > 0
    with pytest.raises(ValueError):
        choose_threshold([], [0.9])


def test_augment_is_seeded_and_light(character_a):
    a = augment(character_a[0], random.Random(3))
    b = augment(character_a[0], random.Random(3))
    assert sorted(a) == ["combo", "crop", "hflip", "jpeg60", "resize50"]
    for k in a:
        assert np.array_equal(thumb_vector(a[k]), thumb_vector(b[k]))
        w, h = a[k].size
        assert w >= 0.45 * 256 and h >= 0.45 * 256


# --------------------------------------------------------------------------------------- text copy

TRAIN = [
    ("ann", "Oh my stars, the kettle is singing again, fetch the blue cups please!"),
    ("ann", "I never trust a map that was drawn by a seagull, darling."),
    ("ann", "Tea first, adventures after, that is the rule of this house."),
    ("bob", "Affirmative. Route recalculated. Proceeding to the north pier."),
    ("bob", "Negative. The beacon requires maintenance before nightfall."),
    ("bob", "Status report: all lamps nominal, fog density rising."),
]


def test_rouge_and_overlap_index():
    from rolescape.metrics.text.copy import OverlapIndex, rouge_l_f, tokens

    assert rouge_l_f(tokens("a b c d"), tokens("a b c d")) == 1.0
    assert rouge_l_f(tokens("a b c d"), tokens("x y")) == 0.0
    assert rouge_l_f(tokens("a b c d"), tokens("a c")) == pytest.approx(2 * 0.5 * 1.0 / 1.5)
    idx = OverlapIndex([t for _, t in TRAIN], [c for c, _ in TRAIN])
    assert idx.max_overlap(TRAIN[1][1], "ann") == 1.0
    assert idx.max_overlap(TRAIN[1][1], "bob") < 0.3  # another character's lines do not count
    edited = "I never trust a map drawn by a seagull darling"
    assert idx.max_overlap(edited, "ann") > 0.8
    assert idx.max_overlap("The weather is lovely for a picnic by the river today.", "ann") < 0.4


def test_light_edits_stay_copies():
    from rolescape.metrics.text.copy import TEXT_COPY_THRESHOLD, OverlapIndex, light_edits

    idx = OverlapIndex([t for _, t in TRAIN], [c for c, _ in TRAIN])
    for i, (c, t) in enumerate(TRAIN):
        for name, e in light_edits(t, i).items():
            assert idx.max_overlap(e, c) > TEXT_COPY_THRESHOLD, (name, e)


# --------------------------------------------------------------------------------------- cross-fitting


ANN = [
    "Oh my stars, darling, the garden smells of rain!",
    "Fetch the blue cups, darling, the kettle is singing!",
    "Never trust a map drawn by a seagull, darling!",
    "Tea first and adventures after, that is my rule!",
    "Goodness, darling, my scarf has flown into the orchard!",
    "Sweet heavens, the lantern is flickering like a firefly!",
    "Darling, nobody bakes scones quite like the attic ghost!",
    "My word, the meadow is full of sleepy sheep tonight!",
    "Oh, do stop fussing, darling, the pie will keep!",
    "Heavens above, someone painted the library door pink!",
]
BOB = [
    "Affirmative. Beacon maintenance complete.",
    "Negative. Route blocked by fog bank.",
    "Status: hull integrity at ninety percent.",
    "Acknowledged. Proceeding to the north pier.",
    "Warning. Battery reserve below threshold.",
    "Affirmative. Radar sweep shows two vessels.",
    "Query: confirm docking clearance code.",
    "Negative. Anchor winch requires lubrication.",
    "Report: signal lamp replaced at station four.",
    "Acknowledged. Engine cooling cycle initiated.",
]


def _corpus() -> tuple[list[str], list[str]]:
    return ANN + BOB, ["ann"] * len(ANN) + ["bob"] * len(BOB)


def test_cross_fitted_style_scores_a_copy_with_a_model_that_never_saw_it():
    from rolescape.metrics.text.style import StyleConfig
    from rolescape.metrics.text.style_cf import CrossFitStyle

    texts, labels = _corpus()
    # a near-duplicate pair inside the train set must land in one fold
    texts.append("Oh my stars, darling, the garden smells of rain!!")
    labels.append("ann")
    emb = np.zeros((len(texts), 2))
    cfg = StyleConfig(char_min_df=1, cp_min_df=2, max_iter=500)
    cf = CrossFitStyle(texts, labels, emb, {"id": "none", "revision": "0", "dim": 2}, cfg, threshold=0.6, k=3)
    assert sorted(set(cf.folds)) == [0, 1, 2]
    assert cf.folds[0] == cf.folds[-1]
    for i in (0, 4, 13):
        models, how = cf.model_for(texts[i])
        assert how == f"fold_{cf.folds[i]}"
        (model,) = models
        excluded = next(k for k, m in cf._models.items() if m is model)
        assert i in excluded  # the scoring model was fitted without the copied text
        assert model.meta["n_train"] == len(texts) - len(excluded)
    # overlapping train texts from two folds: a model fitted without exactly those, on demand
    a, b = next((i, j) for i in range(10) for j in range(i + 1, 10) if cf.folds[i] != cf.folds[j])
    models, how = cf.model_for(texts[a] + " " + texts[b])
    assert how == "on_demand" and cf.n_on_demand == 1
    excluded = next(k for k, m in cf._models.items() if m is models[0])
    assert {a, b} <= set(excluded)
    # a response that overlaps nothing: the mean of the fold models, still attributed correctly
    new = ["Affirmative. Periscope deployed at station nine."]
    proba, how = cf.proba(new, np.zeros((1, 2)))
    assert how == ["mean_of_folds"] and cf.classes[int(proba[0].argmax())] == "bob"
    p0 = np.mean([m.predict_proba(new, np.zeros((1, 2)))[0] for m in cf.fold_models], axis=0)
    assert np.allclose(proba[0], p0)


# --------------------------------------------------------------------------------------- clean MCQ


class _Data:
    def __init__(self, path: Path):
        self.path = path


def _mcq_row(char: str, item: str, key: str) -> dict[str, Any]:
    return {
        "id": f"knowledge_mcq/{char}/{item}",
        "task": "knowledge_mcq",
        "character": char,
        "options": {"A": "one", "B": "two", "C": "three", "D": "four"},
        "answer_key": key,
        "difficulty": "easy",
    }


def test_mcq_acc_clean_scores_only_items_without_a_train_answer(tmp_path):
    from rolescape.metrics.base import ItemBatch, ScoreContext
    from rolescape.metrics.mcq import MCQFamily
    from rolescape.schemas.predictions import Prediction

    leak = {
        "leakage": {
            "mcq_answer_is_train_kqa_answer": {"per_character": {"ann": {"items": ["q1"], "n": 1, "of": 2}}}
        }
    }
    (tmp_path / "leakage.json").write_text(json.dumps(leak), encoding="utf-8")
    fam = MCQFamily()
    ctx = ScoreContext(data=_Data(tmp_path))
    fam.prepare(ctx, ["knowledge_mcq"])
    rows = [_mcq_row("ann", "q1", "C"), _mcq_row("ann", "q2", "C")]
    preds = [Prediction(id=r["id"], choice="C") for r in rows]
    out = fam.score(ItemBatch(task="knowledge_mcq", items=rows, predictions=preds), ctx)
    assert out[0]["mcq_acc"] == 1.0 and out[0]["mcq_acc_clean"] is None
    assert out[1]["mcq_acc_clean"] == 1.0
    floors = fam.floors("knowledge_mcq", rows, {p.id: p for p in preds}, ctx)
    assert floors["mcq_acc_clean"]["always_C"] == 1.0
    assert "mcq_acc_clean" not in fam.metric_names("visual_mcq")


def test_mcq_acc_clean_without_leakage_file_is_skipped(tmp_path):
    from rolescape.metrics.base import ScoreContext
    from rolescape.metrics.mcq import MCQFamily

    ctx = ScoreContext(data=_Data(tmp_path))
    MCQFamily().prepare(ctx, ["knowledge_mcq"])
    assert {m for _, m, _ in ctx.skipped} == {"mcq_acc_clean", "mcq_kappa_clean"}
    assert all("leakage.json" in why for *_, why in ctx.skipped)


# --------------------------------------------------------------------------------------- declared


def test_every_family_metric_is_declared():
    from rolescape.metrics.declared import HEADLINES, declaration, headline_eligible, undeclared
    from rolescape.metrics.registry import FAMILIES
    from rolescape.schemas.tasks import TASKS

    names = []
    for fam_name in FAMILIES.names():
        fam = FAMILIES.get(fam_name)()
        for t in TASKS:
            names.extend(fam.metric_names(t))
    assert undeclared(names) == []
    for task, prefs in HEADLINES.items():
        for m in prefs:
            assert headline_eligible(task, m), (task, m)
    # the copy-sensitive v1 forms are declared but never headlines
    for m in ("effnet_i", "clip_i", "dlib_face_sim", "style_acc"):
        assert declaration(m) is not None and not headline_eligible("roleplay", m)
    assert not declaration("copy_rate").higher_is_better
