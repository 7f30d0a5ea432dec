"""Memory estimate of a training step for Janus-shaped models: weights, gradients, optimizer state,
activations and GRPO rollouts, per GPU, for plain DDP or sharded (FSDP / DeepSpeed ZeRO-3).

Parameter counts are exact: the model is built on the meta device from a config (no memory, no
download). Activations per layer and token follow Korthikanti et al. 2022 ("Reducing Activation
Recomputation in Large Transformer Models"): s*b*h*(34 + 5*a*s/h) bytes at 16-bit, scaled by the
activation width; logits add b*s*V per head. These are estimates; `bench/bench_train_memory.py`
checks them against a measured step on CPU.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

GiB = 1024**3

# Shapes of the public Janus-Pro checkpoints (deepseek-community/Janus-Pro-1B / -7B config.json:
# DeepSeek-LLM language model, SigLIP-L/16 at 384 px = 576 tokens, VQ-16 with 16384 codes).
JANUS_PRO_SHAPES: dict[str, dict[str, Any]] = {
    "Janus-Pro-1B": {
        "hidden_size": 2048,
        "intermediate_size": 5632,
        "num_hidden_layers": 24,
        "num_attention_heads": 16,
    },
    "Janus-Pro-7B": {
        "hidden_size": 4096,
        "intermediate_size": 11008,
        "num_hidden_layers": 30,
        "num_attention_heads": 32,
    },
}


def janus_pro_config(name: str = "Janus-Pro-1B", lm_layers: int | None = None) -> Any:
    """A JanusConfig shaped like a Janus-Pro checkpoint (optionally with fewer LM layers, for CPU checks)."""
    from transformers import JanusConfig

    s = dict(JANUS_PRO_SHAPES[name])
    if lm_layers is not None:
        s["num_hidden_layers"] = lm_layers
    h = s["hidden_size"]
    return JanusConfig(
        text_config=dict(
            model_type="llama",
            vocab_size=102400,
            max_position_embeddings=16384,
            tie_word_embeddings=False,
            num_key_value_heads=s["num_attention_heads"],
            **s,
        ),
        vision_config=dict(
            image_size=384,
            patch_size=16,
            num_image_tokens=576,
            hidden_size=1024,
            intermediate_size=4096,
            num_hidden_layers=24,
            num_attention_heads=16,
            projection_dim=h,
            depth=2,
        ),
        vq_config=dict(
            embed_dim=8,
            num_embeddings=16384,
            latent_channels=256,
            base_channels=128,
            channel_multiplier=[1, 1, 2, 2, 4],
            num_res_blocks=2,
            projection_dim=h,
            image_token_embed_dim=2048,
            num_patches=24,
        ),
        tie_word_embeddings=False,
    )


def count_parameters(config: Any) -> dict[str, int]:
    """Exact parameter counts per part, from a model built on the meta device."""
    import torch
    from transformers import JanusForConditionalGeneration

    with torch.device("meta"):
        m = JanusForConditionalGeneration(config)
    parts = {"language_model": 0, "vision": 0, "vq": 0, "generation": 0, "lm_head": 0}
    for n, p in m.named_parameters():
        if ".language_model." in n or n.startswith("model.language_model"):
            parts["language_model"] += p.numel()
        elif "vision_model" in n or "aligner" in n and "generation" not in n:
            parts["vision"] += p.numel()
        elif "vqmodel" in n:
            parts["vq"] += p.numel()
        elif "lm_head" in n:
            parts["lm_head"] += p.numel()
        else:
            parts["generation"] += p.numel()
    parts["total"] = sum(parts.values())
    return parts


def lora_parameters(config: Any, r: int, targets: tuple[str, ...] = ("q", "k", "v", "o")) -> int:
    """LoRA parameters on the language model's attention projections (r * (in + out) each)."""
    t = config.text_config
    h, L = t.hidden_size, t.num_hidden_layers
    return L * len(targets) * r * (h + h)


@dataclass
class MemoryEstimate:
    params: int
    trainable: int
    weights_gib: float
    grads_gib: float
    optimizer_gib: float
    activations_gib: float
    rollouts_gib: float
    total_gib: float
    notes: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}


def estimate(
    config: Any,
    *,
    stage: str = "sft",
    dtype: str = "bfloat16",
    lora_r: int | None = None,
    batch: int = 1,
    seq: int = 640,  # prompt + 576 image tokens
    group_size: int = 8,
    cfg: bool = True,
    shards: int = 1,
    gradient_checkpointing: bool = False,
) -> MemoryEstimate:
    """Bytes per process of one step. `shards` > 1 divides weights/grads/optimizer (FSDP, ZeRO-3).

    Optimizer: AdamW keeps two fp32 moments per trainable parameter, plus an fp32 master copy when
    the weights are 16-bit. GRPO: sampling holds a KV cache for G (x2 with CFG) sequences; the loss
    then runs teacher forcing on the same G (x2) sequences, which is the activation term."""
    parts = count_parameters(config)
    P = parts["total"]
    wb = _BYTES[dtype]
    trainable = lora_parameters(config, lora_r) + parts["generation"] if lora_r else P
    weights = P * wb / shards
    grads = trainable * wb / (shards if not lora_r else 1)
    master = trainable * 4 if wb < 4 else 0
    optim = (trainable * 8 + master) / (shards if not lora_r else 1)
    t = config.text_config
    h, L, a, V = t.hidden_size, t.num_hidden_layers, t.num_attention_heads, t.vocab_size
    seqs = batch if stage == "sft" else batch * group_size * (2 if cfg else 1)
    scale = wb / 2  # the formula is for 16-bit activations
    per_layer = seq * seqs * h * (34 + 5 * a * seq / h) * scale
    if gradient_checkpointing:
        per_layer = seq * seqs * h * 2 * scale  # layer inputs only (one layer recomputed at a time)
    logits = seqs * seq * (V + config.vq_config.num_embeddings) * 4 * 2  # fp32 logits + log-softmax
    acts = per_layer * L + logits
    rollouts = 0.0
    if stage == "grpo":
        rollouts = 2 * L * seqs * seq * h * wb  # K and V for every layer
    total = weights + grads + optim + acts + rollouts
    note = (
        f"{dtype} weights, {'LoRA r=' + str(lora_r) if lora_r else 'full fine-tuning'}, AdamW, "
        f"{seqs} sequences x {seq} tokens, {'sharded over ' + str(shards) if shards > 1 else 'unsharded'}"
    )
    return MemoryEstimate(
        params=P,
        trainable=int(trainable),
        weights_gib=weights / GiB,
        grads_gib=grads / GiB,
        optimizer_gib=optim / GiB,
        activations_gib=acts / GiB,
        rollouts_gib=rollouts / GiB,
        total_gib=total / GiB,
        notes=note,
    )
