"""GRPO speed on the tiny Janus, and one text-only GRPO step against trl's GRPOTrainer.

Part 1 runs `rolescape.trainer.grpo.train_grpo` on the tiny random Janus (the test model) with a
verifiable reward (share of image code 5; for text, the share of the letter "e"), image rollouts (the
character's T2I prompts) and text rollouts (its role-play scenes), and reads steps/s and rollouts/s
from the run's log.jsonl.

Part 2 puts the same tiny random causal LM (a 2-layer Llama, character-level tokenizer built here,
no download) under both trainers, with the same prompts (the tails of the character's role-play
prompts), G, completion length, learning rate, loss type and reward (share of "e"): rolescape's
loop (the model wrapped as a text-only `TokenBackbone`) and trl's `GRPOTrainer` (trl only in this
bench; `pip install trl==1.16.*`). Recorded: the median step time of each and their ratio, and the
loss of trl's first step recomputed by rolescape's loss code on trl's own inputs (its prompts,
completions and rewards, the same initial weights), with the gradients compared too.

    python bench/bench_grpo.py
Writes bench/results/grpo.json. Numbers are recorded, never asserted.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from _shared import build_demo  # noqa: E402 - bench/ is on sys.path

WORK = Path("bench/_work")
CHAR = "keeper-nine"
LETTER = "e"


def letter_share(text: str) -> float:
    return text.count(LETTER) / max(len(text), 1)


class LetterReward:
    """A GroupReward-like reward: share of LETTER in each completion's text (None for images)."""

    weights = {"letter_share": 1.0}

    def __call__(self, completions: list[dict[str, Any]], fields: dict[str, Any]) -> dict[str, list[Any]]:
        return {"letter_share": [letter_share(c["text"]) if "text" in c else None for c in completions]}


def log_speed(out: Path) -> dict[str, Any]:
    recs = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines() if x.strip()]
    steady = recs[1:] or recs  # the first step includes warm-up
    step_s = statistics.median(r["step_s"] for r in steady)
    return {
        "steps": len(recs),
        "step_s_median": round(step_s, 4),
        "steps_per_s": round(1 / step_s, 2),
        "rollouts_per_s": round(statistics.median(r["rollouts_per_s"] for r in steady), 1),
        "reward_first_last": [round(recs[0]["reward"], 3), round(recs[-1]["reward"], 3)],
    }


def tiny_janus(data: Path, tmp: Path, steps: int) -> dict[str, Any]:
    from rolescape.trainer.config import GRPOConfig
    from rolescape.trainer.grpo import train_grpo

    out: dict[str, Any] = {}
    for kind, reward, extra in (
        ("t2i", {"components": {"code_share:5": 1.0}}, {}),
        ("roleplay", {"components": {"name_in_text": 1.0}}, {"max_text_tokens": 24}),
    ):
        cfg = GRPOConfig.model_validate(
            {
                "stage": "grpo",
                "model": {"adapter": "janus", "model": "tiny", "max_prompt_tokens": 48},
                "data": {"path": str(data), "character": CHAR, "kinds": [kind], "limit": 4},
                "out": str(tmp / f"janus-{kind}"),
                "steps": steps,
                "group_size": 8,
                "optim": {"lr": 0.01},
                "reward": reward,
                "save_every": 1000,
                "tensorboard": False,
                **extra,
            }
        )
        t0 = time.perf_counter()
        train_grpo(cfg)
        out[kind] = {**log_speed(cfg.out), "wall_s": round(time.perf_counter() - t0, 1)}
        if kind == "roleplay":
            out[kind]["reward"] = "name_in_text (the character's name in the reply)"
        else:
            out[kind]["reward"] = "code_share:5 (share of image code 5 of 64)"
        print("tiny janus", kind, out[kind], flush=True)
    return out


# -- part 2: the same tiny causal LM under both trainers ---------------------------------------------------------


def char_tokenizer(texts: list[str]) -> Any:
    """A character-level fast tokenizer (BOS added, decoding joins characters), built in memory."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    chars = sorted(set("".join(texts)) | {chr(i) for i in range(32, 127)})
    vocab = {"<pad>": 0, "<bos>": 1, "<eos>": 2, "<unk>": 3, "<boi>": 4}
    for c in chars:
        vocab.setdefault(c, len(vocab))
    tk = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tk.decoder = decoders.Fuse()
    tk.post_processor = processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", 1)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tk, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>", unk_token="<unk>"
    )


class HFTextTokenizer:
    """rolescape's TextTokenizer over the HF tokenizer (ids identical to what trl sees)."""

    def __init__(self, hf: Any):
        self.hf = hf
        self.bos_id, self.eos_id, self.pad_id = hf.bos_token_id, hf.eos_token_id, hf.pad_token_id
        self.boi_id = hf.convert_tokens_to_ids("<boi>")

    def encode(self, text: str) -> list[int]:
        return list(self.hf(text, add_special_tokens=False)["input_ids"])

    def decode(self, ids: Any) -> str:
        return str(self.hf.decode(list(ids), skip_special_tokens=True))


class CausalLMBackbone:
    """A transformers causal LM as a text-only `TokenBackbone` (no image head)."""

    num_image_tokens = 0

    def __init__(self, model: Any, tok: HFTextTokenizer):
        self.module = model
        self.tokenizer = tok

    def _lm(self) -> Any:
        m = self.module
        return m.get_base_model() if hasattr(m, "get_base_model") else m

    def embed_text(self, ids: torch.Tensor) -> torch.Tensor:
        return self._lm().get_input_embeddings()(ids)  # type: ignore[no-any-return]

    def hidden(self, embeds: torch.Tensor, past: Any = None) -> tuple[torch.Tensor, Any]:
        out = self._lm().model(inputs_embeds=embeds, past_key_values=past, use_cache=True)
        return out.last_hidden_state, out.past_key_values

    def text_logits(self, h: torch.Tensor) -> torch.Tensor:
        return self._lm().lm_head(h)  # type: ignore[no-any-return]

    def image_logits(self, h: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError("text-only backbone")

    embed_image_codes = embed_input_image = input_image_length = encode_image = decode_images = image_logits


def text_adapter(model: Any, tok: HFTextTokenizer, max_prompt: int) -> Any:
    from rolescape.trainer.unified import TokenUnifiedAdapter

    class TextAdapter(TokenUnifiedAdapter):
        name = "bench-causal-lm"
        model_id = "tiny random Llama"

        def fingerprint(self) -> dict[str, Any]:
            return {"adapter": self.name}

        def save(self, path: Path) -> None:
            self.backbone.module.save_pretrained(path)

    ad = TextAdapter(CausalLMBackbone(model, tok))
    ad.max_prompt_tokens = max_prompt
    return ad


def tiny_llama(vocab: int, seed: int) -> Any:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=vocab,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=256,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        tie_word_embeddings=False,
    )
    m = LlamaForCausalLM(cfg)
    m.generation_config.pad_token_id = 0
    m.generation_config.eos_token_id = 2
    return m


def prompt_tails(data: Path, n_chars: int) -> list[str]:
    from rolescape.trainer.config import DataConfig
    from rolescape.trainer.data import grpo_prompts

    prompts, _ = grpo_prompts(DataConfig(path=data, character=CHAR, kinds=["roleplay"], prompt_style="chat"))
    return ["".join(p for p in g.prompt if isinstance(p, str))[-n_chars:] for g in prompts]


def versus_trl(data: Path, tmp: Path, steps: int, G: int, P: int, T: int, loss_type: str) -> dict[str, Any]:
    from rolescape.trainer.config import GRPOConfig
    from rolescape.trainer.grpo import train_grpo

    tails = prompt_tails(data, 40)
    hf_tok = char_tokenizer(tails)
    tok = HFTextTokenizer(hf_tok)
    init = tiny_llama(len(hf_tok), 0)
    init_state = copy.deepcopy(init.state_dict())
    lr = 1e-3

    # rolescape: its GRPO loop over the prompts of the dataset, cut to BOS + the same 40 characters
    ad = text_adapter(init, tok, max_prompt=41)
    cfg = GRPOConfig.model_validate(
        {
            "stage": "grpo",
            "model": {"adapter": "janus", "model": "tiny"},  # unused: the adapter is passed in
            "data": {"path": str(data), "character": CHAR, "kinds": ["roleplay"], "prompt_style": "chat"},
            "out": str(tmp / "ours-text"),
            "steps": steps,
            "group_size": G,
            "prompts_per_step": P,
            "max_text_tokens": T,
            "loss_type": loss_type,
            "optim": {"lr": lr, "max_grad_norm": 1.0},
            "save_every": 1000,
            "tensorboard": False,
        }
    )
    t0 = time.perf_counter()
    train_grpo(cfg, adapter=ad, reward=LetterReward())
    ours = {**log_speed(cfg.out), "wall_s": round(time.perf_counter() - t0, 1)}
    print("rolescape text", ours, flush=True)

    # trl: the same model init, prompts, G, length, lr, loss type, reward
    import transformers
    import trl
    from datasets import Dataset
    from trl import GRPOConfig as TrlConfig
    from trl import GRPOTrainer

    captured: dict[str, Any] = {}

    class Capture(GRPOTrainer):  # type: ignore[misc]
        def _compute_loss(self, model: Any, inputs: Any) -> Any:
            loss = super()._compute_loss(model, inputs)
            if "inputs" not in captured:
                captured["inputs"] = {
                    k: (v.detach().clone() if torch.is_tensor(v) else v) for k, v in inputs.items()
                }
                captured["loss"] = float(loss.detach())
            return loss

    def reward_fn(completions: list[str], **kw: Any) -> list[float]:
        vals = [letter_share(c) for c in completions]
        captured.setdefault("rewards", vals)
        captured.setdefault("completions", list(completions))
        return vals

    step_times: list[float] = []

    class Timer(transformers.TrainerCallback):  # type: ignore[misc]
        def on_step_begin(self, *a: Any, **k: Any) -> None:
            self.t = time.perf_counter()

        def on_step_end(self, *a: Any, **k: Any) -> None:
            step_times.append(time.perf_counter() - self.t)

    model = tiny_llama(len(hf_tok), 0)
    model.load_state_dict(init_state)
    targs = TrlConfig(
        output_dir=str(tmp / "trl"),
        per_device_train_batch_size=G * P,
        gradient_accumulation_steps=1,
        num_generations=G,
        max_completion_length=T,
        max_steps=steps,
        learning_rate=lr,
        lr_scheduler_type="constant",
        warmup_steps=0,
        weight_decay=0.0,
        max_grad_norm=1.0,
        beta=0.0,
        loss_type=loss_type,
        temperature=1.0,
        top_k=0,
        top_p=1.0,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        seed=0,
        shuffle_dataset=False,
        disable_tqdm=True,
    )
    ds = Dataset.from_dict({"prompt": tails})
    trainer = Capture(
        model=model,
        reward_funcs=reward_fn,
        args=targs,
        train_dataset=ds,
        processing_class=hf_tok,
        callbacks=[Timer()],
    )
    t0 = time.perf_counter()
    trainer.train()
    trl_wall = time.perf_counter() - t0
    steady = step_times[1:] or step_times
    trl_step = statistics.median(steady)
    theirs = {
        "steps": len(step_times),
        "step_s_median": round(trl_step, 4),
        "steps_per_s": round(1 / trl_step, 2),
        "rollouts_per_s": round(G * P / trl_step, 1),
        "wall_s": round(trl_wall, 1),
    }
    print("trl text", theirs, flush=True)
    check = {}
    for lt in ("grpo", "bnpo", "dr_grpo", "dapo"):  # trl's loss types on the same captured inputs
        trainer.loss_type = lt
        check[lt] = same_inputs_loss(captured, init_state, hf_tok, tok, G, T, lt, trainer)
        print(lt, {k: v for k, v in check[lt].items() if "loss" in k or "cos" in k}, flush=True)
    trainer.loss_type = loss_type
    return {
        "setup": (
            f"2-layer Llama (hidden 64, {sum(p.numel() for p in init.parameters()) / 1e3:.0f} K parameters, "
            f"char tokenizer of {len(hf_tok)}), {P} prompts x G={G} completions of <= {T} tokens per step, "
            f"loss_type {loss_type}, beta 0, lr {lr}, AdamW, grad clip 1, fp32, CPU, "
            f"reward = share of {LETTER!r} in the text, same initial weights"
        ),
        "rolescape": ours,
        "trl": theirs,
        "trl_over_rolescape_step_time": round(trl_step / ours["step_s_median"], 2),
        "one_step_loss_same_inputs": check,
        "one_step_note": (
            f"trl's first step ({loss_type}; its inputs: prompts, completions, advantages, and the initial "
            "weights) recomputed by trl's _compute_loss and by rolescape's grpo.micro_batch_loss, for each "
            "loss type on the same inputs. The old log-probs equal the current ones on a first step, so the "
            "ratio is 1 and the loss is -sum A_i over tokens / the type's normaliser: 0 for grpo (the "
            "sequence means of -A_i cancel within a group), not 0 for bnpo / dr_grpo / dapo when lengths "
            "differ. beta = 0 (trl's default) so no KL term: both use k3 = exp(ref - logp) - (ref - logp) - 1 "
            "when beta > 0. The advantages are (r - mean) / (std + 1e-4) with the unbiased std in both."
        ),
        "versions": {
            "trl": trl.__version__,
            "transformers": transformers.__version__,
            "torch": torch.__version__,
        },
    }


def same_inputs_loss(
    cap: dict[str, Any],
    init_state: dict[str, Any],
    hf_tok: Any,
    tok: HFTextTokenizer,
    G: int,
    T: int,
    loss_type: str,
    trainer: Any,
) -> dict[str, Any]:
    """trl's first-step inputs through rolescape's loss code (and through trl's again) on the initial
    weights: losses and gradients side by side."""
    from rolescape.trainer.config import GRPOConfig
    from rolescape.trainer.grpo import _Group, micro_batch_loss
    from rolescape.trainer.grpo_loss import group_advantages
    from rolescape.trainer.protocol import Rollouts, SampleSpec

    inp = cap["inputs"]
    p_ids, p_mask = inp["prompt_ids"], inp["prompt_mask"]
    c_ids, c_mask = inp["completion_ids"], inp["completion_mask"].bool()
    B = c_ids.shape[0]
    # trl shuffles its generation batch before the step: regroup the rows by prompt, and recompute
    # each reward from the completion's text (the text trl's reward function received)
    texts = [tok.decode(c_ids[i][c_mask[i]].tolist()) for i in range(B)]
    rewards = torch.tensor([letter_share(t) for t in texts], dtype=torch.float32)
    by_prompt: dict[tuple[int, ...], list[int]] = {}
    for i in range(B):
        by_prompt.setdefault(tuple(p_ids[i][p_mask[i].bool()].tolist()), []).append(i)
    assert all(len(v) == G for v in by_prompt.values()), "two prompts of the batch are identical"

    # rolescape: one Rollouts per prompt group through grpo.micro_batch_loss (the loop's own code);
    # the old log-probs are the current ones, as on trl's first step (on-policy)
    m_ours = tiny_llama(len(hf_tok), 0)
    m_ours.load_state_dict(init_state)
    m_ours.eval()
    ad = text_adapter(m_ours, tok, max_prompt=10_000)
    spec = SampleSpec(modalities=("text",), max_text_tokens=T)
    cfg = GRPOConfig.model_validate(
        {"data": {"path": ".", "character": CHAR}, "out": ".", "group_size": G, "max_text_tokens": T}
        | {"loss_type": loss_type}
    )
    groups = []
    adv_ours = torch.zeros(B)
    for ids, rows_l in by_prompt.items():
        rows = torch.tensor(rows_l)
        assert ids[0] == tok.bos_id
        empty = torch.zeros((G, 0))
        ro = Rollouts([tok.decode(ids[1:])], spec, c_ids[rows], c_mask[rows], empty.long(), empty, empty)
        with torch.no_grad():
            ro.logprobs_text = ad.logprobs(ro).text
        adv = group_advantages(rewards[rows])
        adv_ours[rows] = adv
        groups.append(_Group(None, ro, adv, rewards[rows], {}))  # type: ignore[arg-type]
    n_tok = float(c_mask.sum())
    ours_total = micro_batch_loss(ad, groups, cfg, {"text": n_tok, "image": 0.0})
    ours_total.backward()
    g_ours = torch.cat([p.grad.flatten() for p in m_ours.parameters() if p.grad is not None])

    m_trl = trainer.model  # trl patches its model (fused LM head log-probs): use that one, reset
    m_trl.load_state_dict(init_state)
    m_trl.zero_grad(set_to_none=True)
    m_trl.train()  # as in trl's training step (no dropout in this model, so eval would agree)
    again = trainer._compute_loss(m_trl, {k: v for k, v in inp.items()})
    again.backward()
    g_trl = torch.cat([p.grad.flatten() for p in m_trl.parameters() if p.grad is not None])

    # a third opinion: a plain transformers forward of trl's own (left-padded) batch, the same formula
    m_hf = tiny_llama(len(hf_tok), 0)
    m_hf.load_state_dict(init_state)
    ids = torch.cat([p_ids, c_ids], 1)
    att = torch.cat([p_mask, inp["completion_mask"]], 1)
    lg = m_hf(input_ids=ids, attention_mask=att).logits[:, -T - 1 : -1].float() / trainer.temperature
    lp = lg.log_softmax(-1).gather(-1, c_ids[..., None])[..., 0]
    A = inp["advantages"].reshape(-1, 1)
    m = c_mask.float()
    per_tok = -torch.exp(lp - lp.detach()) * A
    hf_loss = {
        "grpo": ((per_tok * m).sum(-1) / m.sum(-1).clamp(min=1)).mean(),
        "bnpo": (per_tok * m).sum() / m.sum(),
        "dr_grpo": (per_tok * m).sum() / (B * T),
        "dapo": (per_tok * m).sum() / inp["num_items_in_batch"].clamp(min=1.0),
    }[loss_type]
    hf_loss.backward()
    g_hf = torch.cat([p.grad.flatten() for p in m_hf.parameters() if p.grad is not None])
    return {
        "trl_loss_logged_first_step": cap["loss"],
        "trl_loss_recomputed": float(again.detach()),
        "rolescape_loss": float(ours_total.detach()),
        "advantages_max_abs_diff": float((adv_ours - inp["advantages"].flatten()).abs().max()),
        "rewards_match_trl": sorted(round(float(x), 6) for x in rewards)
        == sorted(round(float(x), 6) for x in cap["rewards"][:B]),
        "grad_max_abs_diff": float((g_ours - g_trl).abs().max()),
        "grad_cosine": float(torch.nn.functional.cosine_similarity(g_ours, g_trl, dim=0)),
        "plain_hf_grad_max_abs_diff": {
            "vs_rolescape": float((g_hf - g_ours).abs().max()),
            "vs_trl": float((g_hf - g_trl).abs().max()),
        },
        "grad_norm": {
            "rolescape": float(g_ours.norm()),
            "trl": float(g_trl.norm()),
            "plain_hf": float(g_hf.norm()),
        },
        "completion_tokens": int(n_tok),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--group", type=int, default=8)
    ap.add_argument("--prompts", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=24)
    ap.add_argument("--loss-type", default="dapo")
    ap.add_argument("--skip-janus", action="store_true")
    ap.add_argument("--out", default="bench/results/grpo.json")
    a = ap.parse_args()
    torch.set_num_threads(2)
    data = build_demo(WORK / "demo-built")
    res: dict[str, Any] = {"machine": "CPU, 2 threads (shared with other jobs: ratios are of one run)"}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if not a.skip_janus:
            res["tiny_janus"] = tiny_janus(data, tmp, a.steps)
        res["text_vs_trl"] = versus_trl(data, tmp, a.steps, a.group, a.prompts, a.tokens, a.loss_type)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=1, sort_keys=True) + "\n")
    print(
        json.dumps({k: res["text_vs_trl"][k] for k in ("rolescape", "trl", "trl_over_rolescape_step_time")})
    )


if __name__ == "__main__":
    main()
