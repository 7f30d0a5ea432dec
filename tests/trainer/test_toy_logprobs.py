"""Sampling-time log-probs equal the teacher-forced recompute, with and without CFG."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from rolescape.trainer.grpo_loss import per_token_loss
from rolescape.trainer.protocol import SampleSpec, TrainableAdapter
from rolescape.trainer.toy import ToyAdapter


@pytest.fixture(scope="module")
def toy() -> ToyAdapter:
    a = ToyAdapter.load("tiny", seed=3, d=32)
    a.module().eval()
    return a


def test_toy_is_a_trainable_adapter(toy: ToyAdapter) -> None:
    assert isinstance(toy, TrainableAdapter)


@pytest.mark.parametrize("guidance", [1.0, 3.0])
@pytest.mark.parametrize("modalities", [("text",), ("image",), ("text", "image")])
def test_sample_logprobs_match_teacher_forcing(
    toy: ToyAdapter, guidance: float, modalities: tuple[str, ...]
) -> None:
    g = torch.Generator().manual_seed(0)
    spec = SampleSpec(modalities=modalities, max_text_tokens=6, guidance=guidance, temperature=0.9)  # type: ignore[arg-type]
    ro = toy.sample(["Hi Keeper", Image.new("RGB", (8, 8), "red"), " ok?"], 4, spec, generator=g)
    with torch.no_grad():
        tf = toy.logprobs(ro)
    if "text" in modalities:
        m = ro.text_mask
        assert m.any()
        assert torch.allclose(tf.text[m], ro.logprobs_text[m], atol=1e-5)
    if "image" in modalities:
        assert ro.image_ids.shape == (4, 16)
        assert torch.allclose(tf.image, ro.logprobs_image, atol=1e-5)
        tl = per_token_loss(tf.image, ro.logprobs_image, torch.tensor([1.0, -1.0, 0.5, 0.0]))
        assert torch.allclose(tl.ratio, torch.ones_like(tl.ratio), atol=1e-5)
        assert not bool(tl.clipped.any())


def test_conditional_only_scoring_differs_under_guidance(toy: ToyAdapter) -> None:
    spec = SampleSpec(modalities=("image",), guidance=5.0)
    ro = toy.sample(["a red lamp"], 2, spec, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        cons = toy.logprobs(ro, "consistent").image
        cond = toy.logprobs(ro, "conditional").image
    assert torch.allclose(cons, ro.logprobs_image, atol=1e-5)
    assert not torch.allclose(cond, ro.logprobs_image, atol=1e-3)  # the T2I-R1 mismatch, visible


def test_palette_codec_round_trip(toy: ToyAdapter) -> None:
    codes = torch.arange(16) * 4
    img = toy.backbone.decode_images(codes[None])[0]
    assert torch.equal(toy.backbone.encode_image(img), codes)


@pytest.mark.parametrize("loss_type", ["grpo", "bnpo", "dr_grpo", "dapo"])
def test_micro_batch_of_two_groups_normalised_as_trl(toy: ToyAdapter, loss_type: str) -> None:
    """Two prompt groups of different token counts in one micro-batch: the loop's loss equals trl's
    formula over the whole batch of 2G completions (bnpo / dapo: one token sum over both groups;
    grpo: the mean of all 2G sequence means; dr_grpo: the sum over 2G * max_len)."""
    from rolescape.trainer.config import GRPOConfig
    from rolescape.trainer.grpo import _Group, micro_batch_loss

    T = 6
    spec = SampleSpec(modalities=("text",), max_text_tokens=T)
    cfg = GRPOConfig.model_validate(
        {"data": {"path": ".", "character": "x"}, "out": ".", "group_size": 4, "max_text_tokens": T}
        | {"loss_type": loss_type}
    )
    groups, rows = [], []
    for k, prompt in enumerate(["Hi Keeper", "A much longer question for the keeper?"]):
        ro = toy.sample([prompt], 4, spec, generator=torch.Generator().manual_seed(10 + k))
        for i in range(4):  # different token counts per sequence and per group
            ro.text_mask[i, 1 + i + k :] = False
        adv = torch.tensor([1.0, -0.5, 2.0, 0.75]) * (k + 1)  # not centred: every term counts
        groups.append(_Group(None, ro, adv, adv, {}))  # type: ignore[arg-type]
        with torch.no_grad():
            lp = toy.logprobs(ro).text
        rows.append((per_token_loss(lp, ro.logprobs_text, adv).loss, ro.text_mask.float()))
    loss = torch.cat([r[0] for r in rows])
    mask = torch.cat([r[1] for r in rows])
    n_global = float(mask.sum()) * 1.5  # dapo divides by the global batch's count (other micro-batches too)
    want = {
        "grpo": ((loss * mask).sum(-1) / mask.sum(-1)).mean(),
        "bnpo": (loss * mask).sum() / mask.sum(),
        "dr_grpo": (loss * mask).sum() / (8 * T),
        "dapo": (loss * mask).sum() / n_global,
    }[loss_type]
    with torch.no_grad():
        got = micro_batch_loss(toy, groups, cfg, {"text": n_global, "image": 0.0})
    assert got.item() == pytest.approx(want.item(), rel=1e-5, abs=1e-7)
    assert mask[:4].sum() != mask[4:].sum()  # the two groups really differ in length
