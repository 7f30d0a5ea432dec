"""`blip_vqa`: BLIP visual question answering (profile `paper`), as the release's VQAScorer (§5.4).

transformers `BlipForQuestionAnswering` `Salesforce/blip-vqa-base` (or `--model blip_vqa=DIR`), the
image processor with the PIL backend (Resize 384x384 bicubic, Rescale, CLIP mean/std) and the BERT
tokenizer. Two operations:

* `answer`: greedy generation, `max_length=50`, decoded with special tokens skipped and stripped -
  what `model.generate(**processor(image, question), max_length=50)` returns, computed with the
  vision tower run once per image (not once per question) and questions batched only with others of
  the same token length, so no padding enters the computation;
* `choose`: constrained choice among given answers, by the decoder's log-likelihood of each choice
  (sum of token log-probabilities including the end token; BLIP's own "rank" VQA inference).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from rolescape.errors import ModelUnavailable
from rolescape.metrics.base import ScoreContext
from rolescape.metrics.encoders.base import (
    autocast,
    dtype_label,
    model_info,
    path_fingerprint,
    precision_of,
    resolve_source,
    unavailable,
)
from rolescape.schemas.results import ModelInfo

HUB_ID = "Salesforce/blip-vqa-base"
MAX_LENGTH = 50


class BlipVQA:
    name = "blip_vqa"

    def __init__(
        self, model: Any, image_processor: Any, tokenizer: Any, info: ModelInfo, device: str, precision: str
    ):
        self.model, self.image_processor, self.tokenizer = model, image_processor, tokenizer
        self.info, self.device, self.precision = info, device, precision
        self.batch_size = 32

    @classmethod
    def load(cls, ctx: ScoreContext) -> BlipVQA:
        try:
            import torch  # noqa: F401
            from transformers import AutoImageProcessor, AutoTokenizer, BlipForQuestionAnswering
        except ImportError as e:
            raise unavailable("blip_vqa", HUB_ID, e, "pip install 'rolescape[metrics]'") from None
        src = resolve_source("blip_vqa", ctx, HUB_ID)
        try:
            model = BlipForQuestionAnswering.from_pretrained(src.location, local_files_only=src.local_only)
            ip = AutoImageProcessor.from_pretrained(
                src.location, local_files_only=src.local_only, backend="pil"
            )
            tok = AutoTokenizer.from_pretrained(src.location, local_files_only=src.local_only)
        except ModelUnavailable:
            raise
        except Exception as e:
            hint = "offline profile: not in the local cache; " if src.kind == "hub" and src.local_only else ""
            raise unavailable("blip_vqa", src.location, e, hint + "give --model blip_vqa=DIR") from None
        precision = precision_of(ctx, "blip_vqa")
        revision = (
            path_fingerprint(src.location)
            if src.kind == "local"
            else getattr(model.config, "_commit_hash", None)
        )
        info = model_info(
            "blip_vqa",
            HUB_ID if src.kind == "hub" else f"transformers:BlipForQuestionAnswering:{src.location}",
            revision,
            dtype_label(precision),
            describe(ip, tok),
            src.label,
        )
        out = cls(model.eval().to(ctx.device), ip, tok, info, ctx.device, precision)
        out.batch_size = max(1, int(ctx.batch_size))
        return out

    @classmethod
    def from_model(cls, model: Any, image_processor: Any, tokenizer: Any, device: str = "cpu") -> BlipVQA:
        info = model_info(
            "blip_vqa", "in-memory", None, "fp32", describe(image_processor, tokenizer), "local:<memory>"
        )
        return cls(model.eval().to(device), image_processor, tokenizer, info, device, "fp32")

    def model_infos(self) -> list[ModelInfo]:
        return [self.info]

    # ------------------------------------------------------------------------------------------ image
    def prepare(self, img: Any) -> Any:
        return self.image_processor(images=img, return_tensors="pt")["pixel_values"][0]

    def image_embeds(self, pixels: Sequence[Any]) -> Any:
        """Vision-tower outputs (B, tokens, dim) for prepared images, on the model's device."""
        import torch

        out = []
        with torch.inference_mode(), autocast(self.device, self.precision):
            for s in range(0, len(pixels), self.batch_size):
                x = torch.stack(list(pixels[s : s + self.batch_size])).to(self.device)
                out.append(self.model.vision_model(pixel_values=x)[0])
        return torch.cat(out, dim=0)

    # --------------------------------------------------------------------------------------- question
    def _question_embeds(self, img_embeds: Any, ids: Any) -> Any:
        import torch

        img_mask = torch.ones(img_embeds.shape[:-1], dtype=torch.long, device=img_embeds.device)
        return self.model.text_encoder(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            encoder_hidden_states=img_embeds,
            encoder_attention_mask=img_mask,
            return_dict=False,
        )[0]

    def _tokens(self, text: str) -> list[int]:
        return list(self.tokenizer(text)["input_ids"])

    def answer(
        self, image_embeds: Any, pairs: Sequence[tuple[int, str]], max_length: int = MAX_LENGTH
    ) -> list[str]:
        """Greedy answers for (row of image_embeds, question) pairs, in order."""
        import torch

        toks = [self._tokens(q) for _, q in pairs]
        groups: dict[int, list[int]] = defaultdict(list)
        for i, t in enumerate(toks):
            groups[len(t)].append(i)
        out: list[str] = [""] * len(pairs)
        tcfg = self.model.config.text_config
        with torch.inference_mode(), autocast(self.device, self.precision):
            for _length, idx in sorted(groups.items()):
                for s in range(0, len(idx), self.batch_size):
                    part = idx[s : s + self.batch_size]
                    ids = torch.tensor([toks[i] for i in part], dtype=torch.long, device=self.device)
                    rows = torch.tensor(
                        [pairs[i][0] for i in part], dtype=torch.long, device=image_embeds.device
                    )
                    q = self._question_embeds(image_embeds.index_select(0, rows), ids)
                    q_mask = torch.ones(q.shape[:-1], dtype=torch.long, device=q.device)
                    bos = torch.full((q.shape[0], 1), self.model.decoder_start_token_id, device=q.device)
                    gen = self.model.text_decoder.generate(
                        input_ids=bos,
                        eos_token_id=tcfg.sep_token_id,
                        pad_token_id=tcfg.pad_token_id,
                        encoder_hidden_states=q,
                        encoder_attention_mask=q_mask,
                        max_length=max_length,
                    )
                    texts = self.tokenizer.batch_decode(gen, skip_special_tokens=True)
                    for i, t in zip(part, texts, strict=True):
                        out[i] = t.strip()
        return out

    def choice_logprobs(
        self, image_embeds: Any, row: int, question: str, choices: Sequence[str]
    ) -> list[float]:
        """Sum of decoder log-probabilities of each choice (its tokens and the end token)."""
        import torch

        with torch.inference_mode(), autocast(self.device, self.precision):
            ids = torch.tensor([self._tokens(question)], dtype=torch.long, device=self.device)
            q = self._question_embeds(image_embeds[row : row + 1], ids)
            seqs = []
            for c in choices:
                t = self._tokens(str(c))
                t[0] = self.model.decoder_start_token_id  # [CLS] -> the decoder's start token, as BLIP
                seqs.append(t)
            width = max(len(t) for t in seqs)
            pad = self.model.config.text_config.pad_token_id
            dec = torch.full((len(seqs), width), pad, dtype=torch.long, device=self.device)
            mask = torch.zeros_like(dec)
            for i, t in enumerate(seqs):
                dec[i, : len(t)] = torch.tensor(t, device=self.device)
                mask[i, : len(t)] = 1
            qs = q.expand(len(seqs), -1, -1)
            q_mask = torch.ones(qs.shape[:-1], dtype=torch.long, device=qs.device)
            logits = self.model.text_decoder(
                input_ids=dec,
                attention_mask=mask,
                encoder_hidden_states=qs,
                encoder_attention_mask=q_mask,
                return_dict=True,
            ).logits.float()
            logp = torch.log_softmax(logits[:, :-1, :], dim=-1)
            target = dec[:, 1:]
            tok_lp = logp.gather(-1, target.unsqueeze(-1)).squeeze(-1) * mask[:, 1:]
            return [float(x) for x in tok_lp.sum(dim=1).cpu()]


def describe(ip: Any, tok: Any) -> str:
    cfg = ip.to_dict()
    size = cfg.get("size")
    size = f"{size.get('height')}x{size.get('width')}" if isinstance(size, dict) else size
    return (
        f"transformers {type(ip).__name__}: Resize({size}, resample={cfg.get('resample')}) "
        f"Rescale Normalize(mean={tuple(round(float(x), 6) for x in ip.image_mean)}, "
        f"std={tuple(round(float(x), 6) for x in ip.image_std)}); {type(tok).__name__}; "
        f"greedy max_length={MAX_LENGTH}, lowercase exact match; MC by decoder log-likelihood"
    )
