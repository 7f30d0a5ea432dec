"""Typed trainer configs (pydantic v2), read from YAML. Every value is recorded in each checkpoint.

stage: sft                     # or grpo
model: {adapter: janus, model: tiny}
data: {path: built/, character: keeper-nine}
out: runs/keeper-sft
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from rolescape.errors import InputError

SFT_KINDS = ("scene_text", "scene_image", "dialogue", "knowledge_qa", "visual_qa")
GRPO_KINDS = ("t2i", "roleplay")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelConfig(_Strict):
    """Which adapter and checkpoint. `model: tiny` builds the tiny random model of the adapter."""

    adapter: str = "janus"  # janus | toy
    model: str = "tiny"
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    max_prompt_tokens: int = Field(default=256, ge=8)
    image_tokens: int | None = None  # override image codes per image (tiny Janus tests)


class LoraConfig(_Strict):
    enabled: bool = False
    r: int = Field(default=8, ge=1)
    alpha: int = Field(default=16, ge=1)
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    target_modules: str | None = None  # regex; default: the adapter's `lora_targets()`


class DataConfig(_Strict):
    path: Path
    character: str
    kinds: list[str] = Field(default_factory=lambda: list(SFT_KINDS))
    prompt_style: Literal["release", "chat"] = "release"
    limit: int | None = Field(default=None, ge=1)  # examples / prompts kept (after a fixed-seed shuffle)


class OptimConfig(_Strict):
    name: Literal["adamw", "sgd"] = "adamw"
    lr: float = Field(default=1e-5, gt=0)
    weight_decay: float = Field(default=0.0, ge=0)
    max_grad_norm: float | None = 1.0
    betas: tuple[float, float] = (0.9, 0.999)


class RewardConfig(_Strict):
    """A named preset or explicit {component: weight}. Components are rolescape metric names
    (scored by the metrics engine) or verifiable ones: `code_share:<code>`, `name_in_text`."""

    preset: str | None = None  # paper | cmrp
    components: dict[str, float] = Field(default_factory=dict)
    zscore: bool = False  # standardise each component within the group before the weighted sum
    profile: Literal["paper", "offline"] = "paper"
    device: str = "auto"
    shuffle: bool = False  # control run: permute rewards across the batch (must not learn)

    @field_validator("components")
    @classmethod
    def _finite(cls, v: dict[str, float]) -> dict[str, float]:
        for k, w in v.items():
            if not isinstance(w, (int, float)) or w != w or w in (float("inf"), float("-inf")):
                raise ValueError(f"weight of {k!r} must be a finite number")
        return v


class _Common(_Strict):
    model: ModelConfig = Field(default_factory=lambda: ModelConfig())
    lora: LoraConfig = Field(default_factory=lambda: LoraConfig())
    data: DataConfig
    optim: OptimConfig = Field(default_factory=lambda: OptimConfig())
    out: Path
    seed: int = 0
    steps: int = Field(default=100, ge=1)
    grad_accum: int = Field(default=1, ge=1)
    save_every: int = Field(default=50, ge=1)
    log_every: int = Field(default=1, ge=1)
    text_weight: float = Field(default=1.0, ge=0)
    image_weight: float = Field(default=1.0, ge=0)
    tensorboard: bool = True  # when installed
    wandb: bool = False  # when installed and configured


class SFTConfig(_Common):
    stage: Literal["sft"] = "sft"
    batch_size: int = Field(default=4, ge=1)  # per process and micro-step
    prompt_dropout: float = Field(default=0.1, ge=0.0, le=1.0)


class GRPOConfig(_Common):
    stage: Literal["grpo"] = "grpo"
    group_size: int = Field(default=8, ge=2)
    prompts_per_step: int = Field(default=1, ge=1)  # per process and micro-step
    loss_type: Literal["grpo", "bnpo", "dr_grpo", "dapo"] = "grpo"
    scale_rewards: bool = True
    beta: float = Field(default=0.0, ge=0.0)
    epsilon_low: float = Field(default=0.2, gt=0)
    epsilon_high: float = Field(default=0.2, gt=0)
    temperature: float = Field(default=1.0, gt=0)
    guidance: float = Field(default=1.0, ge=1.0)
    cfg_mode: Literal["consistent", "conditional"] = "consistent"
    max_text_tokens: int = Field(default=32, ge=1)
    reward: RewardConfig = Field(default_factory=lambda: RewardConfig())
    eval_every: int = Field(default=0, ge=0)  # held-out metrics of the character every N steps (0: never)
    eval_items: int = Field(default=4, ge=1)
    eval_metrics: list[str] = Field(default_factory=lambda: ["style_acc", "persona_sim"])

    @field_validator("data")
    @classmethod
    def _kinds(cls, v: DataConfig) -> DataConfig:
        if v.kinds == list(SFT_KINDS):
            v.kinds = list(GRPO_KINDS)
        return v


TrainConfig = SFTConfig | GRPOConfig


def _first_error(e: ValidationError, path: Path) -> InputError:
    err = e.errors()[0]
    loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
    return InputError(f"{loc}: {err['msg']}", path=path)


def load_config(path: str | Path, stage: str | None = None) -> SFTConfig | GRPOConfig:
    """Parse and validate a YAML (or JSON) config; one InputError naming the file and the key."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise InputError("config file not found", path=p)
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{mark.line + 1}" if mark is not None else None
        raise InputError(f"not valid YAML: {getattr(e, 'problem', e)}", path=p, where=where) from None
    if not isinstance(raw, dict):
        raise InputError("a config is a mapping of keys to values", path=p)
    raw_stage = raw.get("stage", stage)
    if stage is not None and raw_stage != stage:
        raise InputError(f"stage: the file says {raw_stage!r} but `rolescape train {stage}` was run", path=p)
    raw["stage"] = raw_stage
    cls: type[SFTConfig] | type[GRPOConfig] = SFTConfig if raw_stage == "sft" else GRPOConfig
    if raw_stage not in ("sft", "grpo"):
        raise InputError(f"stage: {raw_stage!r} is not one of 'sft', 'grpo'", path=p)
    # relative paths in the file are relative to the file
    for key in ("out",):
        if isinstance(raw.get(key), str) and not Path(raw[key]).is_absolute():
            raw[key] = str((p.parent / raw[key]).resolve())
    d = raw.get("data")
    if isinstance(d, dict) and isinstance(d.get("path"), str) and not Path(d["path"]).is_absolute():
        d["path"] = str((p.parent / d["path"]).resolve())
    m = raw.get("model")
    if isinstance(m, dict) and isinstance(m.get("model"), str) and m["model"].startswith(("./", "../")):
        m["model"] = str((p.parent / m["model"]).resolve())
    try:
        return cls.model_validate(raw)
    except ValidationError as e:
        raise _first_error(e, p) from None


def config_dict(cfg: SFTConfig | GRPOConfig) -> dict[str, Any]:
    """The config as plain JSON data (paths as strings), as it is recorded in checkpoints."""
    return json.loads(cfg.model_dump_json())  # type: ignore[no-any-return]
