"""A run as data: checking a `ScoreSpec`'s choices and tasks, building one from CLI fields or from the v1
keyword arguments, and the options the families read from the ScoreContext."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rolescape.errors import InputError, UnknownNameError
from rolescape.metrics.predictions import available_tasks
from rolescape.schemas.spec import FamilyConfig, ScoreSpec
from rolescape.schemas.tasks import TASKS

PROFILES = ("paper", "offline")
ALPHAS = ("white", "paper")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")

# ----------------------------------------------------------------------------------------------------
# spec


def resolve_tasks(tasks: Sequence[str] | None, data: Any) -> list[str]:
    """Validated task names in protocol order (None: every task the built dataset has)."""
    import difflib

    present = available_tasks(data)
    if tasks is None:
        return present
    out = []
    for t in tasks:
        if t not in TASKS:
            close = difflib.get_close_matches(t, TASKS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UnknownNameError(f"unknown task {t!r}{hint} (known: {', '.join(TASKS)})")
        if t not in present:
            raise InputError(f"task {t!r} is not in the built dataset", path=data.path)
        if t not in out:
            out.append(t)
    return [t for t in TASKS if t in out]


def validate_choice(name: str, value: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise InputError(f"unknown {name} {value!r} (use {' or '.join(allowed)})")
    return value


def validation_message(e: ValidationError, what: str = "") -> str:
    """One line for the first error of a pydantic ValidationError: the field path and the reason."""
    err = e.errors()[0]
    loc = ".".join(str(x) for x in err.get("loc", ()))
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{what}{loc + ': ' if loc else ''}{msg}"


def make_spec(**fields: Any) -> ScoreSpec:
    """ScoreSpec(**fields), with a validation error turned into one InputError line."""
    try:
        return ScoreSpec.model_validate(fields)
    except ValidationError as e:
        raise InputError(validation_message(e, "score spec: ")) from None


# legacy flat option name -> (family, config field); options of encoders go to encoder_options
_LEGACY_FAMILY_OPTIONS = {
    "options_permutation": ("mcq", "permutations"),
    "identity_encoders": ("image_identity", "encoders"),
    "dino_threshold_high": ("image_identity", "dino_threshold_high"),
    "dino_threshold_low": ("image_identity", "dino_threshold_low"),
    "face_min_ref_fraction": ("image_identity", "face_min_ref_fraction"),
    "paper_reward_weights": ("paper_reward", "weights"),
}


def spec_from_options(
    predictions: str | Path,
    data: str | Path,
    *,
    families: Sequence[str] | None = None,
    options: Mapping[str, Any] | None = None,
    **fields: Any,
) -> ScoreSpec:
    """A ScoreSpec from the flat keyword arguments of the v1 `score()` (and its `options` bag)."""
    from rolescape.metrics.registry import DEFAULT_FAMILIES

    opts = dict(options or {})
    names = list(families) if families is not None else list(DEFAULT_FAMILIES)
    if families is None and opts.get("judge_url"):
        names.append("judge")
    cfgs: dict[str, dict[str, Any]] = {n: {} for n in names}
    encoder_options: dict[str, Any] = {}
    for k, v in opts.items():
        if k == "precision":
            fields["precision"] = str(v)
        elif k == "embedding_cache":
            fields["embedding_cache"] = bool(v)
        elif k == "cache_predictions":
            for fam in ("image_identity", "image_text"):
                if fam in cfgs:
                    cfgs[fam]["cache_predictions"] = bool(v)
        elif k.startswith("judge_"):
            if "judge" in cfgs:
                cfgs["judge"][k.removeprefix("judge_")] = v
        elif k in _LEGACY_FAMILY_OPTIONS:
            fam, attr = _LEGACY_FAMILY_OPTIONS[k]
            if fam in cfgs:
                cfgs[fam][attr] = v
        elif k.endswith("_precision"):
            fields.setdefault("model_precision", {})[k.removesuffix("_precision")] = str(v)
        else:
            encoder_options[k] = v
    return make_spec(
        predictions=str(predictions),
        data=str(data),
        families=cfgs,
        encoder_options=encoder_options,
        **fields,
    )


def context_options(spec: ScoreSpec, configs: Mapping[str, FamilyConfig]) -> dict[str, Any]:
    """The flat `ctx.options` view families read: every family config's options + encoder settings."""
    out: dict[str, Any] = {}
    for cfg in configs.values():
        out.update(cfg.options())
    out.update(spec.encoder_options)
    out["precision"] = spec.precision
    for enc, prec in spec.model_precision.items():
        out[f"{enc}_precision"] = prec
    if not spec.embedding_cache:
        out["embedding_cache"] = False
    mcq = configs.get("mcq")
    if mcq is not None:
        perms = getattr(mcq, "permutations", None)
        if perms is not None:
            out["options_permutation"] = perms
    return out
