"""Training methods for any token-based unified model (text head + image-code head) over one backbone.

`TokenBackbone` is the small interface a model provides (embeddings, a causal stack, two heads, an
image codec). `TokenUnifiedAdapter` builds sequences ``[prompt][text ... EOS pad*][BOI][image codes]``
from it and implements sampling, teacher-forced log-probs and the SFT losses of `TrainableAdapter`.
Sampling and scoring call the same `_guided_logp`, so log-probs agree to float rounding.

CFG (image tokens only): the unconditional sequence replaces every prompt token after BOS with the
pad id (images too), keeps the sampled text, and the logits are ``l_u + w (l_c - l_u)``, then / tau.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.nn.functional as F

from rolescape.trainer.protocol import (
    CfgMode,
    Prompt,
    Rollouts,
    SampleSpec,
    SFTExample,
    TokenLogProbs,
)


class TextTokenizer(Protocol):
    bos_id: int
    eos_id: int
    pad_id: int
    boi_id: int

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int]) -> str: ...


class TokenBackbone(Protocol):
    """What a token-based unified model provides; see `rolescape.trainer.toy.ToyBackbone`."""

    tokenizer: TextTokenizer
    num_image_tokens: int  # codes per image
    module: torch.nn.Module

    def embed_text(self, ids: torch.Tensor) -> torch.Tensor: ...  # (B, L) -> (B, L, d)

    def embed_image_codes(self, codes: torch.Tensor) -> torch.Tensor: ...  # (B, N) -> (B, N, d)

    def embed_input_image(self, image: Any) -> torch.Tensor: ...  # PIL -> (L, d), understanding path

    def input_image_length(self, image: Any) -> int: ...

    def hidden(self, embeds: torch.Tensor, past: Any = None) -> tuple[torch.Tensor, Any]:
        """Causal stack on new positions `embeds` (B, L, d) after `past`; returns (hidden, new past)."""
        ...

    def text_logits(self, h: torch.Tensor) -> torch.Tensor: ...

    def image_logits(self, h: torch.Tensor) -> torch.Tensor: ...

    def encode_image(self, image: Any) -> torch.Tensor: ...  # PIL -> (N,) codes

    def decode_images(self, codes: torch.Tensor) -> list[Any]: ...  # (B, N) -> PIL images


def _entropy(logp: torch.Tensor) -> torch.Tensor:
    return -(logp.exp() * logp).sum(-1)


class TokenUnifiedAdapter:
    """`TrainableAdapter` over a `TokenBackbone` (subclass and set `name` / `model_id`)."""

    name = "token-unified"
    model_id = ""
    max_prompt_tokens = 256

    def __init__(self, backbone: TokenBackbone):
        self.backbone = backbone
        self.peft_applied = False

    # -- protocol plumbing --------------------------------------------------------------------------------
    def module(self) -> torch.nn.Module:
        return self.backbone.module

    def set_module(self, m: torch.nn.Module) -> None:
        """Swap in the wrapped module (peft / accelerate); the backbone then runs through it."""
        self.backbone.module = m

    @property
    def device(self) -> torch.device:
        return next(self.module().parameters()).device

    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        return [p for p in self.module().parameters() if p.requires_grad]

    def lora_targets(self) -> str:
        return r".*\.(q|k|v|o)_proj"

    def lora_keep_trainable(self) -> list[str]:
        """Module names kept fully trainable next to LoRA (the image head)."""
        return []

    def reference(self) -> contextlib.AbstractContextManager[None]:
        m = self.module()
        inner: Any = getattr(m, "module", m)  # DDP wrapper
        if hasattr(inner, "disable_adapter"):
            return inner.disable_adapter()  # type: ignore[no-any-return]
        raise RuntimeError("no LoRA adapter: the reference policy needs a frozen copy (beta > 0, full FT)")

    def fingerprint(self) -> dict[str, Any]:
        return {"adapter": self.name}

    def save(self, path: Path) -> None:
        raise NotImplementedError

    # -- prompts ------------------------------------------------------------------------------------------
    def _prompt_embeds(self, prompt: Prompt, uncond: bool = False) -> torch.Tensor:
        """(P, d) embeddings of BOS + parts; `uncond` swaps every part for pad tokens of equal length."""
        bb, tok, dev = self.backbone, self.backbone.tokenizer, self.device
        pieces: list[torch.Tensor] = [bb.embed_text(torch.tensor([[tok.bos_id]], device=dev))[0]]
        for part in prompt:
            if isinstance(part, str):
                ids = tok.encode(part)
                if uncond:
                    ids = [tok.pad_id] * len(ids)
                if ids:
                    pieces.append(bb.embed_text(torch.tensor([ids], device=dev))[0])
            else:
                if uncond:
                    n = bb.input_image_length(part)
                    pieces.append(bb.embed_text(torch.full((1, n), tok.pad_id, device=dev))[0])
                else:
                    pieces.append(bb.embed_input_image(part))
        emb = torch.cat(pieces, 0)
        if emb.shape[0] > self.max_prompt_tokens:  # keep BOS and the end (the question)
            emb = torch.cat([emb[:1], emb[-(self.max_prompt_tokens - 1) :]], 0)
        return emb

    # -- one shared log-prob function -----------------------------------------------------------------------
    @staticmethod
    def _guided_logp(lc: torch.Tensor, lu: torch.Tensor | None, w: float, tau: float) -> torch.Tensor:
        logits = lc if lu is None else lu + w * (lc - lu)
        return F.log_softmax(logits.float() / tau, dim=-1)

    # -- sampling -----------------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, prompt: Prompt, group_size: int, spec: SampleSpec, generator: Any = None) -> Rollouts:
        bb, tok, dev, G = self.backbone, self.backbone.tokenizer, self.device, group_size
        want_img = "image" in spec.modalities
        cfg = want_img and spec.guidance != 1.0
        cond = self._prompt_embeds(prompt).unsqueeze(0).expand(G, -1, -1)
        if cfg:
            unc = self._prompt_embeds(prompt, uncond=True).unsqueeze(0).expand(G, -1, -1)
            x = torch.cat([cond, unc], 0)
        else:
            x = cond
        h, past = bb.hidden(x)
        last = h[:, -1]

        def pick(logp: torch.Tensor) -> torch.Tensor:
            if spec.greedy:
                return logp.argmax(-1)
            return torch.multinomial(logp.exp(), 1, generator=generator).squeeze(-1)

        text_ids: list[torch.Tensor] = []
        text_lp: list[torch.Tensor] = []
        text_mask: list[torch.Tensor] = []
        if "text" in spec.modalities:
            done = torch.zeros(G, dtype=torch.bool, device=dev)
            for _ in range(spec.max_text_tokens):
                logp = self._guided_logp(bb.text_logits(last[:G]), None, 1.0, spec.temperature)
                t = pick(logp)
                t = torch.where(done, torch.full_like(t, tok.pad_id), t)
                text_lp.append(
                    torch.where(done, torch.zeros(G, device=dev), logp.gather(1, t[:, None])[:, 0])
                )
                text_mask.append(~done)
                text_ids.append(t)
                done = done | (t == tok.eos_id)
                inp = t.repeat(2) if cfg else t
                h, past = bb.hidden(bb.embed_text(inp[:, None]), past)
                last = h[:, -1]
                if bool(done.all()):
                    break
        img_ids: list[torch.Tensor] = []
        img_lp: list[torch.Tensor] = []
        if want_img:
            boi = torch.full((x.shape[0], 1), tok.boi_id, device=dev)
            h, past = bb.hidden(bb.embed_text(boi), past)
            last = h[:, -1]
            for k in range(bb.num_image_tokens):
                lc = bb.image_logits(last[:G])
                lu = bb.image_logits(last[G:]) if cfg else None
                logp = self._guided_logp(lc, lu, spec.guidance, spec.temperature)
                c = pick(logp)
                img_ids.append(c)
                img_lp.append(logp.gather(1, c[:, None])[:, 0])
                if k + 1 < bb.num_image_tokens:
                    inp = c.repeat(2) if cfg else c
                    h, past = bb.hidden(bb.embed_image_codes(inp[:, None]), past)
                    last = h[:, -1]

        def stack(xs: list[torch.Tensor], dtype: torch.dtype) -> torch.Tensor:
            return torch.stack(xs, 1) if xs else torch.zeros((G, 0), dtype=dtype, device=dev)

        return Rollouts(
            prompt=list(prompt),
            spec=spec,
            text_ids=stack(text_ids, torch.long),
            text_mask=stack(text_mask, torch.bool),
            image_ids=stack(img_ids, torch.long),
            logprobs_text=stack(text_lp, torch.float32),
            logprobs_image=stack(img_lp, torch.float32),
        )

    # -- teacher forcing ----------------------------------------------------------------------------------
    def _sequence(
        self, prompt_emb: torch.Tensor, text_ids: torch.Tensor, codes: torch.Tensor | None
    ) -> tuple[torch.Tensor, int, int]:
        """Embeddings of [prompt][text][BOI][codes]; returns (embeds, first text pred pos, first image pred pos)."""
        bb, tok, dev = self.backbone, self.backbone.tokenizer, self.device
        parts = [prompt_emb]
        if text_ids.numel():
            parts.append(bb.embed_text(text_ids[None])[0])
        P, T = prompt_emb.shape[0], int(text_ids.numel())
        if codes is not None and codes.numel():
            parts.append(bb.embed_text(torch.tensor([[tok.boi_id]], device=dev))[0])
            parts.append(bb.embed_image_codes(codes[None])[0])
        return torch.cat(parts, 0), P - 1, P + T

    def _forward_rows(self, rows: list[torch.Tensor]) -> torch.Tensor:
        """Right-pad rows of embeddings (causal, so padding after a row's end changes nothing) and run."""
        L = max(r.shape[0] for r in rows)
        x = torch.stack([F.pad(r, (0, 0, 0, L - r.shape[0])) for r in rows], 0)
        h, _ = self.backbone.hidden(x)
        return h

    def logprobs(self, rollouts: Rollouts, cfg_mode: CfgMode = "consistent") -> TokenLogProbs:
        spec, G = rollouts.spec, rollouts.group_size
        T, N = rollouts.text_ids.shape[1], rollouts.image_ids.shape[1]
        w = spec.guidance if cfg_mode == "consistent" else 1.0
        cfg = N > 0 and w != 1.0
        pc = self._prompt_embeds(rollouts.prompt)
        rows = [
            self._sequence(pc, rollouts.text_ids[i], rollouts.image_ids[i] if N else None) for i in range(G)
        ]
        P0, I0 = rows[0][1], rows[0][2]
        if cfg:
            pu = self._prompt_embeds(rollouts.prompt, uncond=True)
            rows += [self._sequence(pu, rollouts.text_ids[i], rollouts.image_ids[i]) for i in range(G)]
        h = self._forward_rows([r[0] for r in rows])
        bb = self.backbone
        lp_t = lp_i = torch.zeros((G, 0), device=h.device)
        ent_t = ent_i = lp_t
        if T:
            logp = self._guided_logp(bb.text_logits(h[:G, P0 : P0 + T]), None, 1.0, spec.temperature)
            lp_t = logp.gather(-1, rollouts.text_ids[..., None])[..., 0]
            ent_t = _entropy(logp)
        if N:
            lc = bb.image_logits(h[:G, I0 : I0 + N])
            lu = bb.image_logits(h[G:, I0 : I0 + N]) if cfg else None
            logp = self._guided_logp(lc, lu, w, spec.temperature)
            lp_i = logp.gather(-1, rollouts.image_ids[..., None])[..., 0]
            ent_i = _entropy(logp)
        return TokenLogProbs(
            text=lp_t,
            image=lp_i,
            text_mask=rollouts.text_mask,
            image_mask=torch.ones_like(rollouts.image_ids, dtype=torch.bool),
            entropy_text=ent_t,
            entropy_image=ent_i,
        )

    # -- SFT ----------------------------------------------------------------------------------------------
    def image_codes(self, image: Any) -> torch.Tensor:
        if isinstance(image, torch.Tensor):
            return image.to(self.device).long()
        if isinstance(image, (list, tuple)):
            return torch.tensor(image, device=self.device, dtype=torch.long)
        with torch.no_grad():
            return self.backbone.encode_image(image).to(self.device).long()

    def sft_losses(self, batch: Sequence[SFTExample], drop_prompt: Sequence[bool]) -> dict[str, Any]:
        tok = self.backbone.tokenizer
        rows, metas = [], []
        for ex, drop in zip(batch, drop_prompt, strict=True):
            pe = self._prompt_embeds(ex.prompt, uncond=drop)
            tids = torch.tensor(
                (tok.encode(ex.text) + [tok.eos_id]) if ex.text is not None else [], device=self.device
            ).long()
            codes = self.image_codes(ex.image) if ex.image is not None else None
            emb, t0, i0 = self._sequence(pe, tids, codes)
            rows.append(emb)
            metas.append((t0, tids, i0, codes))
        h = self._forward_rows(rows)
        bb = self.backbone
        t_h, t_y, i_h, i_y = [], [], [], []
        for b, (t0, tids, i0, codes) in enumerate(metas):
            if tids.numel():
                t_h.append(h[b, t0 : t0 + tids.numel()])
                t_y.append(tids)
            if codes is not None and codes.numel():
                i_h.append(h[b, i0 : i0 + codes.numel()])
                i_y.append(codes)
        out: dict[str, Any] = {}
        if t_h:
            y = torch.cat(t_y)
            out["text"] = F.cross_entropy(bb.text_logits(torch.cat(t_h)).float(), y)
            out["n_text"] = int(y.numel())
        if i_h:
            y = torch.cat(i_y)
            out["image"] = F.cross_entropy(bb.image_logits(torch.cat(i_h)).float(), y)
            out["n_image"] = int(y.numel())
        return out

    # -- decoding -----------------------------------------------------------------------------------------
    def decode(self, rollouts: Rollouts) -> list[dict[str, Any]]:
        tok = self.backbone.tokenizer
        out: list[dict[str, Any]] = [{} for _ in range(rollouts.group_size)]
        if rollouts.text_ids.shape[1]:
            for i in range(rollouts.group_size):
                ids = [int(t) for t, m in zip(rollouts.text_ids[i], rollouts.text_mask[i], strict=True) if m]
                if ids and ids[-1] == tok.eos_id:
                    ids = ids[:-1]
                out[i]["text"] = tok.decode(ids)
        if rollouts.image_ids.shape[1]:
            with torch.no_grad():
                for i, im in enumerate(self.backbone.decode_images(rollouts.image_ids)):
                    out[i]["image"] = im
        return out
