"""A scoring run written down as data: `ScoreSpec` and one typed config per metric family.

The CLI builds a `ScoreSpec`, `rolescape.metrics.engine.score(spec)` takes it, and results.json stores
it verbatim (resolved: the tasks and families that actually ran, every family's config with its
defaults filled in), so a results file says exactly what was computed and `score(results.spec)`
reproduces it. `rolescape schema` exports it as `score_spec.schema.json`. Where a run writes (its
folder, the embedding cache folder) is not part of the spec: it does not change what is computed.

Family configs: `FAMILY_CONFIGS` maps a family name to its config class (a pydantic model). A family
without a registered class gets `FamilyConfig` with extra fields allowed (custom families). Each
config says which of its fields change scores (`key_fields`); only those enter the family's resume
key, so transport settings (the judge's timeout, concurrency, retries) never cause a rescore.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    ValidationError,
    field_validator,
    model_validator,
)

SPEC_VERSION = "1"
SHARD_RE = re.compile(r"(\d+)/(\d+)")


class FamilyConfig(BaseModel):
    """Base of every family config. `options()` is the flat view a family reads from `ctx.options`;
    `key_slice()` is what enters the resume key (fields listed in `not_in_key` are left out)."""

    model_config = ConfigDict(extra="allow")

    # fields that do not change any score (transport, caching): never part of the resume key
    not_in_key: ClassVar[frozenset[str]] = frozenset()
    # prefix of the flat option names (`judge_` + `timeout` -> `judge_timeout`)
    option_prefix: ClassVar[str] = ""

    def options(self) -> dict[str, Any]:
        """The flat `ctx.options` entries of this config (None values are left out)."""
        return {
            f"{self.option_prefix}{k}": v for k, v in self.model_dump(mode="json").items() if v is not None
        }

    def key_slice(self) -> dict[str, Any]:
        """The part of this config that determines scores (enters the family's resume key)."""
        return {k: v for k, v in sorted(self.model_dump(mode="json").items()) if k not in self.not_in_key}


class _Strict(FamilyConfig):
    model_config = ConfigDict(extra="forbid")


class EmptyConfig(_Strict):
    """A family with no settings of its own."""


class MCQConfig(_Strict):
    """mcq: map letters of a `shuffle-options` export back (the file's sha256 enters the key)."""

    options_permutation: str | None = Field(None, description="path of a `shuffle-options` export")
    permutations: dict[str, list[str]] | None = Field(
        None, description="item id -> shown-to-original letters"
    )
    options_permutation_sha256: str | None = Field(None, description="filled by the engine")
    not_in_key: ClassVar[frozenset[str]] = frozenset({"options_permutation"})

    def options(self) -> dict[str, Any]:  # the family reads the loaded permutations (engine fills)
        return {}


class IdentityConfig(_Strict):
    """image_identity: which encoders, the DINO band, the face-applicability threshold."""

    encoders: list[str] | None = Field(None, description="encoder subset (default: the profile's)")
    dino_threshold_high: float | None = None
    dino_threshold_low: float | None = None
    face_min_ref_fraction: float | None = None
    cache_predictions: bool = Field(True, description="store prediction embeddings in the cache")
    not_in_key: ClassVar[frozenset[str]] = frozenset({"cache_predictions"})

    def options(self) -> dict[str, Any]:
        out = {k: v for k, v in self.model_dump().items() if v is not None and k != "encoders"}
        if self.encoders is not None:
            out["identity_encoders"] = list(self.encoders)
        return out


class ImageTextConfig(_Strict):
    """image_text (CLIP-T): only a cache switch."""

    cache_predictions: bool = True
    not_in_key: ClassVar[frozenset[str]] = frozenset({"cache_predictions"})


class PaperRewardConfig(_Strict):
    """paper_reward: the weights of the released reward (default 0.3 / 0.45 / 0.1 / 0.15)."""

    weights: dict[str, float] | None = None

    def options(self) -> dict[str, Any]:
        return {} if self.weights is None else {"paper_reward_weights": dict(self.weights)}


class JudgeSettings(_Strict):
    """judge: the LLM judge. Defaults are defined here once; only url and model change scores."""

    option_prefix: ClassVar[str] = "judge_"
    url: str | None = Field(None, description="OpenAI-compatible endpoint")
    model: str | None = Field(None, description="judge model id at url")
    key_env: str = Field("ROLESCAPE_JUDGE_API_KEY", description="env var holding the API key (never stored)")
    concurrency: int = Field(4, ge=1)
    timeout: float = Field(60.0, gt=0)
    max_retries: int = Field(5, ge=0)
    backoff: float = Field(1.0, ge=0)
    backoff_max: float = Field(60.0, ge=0)
    retry_after_max: float = Field(300.0, ge=0)
    parse_retries: int = Field(1, ge=0)
    cache_dir: str | bool | None = Field(None, description="reply cache folder; false disables it")
    not_in_key: ClassVar[frozenset[str]] = frozenset(
        {
            "key_env",
            "concurrency",
            "timeout",
            "max_retries",
            "backoff",
            "backoff_max",
            "retry_after_max",
            "parse_retries",
            "cache_dir",
        }
    )


# family name -> config class; families added later register theirs here (or via register_config)
FAMILY_CONFIGS: dict[str, type[FamilyConfig]] = {
    "mcq": MCQConfig,
    "image_identity": IdentityConfig,
    "image_text": ImageTextConfig,
    "vqa": EmptyConfig,
    "diversity": EmptyConfig,
    "paper_reward": PaperRewardConfig,
    "text_ref": EmptyConfig,
    "style": EmptyConfig,
    "persona": EmptyConfig,
    "judge": JudgeSettings,
}


def register_config(family: str, cls: type[FamilyConfig]) -> None:
    """Declare the config class of a family (a pydantic model deriving from FamilyConfig)."""
    FAMILY_CONFIGS[family] = cls


def config_for(family: str, value: Any = None) -> FamilyConfig:
    """A validated config of `family` from a dict / config / None (defaults)."""
    cls = FAMILY_CONFIGS.get(family, FamilyConfig)
    if isinstance(value, FamilyConfig):
        value = value.model_dump()
    return cls.model_validate(value or {})


def parse_shard(shard: str | None) -> tuple[int, int] | None:
    """'i/n' -> (i, n) with 0 <= i < n; None stays None. ValueError names what is wrong."""
    if shard is None:
        return None
    m = SHARD_RE.fullmatch(shard.strip())
    if not m:
        raise ValueError(f"shard {shard!r}: expected I/N (e.g. 0/4)")
    i, n = int(m.group(1)), int(m.group(2))
    if n < 1 or i >= n:
        raise ValueError(f"shard {shard!r}: need 0 <= I < N")
    return i, n


class ScoreSpec(BaseModel):
    """Everything that defines a scoring run. Built by the CLI or by Python users, taken by score()."""

    model_config = ConfigDict(extra="forbid")

    spec_version: str = SPEC_VERSION
    data: str = Field(description="a folder written by `rolescape build`")
    predictions: str = Field(description="predictions.jsonl")
    name: str | None = Field(None, description="the system scored (default: the predictions folder)")
    tasks: list[str] | None = Field(None, description="None: every task with a valid prediction")
    families: dict[str, SerializeAsAny[FamilyConfig]] | None = Field(
        None, description="family name -> its config; None: the default families (+ judge with a url)"
    )
    profile: str = Field("paper", description="paper (pinned hub models) or offline (packaged models)")
    device: str = "auto"
    precision: str = Field("auto", description="auto, fp32, bf16 or fp16 (CUDA only; CPU is fp32)")
    model_precision: dict[str, str] = Field(default_factory=dict, description="encoder -> precision")
    encoder_options: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="encoder settings named <encoder>_<option> (e.g. clip_backend)"
    )
    batch_size: int = Field(32, description="items per chunk (scores do not depend on it)")
    alpha: str = Field("white", description="white: composite on white; paper: convert('RGB')")
    seed: int = 0
    bootstrap: int = Field(1000, ge=0)
    limit: int | None = Field(None, description="score only the first N items of each task")
    shard: str | None = Field(None, description="I/N: score every N-th item starting at I")
    allow_partial: bool = False
    model_paths: dict[str, str] = Field(default_factory=dict, description="--model NAME=PATH")
    num_workers: int = Field(0, ge=0)
    embedding_cache: bool = Field(True, description="false: keep embeddings in memory only")

    @field_validator("families", mode="before")
    @classmethod
    def _typed_families(cls, v: Any) -> Any:
        if v is None:
            return None
        if isinstance(v, (list, tuple)):
            v = {str(name): None for name in v}
        if not isinstance(v, dict):
            raise ValueError("families: expected a mapping of family name -> config (or a list of names)")
        out = {}
        for k, c in v.items():
            try:
                out[str(k)] = config_for(str(k), c)
            except ValidationError as e:  # name the family and the field: families: judge.timeout: ...
                err = e.errors()[0]
                loc = ".".join(str(x) for x in (k, *err.get("loc", ())))
                raise ValueError(f"{loc}: {err.get('msg', 'invalid')}") from None
        return out

    @model_validator(mode="after")
    def _check(self) -> ScoreSpec:
        if self.batch_size < 1:
            raise ValueError(f"batch size must be at least 1 (got {self.batch_size})")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be at least 1 (got {self.limit})")
        parse_shard(self.shard)
        return self

    def family_config(self, name: str) -> FamilyConfig:
        """The config of family `name` (its defaults when the spec names none)."""
        fams = self.families or {}
        return fams[name] if name in fams else config_for(name)

    @property
    def partial(self) -> bool:
        """True when --limit or --shard restricts the items scored."""
        return self.limit is not None or self.shard is not None


def spec_json_schema() -> dict[str, Any]:
    """JSON Schema of ScoreSpec with the config schema of every registered family under `families`."""
    schema = ScoreSpec.model_json_schema()
    fam = schema["properties"]["families"]
    fam["properties"] = {name: cls.model_json_schema() for name, cls in sorted(FAMILY_CONFIGS.items())}
    return schema
