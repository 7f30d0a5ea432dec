"""The style-attribution classifier: learns distinct voices, stores and reloads without pickle."""

from __future__ import annotations

import random
import zipfile

import numpy as np
import pytest

from rolescape.metrics.base import ItemBatch, ScoreContext
from rolescape.metrics.text import encoders
from rolescape.metrics.text.style import (
    ARRAYS_FILE,
    META_FILE,
    STYLO_NAMES,
    StyleClassifier,
    StyleConfig,
    StyleFamily,
    evaluate,
    learn_catchphrases,
    stylometric,
    training_corpus,
)
from rolescape.schemas.predictions import Prediction

from .conftest import TinyData

TOPICS = [
    "the rain",
    "my lunch",
    "the old bridge",
    "a lost key",
    "the market",
    "the garden",
    "a letter",
    "the night train",
    "a broken clock",
    "the river",
    "a new hat",
    "the festival",
]


def kitty(rng: random.Random) -> str:
    t = rng.choice(TOPICS)
    return rng.choice(
        [
            f"ooh, {t}? that's so fun nyaa~!",
            f"hehe, {t} smells nice nyaa~",
            f"{t} is mine now, nyaa~! don't tell anyone~",
        ]
    )


def robot(rng: random.Random) -> str:
    t = rng.choice(TOPICS).upper()
    return rng.choice(
        [
            f"BEEP. {t} DETECTED. AFFIRMATIVE.",
            f"PROCESSING {t}. BEEP BOOP. COMPLETE.",
            f"QUERY RECEIVED: {t}. STATUS NOMINAL. BEEP.",
        ]
    )


def scholar(rng: random.Random) -> str:
    t = rng.choice(TOPICS)
    return rng.choice(
        [
            f"Indeed, one must consider {t} with some care; furthermore, its history is rather instructive.",
            f"Regarding {t}, I would venture that the matter is, on balance, more subtle than it appears.",
            f"It is, I believe, a common misconception that {t} is trivial; the literature suggests otherwise.",
        ]
    )


VOICES = {"kitty": kitty, "robot": robot, "scholar": scholar}


def corpus(n: int, seed: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    texts, labels = [], []
    for name, gen in VOICES.items():
        for _ in range(n):
            texts.append(gen(rng))
            labels.append(name)
    return texts, labels


ENC = {"id": "test/hash-encoder", "revision": "1", "dim": 64}


@pytest.fixture(scope="module")
def fitted():
    from .conftest import HashEncoder

    enc = HashEncoder()
    texts, labels = corpus(30, seed=1)
    return enc, StyleClassifier.fit(texts, labels, enc.encode(texts), ENC, StyleConfig(char_min_df=1))


def test_stylometric_features_see_punctuation_and_case():
    loud, calm = stylometric("BEEP. BEEP!"), stylometric("a calm sentence, truly")
    f = dict(zip(STYLO_NAMES, loud, strict=True))
    g = dict(zip(STYLO_NAMES, calm, strict=True))
    assert f["rate_upper"] > g["rate_upper"] and f["rate_excl"] > 0 == g["rate_excl"]
    assert f["frac_caps_words"] == 1.0 and g["rate_comma"] > 0


def test_catchphrases_are_learned_from_the_data():
    texts, labels = corpus(30, seed=2)
    cps = learn_catchphrases(texts, labels, StyleConfig())
    assert "nyaa" in cps and "beep" in cps
    assert "the" not in cps  # shared by every voice


def test_learns_each_voice_above_chance(fitted):
    enc, model = fitted
    texts, labels = corpus(10, seed=99)  # unseen samples
    ev = evaluate(model, texts, labels, enc.encode(texts))
    assert ev["chance"] == pytest.approx(1 / 3)
    assert ev["accuracy"] >= 0.95 and ev["mean_own_p"] > 0.6
    proba = model.predict_proba(["BEEP BOOP. AFFIRMATIVE."], enc.encode(["BEEP BOOP. AFFIRMATIVE."]))
    assert model.classes[int(proba.argmax())] == "robot"
    assert proba.sum() == pytest.approx(1.0)


def test_save_and_reload_bit_identical_without_pickle(fitted, tmp_path):
    enc, model = fitted
    model.save(tmp_path / "a")
    loaded = StyleClassifier.load(tmp_path / "a")
    for name in ("idf", "stylo_mean", "stylo_std", "coef", "intercept"):
        a, b = getattr(model, name), getattr(loaded, name)
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    assert loaded.classes == model.classes and loaded.char_vocab == model.char_vocab
    assert loaded.catchphrases == model.catchphrases and loaded.config == model.config
    texts, _ = corpus(5, seed=7)
    e = enc.encode(texts)
    assert model.predict_proba(texts, e).tobytes() == loaded.predict_proba(texts, e).tobytes()
    # saving the reloaded model gives byte-identical files (no timestamps in the npz)
    loaded.save(tmp_path / "b")
    for f in (ARRAYS_FILE, META_FILE):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()
    # no pickle anywhere: plain .npy members that load with allow_pickle=False
    with zipfile.ZipFile(tmp_path / "a" / ARRAYS_FILE) as z:
        assert all(n.endswith(".npy") for n in z.namelist())
    with np.load(tmp_path / "a" / ARRAYS_FILE, allow_pickle=False) as z:
        assert not any(z[k].dtype.hasobject for k in z.files)


def test_refuses_a_classifier_of_another_version(fitted, tmp_path):
    import json

    from rolescape.errors import InputError

    _, model = fitted
    model.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / META_FILE).read_text())
    meta["version"] = "style-v0"
    (tmp_path / "m" / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(InputError, match="style-v0"):
        StyleClassifier.load(tmp_path / "m")


def tiny_dataset() -> TinyData:
    rows: dict = {("dialogues", "train"): [], ("dialogues", "test"): [], ("scenes", "train"): []}
    rng = random.Random(5)
    for name, gen in VOICES.items():
        for i in range(25):
            rows[("dialogues", "train")].append(
                {"character": name, "split": "train", "index": i, "user_text": "hi", "response": gen(rng)}
            )
        for i in range(6):
            rows[("dialogues", "test")].append(
                {"character": name, "split": "test", "index": i, "user_text": "hi", "response": gen(rng)}
            )
        first = rows[("dialogues", "train")][-25]["response"]
        rows[("scenes", "train")].append(
            {"character": name, "split": "train", "scene_id": "0", "user_text": "hi", "response": first}
        )  # duplicate, dropped
    return TinyData(rows, [{"id": n} for n in VOICES])


def test_training_corpus_dedupes_annotation_scenes():
    texts, labels = training_corpus(tiny_dataset())
    assert len(texts) == len(set(zip(texts, labels, strict=True)))
    assert sorted(set(labels)) == ["kitty", "robot", "scholar"]


def test_family_fits_once_then_reloads_from_cache(tmp_path, monkeypatch, hash_encoder):
    monkeypatch.setattr(encoders, "encoder_for", lambda ctx: hash_encoder)
    data = tiny_dataset()
    items = [
        {"id": "dialogue/robot/0", "character": "robot"},
        {"id": "dialogue/kitty/0", "character": "kitty"},
        {"id": "dialogue/kitty/1", "character": "kitty"},
        {"id": "dialogue/scholar/0", "character": "scholar"},
    ]
    preds = [
        Prediction(id=items[0]["id"], text="BEEP. THE GARDEN DETECTED. AFFIRMATIVE."),
        Prediction(id=items[1]["id"], text="BEEP. QUERY RECEIVED. STATUS NOMINAL."),  # wrong voice
        Prediction(id=items[2]["id"], text="  "),
        Prediction(id=items[3]["id"]),
    ]
    batch = ItemBatch(task="dialogue", items=items, predictions=preds)

    ctx = ScoreContext(data=data, profile="offline", cache_dir=tmp_path)
    fam = StyleFamily(StyleConfig(char_min_df=1))
    fam.prepare(ctx, ["dialogue"])
    first = fam.score(batch, ctx)
    assert first[0]["style_acc"] == 1.0 and first[0]["style_p"] > 0.5
    assert first[1]["style_acc"] == 0.0 and first[1]["style_p"] < 0.3
    # blank response: zero under the plain and the cross-fitted (protocol v2) classifier alike
    assert first[2] == {"style_acc": 0.0, "style_p": 0.0, "style_acc_cf": 0.0, "style_p_cf": 0.0}
    assert first[3] == {
        "style_acc": None,
        "style_p": None,
        "style_acc_cf": None,
        "style_p_cf": None,
    }  # no text
    info = ctx.models["style"]
    assert info.source.startswith("local:") and "held-out accuracy" in info.preprocessing
    assert fam.report["heldout_accuracy"] >= 0.9 and fam.report["chance"] == pytest.approx(1 / 3)
    stored = list((tmp_path / "style").rglob("*.npz"))  # one artefact in the run's ArtifactStore
    assert len(stored) == 1 and info.source == f"local:{stored[0]}"

    def no_fit(*a, **k):
        raise AssertionError("refitted although cached")

    monkeypatch.setattr(StyleClassifier, "fit", no_fit)
    ctx2 = ScoreContext(data=data, profile="offline", cache_dir=tmp_path)
    fam2 = StyleFamily(StyleConfig(char_min_df=1))
    fam2.prepare(ctx2, ["dialogue"])
    assert fam2.score(batch, ctx2) == first
    assert ctx2.models["style"] == info

    # a torn or foreign artefact is ignored (no crash), refitted once and rewritten whole
    monkeypatch.undo()
    monkeypatch.setattr(encoders, "encoder_for", lambda ctx: hash_encoder)
    good = stored[0].read_bytes()
    stored[0].write_bytes(good[: len(good) // 2])
    fits = []
    real_fit = StyleClassifier.fit.__func__

    def counting_fit(cls, *a, **k):
        fits.append(1)
        return real_fit(cls, *a, **k)

    monkeypatch.setattr(StyleClassifier, "fit", classmethod(counting_fit))
    ctx3 = ScoreContext(data=data, profile="offline", cache_dir=tmp_path)
    fam3 = StyleFamily(StyleConfig(char_min_df=1), cross_fit=False)
    fam3.prepare(ctx3, ["dialogue"])
    assert len(fits) == 1 and stored[0].read_bytes() == good
    assert [{k: r[k] for k in ("style_acc", "style_p")} for r in fam3.score(batch, ctx3)] == [
        {k: r[k] for k in ("style_acc", "style_p")} for r in first
    ]


def test_old_layout_style_folders_are_ignored(tmp_path, monkeypatch, hash_encoder):
    """v1 cached classifiers (`style/<key>/style.json` folders) are never read and never crash a run."""
    monkeypatch.setattr(encoders, "encoder_for", lambda ctx: hash_encoder)
    for sub in ("style/0123456789abcdef0123", "style-cf/0123456789abcdef0123"):
        (tmp_path / sub).mkdir(parents=True)
        (tmp_path / sub / META_FILE).write_text('{"version": "style-v1", "classes": "garbage"}')
        (tmp_path / sub / ARRAYS_FILE).write_bytes(b"not a zip")
    ctx = ScoreContext(data=tiny_dataset(), profile="offline", cache_dir=tmp_path)
    fam = StyleFamily(StyleConfig(char_min_df=1), n_folds=3)
    fam.prepare(ctx, ["dialogue"])
    assert fam.report["heldout_accuracy"] >= 0.9
    assert len(list((tmp_path / "style").glob("*/??/*.npz"))) == 1  # the store's layout
    assert len(list((tmp_path / "style-cf").glob("*/??/*.npz"))) == 3
