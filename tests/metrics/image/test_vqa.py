"""BLIP-VQA on a tiny random BlipForQuestionAnswering: our batched answers equal `model.generate` one
question at a time, the release's weighting (duplicates, lowercase exact match) is reproduced, and MC
rows are answered by constrained choice."""

from __future__ import annotations

from pathlib import Path

import pytest

from rolescape.metrics.base import ItemBatch, ScoreContext
from rolescape.schemas.predictions import Prediction
from tests.metrics.image import open_rgb, png, write_images

torch = pytest.importorskip("torch")

QUESTIONS = [
    "is the kite red?",
    "what color is the sky?",
    "is tess holding a kite?",
    "what is the girl wearing on the left?",
    "is the cat sitting on the hill?",
]


@pytest.fixture
def blip_ref(tiny_blip_dir: Path):
    """The plain library path, one question at a time, as the release's VQAScorer."""
    from transformers import AutoImageProcessor, AutoTokenizer, BlipForQuestionAnswering

    model = BlipForQuestionAnswering.from_pretrained(tiny_blip_dir).eval()
    ip = AutoImageProcessor.from_pretrained(tiny_blip_dir, backend="pil")
    tok = AutoTokenizer.from_pretrained(tiny_blip_dir)

    def answer(img, question, max_length=50):
        px = ip(images=img, return_tensors="pt")["pixel_values"]
        enc = tok(question, return_tensors="pt")
        with torch.no_grad():
            out = model.generate(
                input_ids=enc["input_ids"],
                attention_mask=enc["attention_mask"],
                pixel_values=px,
                max_length=max_length,
            )
        return tok.decode(out[0], skip_special_tokens=True).strip()

    def choice_lp(img, question, choice):
        px = ip(images=img, return_tensors="pt")["pixel_values"]
        q_ids = tok(question, return_tensors="pt")["input_ids"]
        dec = tok(choice, return_tensors="pt")["input_ids"].clone()
        dec[0, 0] = model.decoder_start_token_id
        with torch.no_grad():
            img_emb = model.vision_model(pixel_values=px)[0]
            q = model.text_encoder(input_ids=q_ids, encoder_hidden_states=img_emb, return_dict=False)[0]
            logits = model.text_decoder(input_ids=dec, encoder_hidden_states=q, return_dict=True).logits
        lp = torch.log_softmax(logits[0, :-1].float(), dim=-1)
        return float(sum(lp[t, dec[0, t + 1]] for t in range(dec.shape[1] - 1)))

    return answer, choice_lp


def _ctx(tmp_path: Path, blip_dir: Path, batch_size: int = 3) -> ScoreContext:
    return ScoreContext(
        data=None,
        profile="paper",
        batch_size=batch_size,
        model_paths={"blip_vqa": str(blip_dir)},
        cache_dir=tmp_path / "cache",
        predictions_root=tmp_path / "preds",
    )


def test_batched_answers_equal_generate_one_question_at_a_time(tmp_path, tiny_blip_dir, blip_ref):
    from rolescape.metrics.encoders import get_encoder

    answer, _ = blip_ref
    imgs = [open_rgb(png(40 + 8 * i, 36, 50 + i)) for i in range(3)]
    ctx = _ctx(tmp_path, tiny_blip_dir, batch_size=4)
    blip = get_encoder("blip_vqa", ctx)
    assert ctx.models["blip_vqa"].source.startswith("local:")
    embeds = blip.image_embeds([blip.prepare(im) for im in imgs])
    pairs = [(i, q) for i in range(3) for q in QUESTIONS] + [(2, QUESTIONS[0])]
    got = blip.answer(embeds, pairs)
    want = [answer(imgs[i], q) for i, q in pairs]
    assert got == want
    assert any(w for w in want)  # the tiny model does say something


def _w(q, a, w, **kw):
    return {
        "question": q,
        "type": kw.pop("type", "yes_no"),
        "category": "c",
        "answer": a,
        "weight": w,
        "is_negative": False,
        **kw,
    }


def test_paper_vqa_and_vqa_hand_computed(tmp_path, tiny_blip_dir, blip_ref):
    from rolescape.metrics.image.vqa import VQAFamily

    answer, choice_lp = blip_ref
    gens = {f"k{i}.png": png(48, 40 + 4 * i, 70 + i, mode="RGBA", alpha_hole=True) for i in range(3)}
    write_images(tmp_path / "preds", gens)
    imgs = {k: open_rgb(v) for k, v in gens.items()}
    q1, q2, q3, q4 = QUESTIONS[0], QUESTIONS[1], QUESTIONS[2], QUESTIONS[3]
    ref_img = imgs["k0.png"]
    a1, a3 = answer(ref_img, q1), answer(ref_img, q3)
    assert a1 and a3
    raw = [
        _w(q1, a1, 1.0),
        _w(q1, a1, 1.0),  # a duplicate row counts again (the release's raw lists)
        _w(q2, "zzz never said", 0.5),
        _w(q3, a3.upper(), 0.8),  # lowercase comparison
        _w("", "yes", 5.0),  # skipped: no question
        _w(q4, "", 3.0),  # skipped: no answer
    ]
    choices = ["red", "blue", "green kite"]
    audited = [
        _w(q1, f"  {a1} ", 1.0),  # stripped
        _w(q4, "red", 0.6, type="multiple_choice", choices=choices),
        _w(q2, "zzz never said", 0.4, type="open_ended"),
    ]
    items = [
        {
            "id": "t2i_vqa/tess/0",
            "task": "t2i_vqa",
            "character": "tess",
            "item": "0",
            "prompt": "tess",
            "vqa_questions_raw": raw,
            "vqa_questions": audited,
        },
        {
            "id": "t2i_vqa/tess/1",
            "task": "t2i_vqa",
            "character": "tess",
            "item": "1",
            "prompt": "tess and a kite",
            "vqa_questions_raw": [],
            "vqa_questions": [],
        },
    ]
    preds = [
        Prediction(id=items[0]["id"], images=["k0.png", "k1.png"]),
        Prediction(id=items[1]["id"], image="k2.png"),
    ]
    ctx = _ctx(tmp_path, tiny_blip_dir, batch_size=2)
    fam = VQAFamily()
    fam.prepare(ctx, ["t2i_vqa"])
    out = fam.score(ItemBatch("t2i_vqa", items, preds), ctx)

    def paper(img):
        num = den = 0.0
        for r in raw:
            if not r["question"] or not r["answer"]:
                continue
            hit = answer(img, r["question"]).lower() == r["answer"].lower()
            num += r["weight"] * hit
            den += r["weight"]
        return num / den

    def aud(img):
        lps = [choice_lp(img, q4, c) for c in choices]
        chosen = choices[lps.index(max(lps))]
        hits = [
            (1.0, answer(img, q1).lower() == a1.lower()),
            (0.6, chosen == "red"),
            (0.4, answer(img, q2).lower() == "zzz never said"),
        ]
        return sum(w * h for w, h in hits) / 2.0

    assert paper(ref_img) == pytest.approx((1 + 1 + 0.8) / (1 + 1 + 0.5 + 0.8))
    assert out[0]["paper_vqa"] == pytest.approx((paper(imgs["k0.png"]) + paper(imgs["k1.png"])) / 2, abs=1e-9)
    assert out[0]["vqa"] == pytest.approx((aud(imgs["k0.png"]) + aud(imgs["k1.png"])) / 2, abs=1e-9)

    # no questions: the release's fallback question and keyword scoring
    fb = answer(imgs["k2.png"], "Does this image accurately depict: tess and a kite?", max_length=10).lower()
    want = (
        1.0
        if any(w in fb for w in ("yes", "true", "correct", "accurate", "depicts", "shows"))
        else (
            0.0 if any(w in fb for w in ("no", "false", "incorrect", "not", "doesn't", "does not")) else 0.5
        )
    )
    assert out[1]["paper_vqa"] == want
    assert out[1]["vqa"] is None


def test_choice_logprobs_batched_equal_one_at_a_time(tmp_path, tiny_blip_dir, blip_ref):
    from rolescape.metrics.encoders import get_encoder

    _, choice_lp = blip_ref
    img = open_rgb(png(40, 40, 91))
    blip = get_encoder("blip_vqa", _ctx(tmp_path, tiny_blip_dir))
    emb = blip.image_embeds([blip.prepare(img)])
    choices = ["red", "blue", "green kite on the hill", "no"]
    got = blip.choice_logprobs(emb, 0, QUESTIONS[1], choices)
    want = [choice_lp(img, QUESTIONS[1], c) for c in choices]
    assert got == pytest.approx(want, abs=1e-4)


def test_weighting_functions_on_given_answers():
    from rolescape.metrics.image.vqa import audited_weighted_match, fallback_score, paper_weighted_match

    rows = [_w("a?", "Yes", 1.0), _w("a?", "Yes", 1.0), _w("b?", "red", 0.5), _w("c?", "two cats", 0.25)]
    answers = {"a?": "yes", "b?": "blue", "c?": "two cats"}
    assert paper_weighted_match(rows, answers) == pytest.approx((1 + 1 + 0.25) / 2.75)
    assert paper_weighted_match([_w("a?", "yes", 0.0)], {"a?": "yes"}) == 0.0  # Σw = 0 -> 0, as released
    mc = _w("m?", "Blue", 0.5, type="multiple_choice", choices=["red", "blue"])
    assert audited_weighted_match([rows[0], mc], {"a?": " yes "}, {"m?": "blue"}) == pytest.approx(1.0)
    assert audited_weighted_match([mc], {}, {"m?": "red"}) == 0.0
    assert audited_weighted_match([], {}, {}) is None
    # the release's substring tests: "no" inside "not sure" -> 0, "unknown" contains "no" too
    assert (
        fallback_score("Yes") == 1.0 and fallback_score("nothing") == 0.0 and fallback_score("maybe") == 0.5
    )
