"""GRPO loss math against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from rolescape.trainer.grpo_loss import aggregate, combine_rewards, group_advantages, per_token_loss


def test_advantages_hand_computed() -> None:
    r = torch.tensor([1.0, 2.0, 3.0, 6.0])
    # mean 3, sample std sqrt((4+1+0+9)/3) = sqrt(14/3)
    sd = math.sqrt(14 / 3)
    adv = group_advantages(r)
    want = torch.tensor([-2, -1, 0, 3]) / (sd + 1e-4)
    assert torch.allclose(adv, want, atol=1e-6)
    assert torch.allclose(group_advantages(r, scale=False), torch.tensor([-2.0, -1.0, 0.0, 3.0]))


def test_zero_std_group_zero_advantage_and_zero_gradient() -> None:
    adv = group_advantages(torch.tensor([0.7, 0.7, 0.7]))
    assert torch.equal(adv, torch.zeros(3))
    logp = torch.randn(3, 5, requires_grad=True)
    tl = per_token_loss(logp, logp.detach(), adv, ref_logp=None, beta=0.0)
    loss = aggregate(tl.loss, torch.ones(3, 5, dtype=torch.bool), "grpo")
    loss.backward()
    assert logp.grad is not None and torch.count_nonzero(logp.grad) == 0


def test_none_rewards_ignored() -> None:
    r = combine_rewards({"a": [1.0, None, 0.0, None], "b": [None, 2.0, 1.0, None]}, {"a": 0.5, "b": 2.0})
    assert r[:3].tolist() == pytest.approx([0.5, 4.0, 2.0])
    assert math.isnan(float(r[3]))  # no component applies
    adv = group_advantages(r)
    assert float(adv[3]) == 0.0
    # the NaN completion is left out of the group statistics
    assert torch.allclose(adv[:3], group_advantages(r[:3]))


def test_zscore_components() -> None:
    r = combine_rewards({"a": [0.0, 1.0], "b": [10.0, 30.0]}, {"a": 1.0, "b": 1.0}, zscore=True)
    # each component becomes -1/+1 (population std), so the sum is about -2/+2
    assert r.tolist() == pytest.approx([-2.0, 2.0], abs=1e-3)


def test_kl_zero_when_ref_equals_policy_and_first_ratio_one() -> None:
    logp = torch.log(torch.tensor([[0.2, 0.5], [0.9, 0.1]]))
    tl = per_token_loss(logp, logp, torch.tensor([1.0, -1.0]), ref_logp=logp.clone(), beta=0.1)
    assert torch.equal(tl.kl, torch.zeros(2, 2))
    assert torch.equal(tl.ratio, torch.ones(2, 2))
    assert not bool(tl.clipped.any())
    # loss = -A at ratio 1
    assert torch.allclose(tl.loss, torch.tensor([[-1.0, -1.0], [1.0, 1.0]]))


def test_k3_and_clip_hand_computed() -> None:
    old = torch.zeros(1, 2)
    logp = torch.tensor([[math.log(1.5), math.log(0.5)]])
    ref = torch.tensor([[0.0, 0.0]])
    tl = per_token_loss(logp, old, torch.tensor([2.0]), ref_logp=ref, beta=0.5)
    # token 0: rho=1.5 > 1.2 with A>0 -> clipped to 1.2 -> -2.4; k3 = 1/1.5 - ln(1/1.5) - 1
    k3_0 = 1 / 1.5 + math.log(1.5) - 1
    k3_1 = 1 / 0.5 + math.log(0.5) - 1
    assert tl.loss[0, 0].item() == pytest.approx(-2.4 + 0.5 * k3_0, abs=1e-6)
    # token 1: rho=0.5, min(0.5*2, 0.8*2) = 1.0 -> -1.0 (not "clipped": the unclipped term is chosen)
    assert tl.loss[0, 1].item() == pytest.approx(-1.0 + 0.5 * k3_1, abs=1e-6)
    assert tl.clipped.tolist() == [[True, False]]


def test_loss_type_averaging() -> None:
    loss = torch.tensor([[1.0, 2.0, 3.0, 0.0], [4.0, 0.0, 0.0, 0.0]])
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0]], dtype=torch.bool)
    assert aggregate(loss, mask, "grpo").item() == pytest.approx((2.0 + 4.0) / 2)
    assert aggregate(loss, mask, "bnpo").item() == pytest.approx(10.0 / 4)
    assert aggregate(loss, mask, "dr_grpo", max_len=8).item() == pytest.approx(10.0 / (2 * 8))
    assert aggregate(loss, mask, "dapo", num_items=20).item() == pytest.approx(10.0 / 20)
    assert aggregate(loss, mask, "dapo").item() == pytest.approx(10.0 / 4)
    with pytest.raises(ValueError):
        aggregate(loss, mask, "ppo")
