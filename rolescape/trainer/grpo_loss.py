"""GRPO math, pure functions on tensors: reward combination, group advantages, the clipped surrogate
with a k3 KL term, and trl's four token-averaging rules, per modality.

Semantics follow trl's GRPOTrainer (`loss_type` grpo / bnpo / dr_grpo / dapo), extended to image
tokens: L = lambda_img * agg(L_t over image tokens) + lambda_txt * agg(L_t over text tokens).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import torch

LossType = Literal["grpo", "bnpo", "dr_grpo", "dapo"]
LOSS_TYPES: tuple[str, ...] = ("grpo", "bnpo", "dr_grpo", "dapo")


def combine_rewards(
    components: Mapping[str, Sequence[float | None]],
    weights: Mapping[str, float],
    zscore: bool = False,
) -> torch.Tensor:
    """r_i = sum_k w_k R_k(o_i), ignoring None / NaN components; NaN where every component is None.

    With `zscore`, each component is standardised within the group (over its non-None values) first.
    """
    names = sorted(components)
    n = len(components[names[0]]) if names else 0
    total = torch.zeros(n, dtype=torch.float64)
    seen = torch.zeros(n, dtype=torch.bool)
    for k in names:
        v = torch.tensor([math.nan if x is None else float(x) for x in components[k]], dtype=torch.float64)
        ok = ~torch.isnan(v)
        if zscore and int(ok.sum()) > 0:
            mu = v[ok].mean()
            sd = v[ok].std(unbiased=False) if int(ok.sum()) > 1 else torch.tensor(0.0, dtype=torch.float64)
            v = torch.where(ok, (v - mu) / (sd + 1e-4), v)
        total = total + torch.where(ok, v * float(weights.get(k, 1.0)), torch.zeros_like(v))
        seen |= ok
    return torch.where(seen, total, torch.full_like(total, math.nan)).float()


def group_advantages(rewards: torch.Tensor, scale: bool = True, eps: float = 1e-4) -> torch.Tensor:
    """A_i = (r_i - mean_G r) / (std_G r + eps) over the non-NaN rewards of one group; NaN -> A = 0.

    A group whose rewards are all equal has std 0 and gives A = 0 exactly. `scale=False` is
    Dr. GRPO's unscaled advantage. The std is the sample std (unbiased), as in trl."""
    ok = ~torch.isnan(rewards)
    adv = torch.zeros_like(rewards)
    if int(ok.sum()) == 0:
        return adv
    r = rewards[ok]
    centred = r - r.mean()
    if scale:
        sd = r.std() if r.numel() > 1 else torch.zeros((), dtype=r.dtype)
        centred = centred / (sd + eps)
    adv[ok] = centred
    return adv


@dataclass
class TokenLoss:
    """Per-token loss and the statistics logged beside it (all (G, T))."""

    loss: torch.Tensor
    kl: torch.Tensor
    clipped: torch.Tensor  # bool: the clip was active for this token
    ratio: torch.Tensor


def per_token_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    ref_logp: torch.Tensor | None = None,
    beta: float = 0.0,
    epsilon_low: float = 0.2,
    epsilon_high: float = 0.2,
) -> TokenLoss:
    """L_t = -min(rho A, clip(rho, 1-eps_lo, 1+eps_hi) A) + beta * k3(ref, pi)."""
    ratio = torch.exp(logp - old_logp)
    a = advantages[:, None]
    clipped_ratio = torch.clamp(ratio, 1 - epsilon_low, 1 + epsilon_high)
    loss = -torch.min(ratio * a, clipped_ratio * a)
    if ref_logp is not None and beta != 0.0:
        d = ref_logp - logp
        kl = torch.exp(d) - d - 1
        loss = loss + beta * kl
    elif ref_logp is not None:
        d = ref_logp - logp
        kl = (torch.exp(d) - d - 1).detach()
    else:
        kl = torch.zeros_like(logp)
    clipped = ((ratio < 1 - epsilon_low) & (a < 0)) | ((ratio > 1 + epsilon_high) & (a > 0))
    return TokenLoss(loss=loss, kl=kl, clipped=clipped, ratio=ratio)


def aggregate(
    loss: torch.Tensor,
    mask: torch.Tensor,
    loss_type: str,
    max_len: int | None = None,
    num_items: float | None = None,
) -> torch.Tensor:
    """Token averaging of trl's loss types (mask: (G, T) bool; G sequences of one modality).

    grpo: mean over sequences of each sequence's token mean; bnpo: token sum / `num_items`, the token
    count of the local micro-batch these sequences belong to (defaults to their own count: the token
    mean); dr_grpo: token sum / (G * max_len); dapo: token sum / `num_items`, the token count of the
    whole accumulated (global) batch (defaults to this batch's count, i.e. bnpo)."""
    m = mask.to(loss.dtype)
    if mask.numel() == 0:
        return loss.sum() * 0.0
    if loss_type == "grpo":
        return ((loss * m).sum(-1) / m.sum(-1).clamp(min=1.0)).mean()
    if loss_type == "dr_grpo":
        return (loss * m).sum() / (loss.shape[0] * (max_len or loss.shape[1]))
    if loss_type in ("bnpo", "dapo"):
        denom = num_items if num_items is not None else float(m.sum().clamp(min=1.0))
        return (loss * m).sum() / max(float(denom), 1.0)
    raise ValueError(f"unknown loss_type {loss_type!r} (one of {', '.join(LOSS_TYPES)})")
