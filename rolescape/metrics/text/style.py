"""`style_acc` / `style_p`: does the response sound like its own character?

A style-attribution classifier over the 20 characters, fitted on the train dialogues of all of them
(the dialogue-extension train scenes plus the annotation train scenes' machine responses, deduplicated
by (character, text)). Features, concatenated:

1. the sentence embedding of the response (the run's text encoder), weight `emb_weight`;
2. stylometric features (length, words per sentence, punctuation and case rates, pronoun rates),
   standardised with the training mean/std, weight `stylo_weight`;
3. catchphrases learned from the data: word 1-3-grams that at least `cp_min_df` training responses of
   one character use and that belong to that character in at least `cp_purity` of their uses (top
   `cp_per_class` per character), as presence indicators, weight `cp_weight`;
4. character 2-4-gram TF-IDF (`char_wb`, case kept, sublinear tf, smooth idf, L2 rows), weight `tfidf_weight`.

A multinomial logistic regression (scikit-learn, lbfgs, L2) maps them to 20 classes. `style_acc` is 1
when the top class is the item's character, `style_p` the probability of that character; chance is
1/20. A blank response scores 0 on both; a prediction without text gets None.

The fitted classifier is stored without pickle: arrays in a deterministic `.npz`, everything else
(vocabulary, catchphrases, classes, config, held-out accuracy) in JSON; `StyleClassifier.load`
rebuilds it exactly and prediction needs only numpy/scipy. It is cached in the run's artefact store
(`rolescape.metrics.cache.ArtifactStore`, store `style`), keyed by a hash of the built dataset's
manifest sha256, the encoder id and revision, the config, the seed and this module's version. At fit time its accuracy on the held-out GT
responses (dialogue test references, never seen in training) is measured and recorded in the
family's ModelInfo (`preprocessing`) and in `StyleFamily.report`.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rolescape.errors import InputError, ModelUnavailable
from rolescape.io import hash_obj
from rolescape.metrics.base import ItemBatch, MetricFamily, ScoreContext, Scores
from rolescape.metrics.cache import ArtifactStore
from rolescape.schemas.results import ModelInfo

if TYPE_CHECKING:
    from rolescape.metrics.text.style_cf import CrossFitStyle

log = logging.getLogger(__name__)

VERSION = "style-v1"
ARRAYS_FILE = "style.npz"
META_FILE = "style.json"


@dataclass(frozen=True)
class StyleConfig:
    emb_weight: float = 1.0
    stylo_weight: float = 0.1
    cp_weight: float = 0.5
    tfidf_weight: float = 2.0
    char_ngram: tuple[int, int] = (2, 4)
    char_max_features: int = 20000
    char_min_df: int = 2
    cp_max_n: int = 3
    cp_min_df: int = 3
    cp_purity: float = 0.8
    cp_per_class: int = 40
    C: float = 10.0
    max_iter: int = 3000

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["char_ngram"] = list(self.char_ngram)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> StyleConfig:
        d = dict(d)
        d["char_ngram"] = tuple(d["char_ngram"])
        return cls(**d)


# --------------------------------------------------------------------------- features

_TOKEN = re.compile(r"[a-z0-9]+(?:['’][a-z0-9]+)*|[^\sa-z0-9]")
_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*")
_SENT = re.compile(r"[.!?…]+")
_FIRST = {"i", "me", "my", "mine", "myself", "i'm", "i've", "i'll", "i'd", "we", "us", "our"}
_SECOND = {"you", "your", "yours", "yourself", "you're", "you've", "you'll", "you'd"}

STYLO_NAMES: tuple[str, ...] = (
    "log_chars",
    "log_words",
    "mean_word_len",
    "log_sentences",
    "words_per_sentence",
    "rate_excl",
    "rate_question",
    "rate_period",
    "rate_comma",
    "rate_ellipsis",
    "rate_star",
    "rate_tilde",
    "rate_dquote",
    "rate_squote",
    "rate_dash",
    "rate_colon",
    "rate_paren",
    "rate_digit",
    "rate_upper",
    "rate_nonascii",
    "frac_caps_words",
    "frac_first_person",
    "frac_second_person",
    "starts_action",
)


def stylometric(text: str) -> list[float]:
    n = max(len(text), 1)
    words = _WORD.findall(text)
    nw = max(len(words), 1)
    lower = [w.lower().replace("’", "'") for w in words]
    sents = max(len([s for s in _SENT.split(text) if s.strip()]), 1)

    def rate(chars: str) -> float:
        return sum(text.count(c) for c in chars) / n

    return [
        math.log1p(len(text)),
        math.log1p(len(words)),
        sum(len(w) for w in words) / nw,
        math.log1p(sents),
        len(words) / sents,
        rate("!"),
        rate("?"),
        rate("."),
        rate(","),
        (text.count("...") + text.count("…")) / n,
        rate("*"),
        rate("~"),
        rate('"“”'),
        rate("'’"),
        rate("-—–"),
        rate(":;"),
        rate("()[]"),
        sum(c.isdigit() for c in text) / n,
        sum(c.isupper() for c in text) / n,
        sum(ord(c) > 127 for c in text) / n,
        sum(len(w) > 1 and w.isupper() for w in words) / nw,
        sum(w in _FIRST for w in lower) / nw,
        sum(w in _SECOND for w in lower) / nw,
        float(text.lstrip().startswith(("*", "("))),
    ]


def word_ngrams(text: str, max_n: int) -> set[str]:
    toks = _TOKEN.findall(text.lower().replace("’", "'"))
    out: set[str] = set()
    for n in range(1, max_n + 1):
        for i in range(len(toks) - n + 1):
            out.add(" ".join(toks[i : i + n]))
    return out


def learn_catchphrases(texts: Sequence[str], labels: Sequence[str], cfg: StyleConfig) -> list[str]:
    """Word n-grams distinctive of one character (document frequency and purity), sorted, unique."""
    df_total: Counter[str] = Counter()
    df_class: dict[str, Counter[str]] = defaultdict(Counter)
    for t, y in zip(texts, labels, strict=True):
        grams = word_ngrams(t, cfg.cp_max_n)
        df_total.update(grams)
        df_class[y].update(grams)
    chosen: set[str] = set()
    for y in sorted(df_class):
        cands = []
        for g, c in df_class[y].items():
            if c < cfg.cp_min_df:
                continue
            purity = c / df_total[g]
            if purity >= cfg.cp_purity:
                cands.append((-c * purity, g))
        cands.sort()
        chosen.update(g for _, g in cands[: cfg.cp_per_class])
    return sorted(chosen)


def _char_vectorizer(cfg: StyleConfig, vocabulary: dict[str, int] | None = None) -> Any:
    from sklearn.feature_extraction.text import CountVectorizer

    return CountVectorizer(
        analyzer="char_wb",
        ngram_range=tuple(cfg.char_ngram),
        lowercase=False,
        dtype=np.float64,
        min_df=cfg.char_min_df if vocabulary is None else 1,
        max_features=cfg.char_max_features if vocabulary is None else None,
        vocabulary=vocabulary,
    )


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


# --------------------------------------------------------------------------- the classifier


@dataclass
class StyleClassifier:
    """A fitted style-attribution model. Everything needed to predict, nothing pickled."""

    config: StyleConfig
    classes: list[str]
    char_vocab: list[str]  # index -> char n-gram
    idf: np.ndarray  # (n_char,)
    catchphrases: list[str]
    stylo_mean: np.ndarray
    stylo_std: np.ndarray
    coef: np.ndarray  # (n_classes, n_features)
    intercept: np.ndarray  # (n_classes,)
    encoder: dict[str, Any]  # {"id", "revision", "dim"}
    meta: dict[str, Any] = field(default_factory=dict)  # training counts, held-out accuracy, ...

    # -- features
    def features(self, texts: Sequence[str], embeddings: np.ndarray) -> Any:
        from scipy import sparse

        cfg = self.config
        vocab = {g: i for i, g in enumerate(self.char_vocab)}
        counts = _char_vectorizer(cfg, vocab).transform(list(texts)).tocsr().astype(np.float64)
        counts.data = 1.0 + np.log(counts.data)  # sublinear tf
        tfidf = counts.multiply(self.idf[None, :]).tocsr()
        norms = np.sqrt(np.asarray(tfidf.multiply(tfidf).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        tfidf = sparse.diags(1.0 / norms) @ tfidf
        cp_index = {g: i for i, g in enumerate(self.catchphrases)}
        rows, cols = [], []
        for r, t in enumerate(texts):
            for g in word_ngrams(t, cfg.cp_max_n):
                j = cp_index.get(g)
                if j is not None:
                    rows.append(r)
                    cols.append(j)
        cp = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(texts), len(self.catchphrases)))
        sty = (
            np.array([stylometric(t) for t in texts], dtype=np.float64).reshape(len(texts), -1)
            - self.stylo_mean
        ) / self.stylo_std
        emb = np.asarray(embeddings, dtype=np.float64).reshape(len(texts), -1)
        return sparse.hstack(
            [
                sparse.csr_matrix(emb * cfg.emb_weight),
                sparse.csr_matrix(sty * cfg.stylo_weight),
                cp * cfg.cp_weight,
                tfidf * cfg.tfidf_weight,
            ]
        ).tocsr()

    def predict_proba(self, texts: Sequence[str], embeddings: np.ndarray) -> np.ndarray:
        if not len(texts):
            return np.zeros((0, len(self.classes)))
        x = self.features(texts, embeddings)
        return _softmax(np.asarray(x @ self.coef.T) + self.intercept[None, :])

    # -- fitting
    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        labels: Sequence[str],
        embeddings: np.ndarray,
        encoder: dict[str, Any],
        config: StyleConfig | None = None,
        seed: int = 0,
    ) -> StyleClassifier:
        from sklearn.linear_model import LogisticRegression

        cfg = config or StyleConfig()
        texts, labels = list(texts), [str(y) for y in labels]
        if len(set(labels)) < 2:
            raise InputError(f"the style classifier needs at least 2 characters, got {sorted(set(labels))}")
        classes = sorted(set(labels))
        vec = _char_vectorizer(cfg)
        counts = vec.fit_transform(texts)
        char_vocab = [g for g, _ in sorted(vec.vocabulary_.items(), key=lambda kv: kv[1])]
        df = np.asarray((counts > 0).sum(axis=0)).ravel().astype(np.float64)
        idf = np.log((1.0 + len(texts)) / (1.0 + df)) + 1.0
        sty = np.array([stylometric(t) for t in texts], dtype=np.float64)
        std = sty.std(axis=0)
        std[std < 1e-9] = 1.0
        model = cls(
            config=cfg,
            classes=classes,
            char_vocab=char_vocab,
            idf=idf,
            catchphrases=learn_catchphrases(texts, labels, cfg),
            stylo_mean=sty.mean(axis=0),
            stylo_std=std,
            coef=np.zeros((0,)),
            intercept=np.zeros((0,)),
            encoder=dict(encoder),
        )
        x = model.features(texts, embeddings)
        y = np.array([classes.index(v) for v in labels])
        lr = LogisticRegression(C=cfg.C, max_iter=cfg.max_iter, solver="lbfgs", random_state=seed)
        lr.fit(x, y)
        coef, intercept = np.asarray(lr.coef_, np.float64), np.asarray(lr.intercept_, np.float64)
        if len(classes) == 2:  # sklearn's binary case has one row: turn it into a 2-way softmax
            coef = np.vstack([-coef[0] / 2, coef[0] / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
        model.coef, model.intercept = coef, intercept
        counts_per_class = Counter(labels)
        model.meta = {
            "n_train": len(texts),
            "n_features": int(x.shape[1]),
            "n_train_per_class": {c: counts_per_class[c] for c in classes},
            "train_accuracy": float((model.predict_proba(texts, embeddings).argmax(1) == y).mean()),
        }
        return model

    # -- storage (no pickle)
    def to_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """(arrays, JSON metadata): everything needed to rebuild the model exactly."""
        arrays = {n: getattr(self, n) for n in ("idf", "stylo_mean", "stylo_std", "coef", "intercept")}
        meta = {
            "version": VERSION,
            "config": self.config.to_json(),
            "classes": self.classes,
            "char_vocab": self.char_vocab,
            "catchphrases": self.catchphrases,
            "stylo_names": list(STYLO_NAMES),
            "encoder": self.encoder,
            "meta": self.meta,
        }
        return arrays, meta

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any], where: Path) -> StyleClassifier:
        """The model `to_arrays` describes; InputError naming `where` if it is of another version."""
        if meta.get("version") != VERSION or meta.get("stylo_names") != list(STYLO_NAMES):
            raise InputError(f"style classifier version {meta.get('version')!r} != {VERSION!r}", path=where)
        try:
            return cls(
                config=StyleConfig.from_json(meta["config"]),
                classes=list(meta["classes"]),
                char_vocab=list(meta["char_vocab"]),
                idf=arrays["idf"],
                catchphrases=list(meta["catchphrases"]),
                stylo_mean=arrays["stylo_mean"],
                stylo_std=arrays["stylo_std"],
                coef=arrays["coef"],
                intercept=arrays["intercept"],
                encoder=dict(meta["encoder"]),
                meta=dict(meta["meta"]),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise InputError(f"incomplete style classifier ({type(e).__name__}: {e})", path=where) from None

    def save(self, folder: str | Path) -> None:
        """An exportable copy: `style.npz` (deterministic, no pickle) + `style.json` in `folder`."""
        from rolescape.io import write_text_atomic
        from rolescape.metrics.cache import save_npz_deterministic

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        arrays, meta = self.to_arrays()
        save_npz_deterministic(folder / ARRAYS_FILE, arrays)
        write_text_atomic(
            folder / META_FILE, json.dumps(meta, sort_keys=True, ensure_ascii=False, indent=1) + "\n"
        )

    @classmethod
    def load(cls, folder: str | Path) -> StyleClassifier:
        from rolescape.metrics.cache import load_npz

        folder = Path(folder)
        try:
            meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
            arrs = load_npz(folder / ARRAYS_FILE)
        except (OSError, ValueError, KeyError) as e:
            raise InputError(f"cannot read a style classifier here: {e}", path=folder) from None
        return cls.from_arrays(arrs, meta, folder)


def store(cache_dir: Path | None, name: str, version: str) -> ArtifactStore:
    """The run's one artefact store for style classifiers (memory only without a cache dir)."""
    return ArtifactStore(name, {"version": version}, cache_dir, required=())


def cached_model(st: ArtifactStore, entry: str) -> StyleClassifier | None:
    """The stored classifier, or None (missing, unreadable or of another version: refit)."""
    got = st.get_arrays(entry)
    if got is None:
        return None
    try:
        return StyleClassifier.from_arrays(*got, st.path(entry, ".npz") or Path(st.name))
    except InputError as e:
        log.warning("style classifier cache unusable, refitting: %s", e)
        return None


def cache_model(st: ArtifactStore, entry: str, model: StyleClassifier) -> None:
    try:
        st.put_arrays(entry, *model.to_arrays())
    except OSError as e:  # a read-only or full cache: keep the model in memory
        log.warning("style classifier not cached: %s", e)


# --------------------------------------------------------------------------- data


def training_corpus(data: Any) -> tuple[list[str], list[str]]:
    """(texts, characters) of the train dialogues: dialogue-extension train + annotation train scenes.

    Ext-train already ends with the annotation scenes (is_original); duplicates by (character, text)
    are dropped, keeping the first. Sorted by (character, text) so the fit does not depend on file order.
    """
    seen: set[tuple[str, str]] = set()
    for config in ("dialogues", "scenes"):
        for row in data.read(config, "train"):
            text = str(row.get("response") or "").strip()
            if text:
                seen.add((str(row["character"]), text))
    pairs = sorted(seen)
    return [t for _, t in pairs], [c for c, _ in pairs]


def heldout_corpus(data: Any) -> tuple[list[str], list[str]]:
    """The GT responses of the dialogue test split (the `dialogue` task's references)."""
    rows = data.read("dialogues", "test")
    rows = [r for r in rows if str(r.get("response") or "").strip()]
    return [str(r["response"]).strip() for r in rows], [str(r["character"]) for r in rows]


def evaluate(
    model: StyleClassifier, texts: Sequence[str], labels: Sequence[str], embeddings: np.ndarray
) -> dict[str, Any]:
    """Accuracy and mean own-class probability on labelled texts (per class too)."""
    proba = model.predict_proba(texts, embeddings)
    idx = np.array([model.classes.index(y) if y in model.classes else -1 for y in labels])
    ok = idx >= 0
    top = proba.argmax(1)
    own_p = np.where(ok, proba[np.arange(len(labels)), np.maximum(idx, 0)], 0.0)
    per_class = {}
    for c in model.classes:
        m = np.array([y == c for y in labels])
        if m.any():
            per_class[c] = float((top[m] == model.classes.index(c)).mean())
    return {
        "n": len(labels),
        "accuracy": float(((top == idx) & ok).mean()) if len(labels) else None,
        "mean_own_p": float(own_p.mean()) if len(labels) else None,
        "chance": 1.0 / len(model.classes),
        "per_class_accuracy": per_class,
    }


def fit_from_dataset(
    data: Any, encoder: Any, config: StyleConfig | None = None, batch_size: int = 32, seed: int = 0
) -> StyleClassifier:
    """Fit on the train dialogues of `data` and record the held-out accuracy in `meta['heldout']`."""
    texts, labels = training_corpus(data)
    if not texts:
        raise ModelUnavailable("the dataset has no train dialogues to fit the style classifier on")
    enc_info = {"id": encoder.model_id, "revision": encoder.revision, "dim": encoder.dim}
    model = StyleClassifier.fit(texts, labels, encoder.encode(texts, batch_size), enc_info, config, seed)
    h_texts, h_labels = heldout_corpus(data)
    if h_texts:
        model.meta["heldout"] = evaluate(model, h_texts, h_labels, encoder.encode(h_texts, batch_size))
        model.meta["heldout"]["set"] = "dialogues/test GT responses"
    return model


def cache_key(manifest_sha256: str, encoder: Any, config: StyleConfig, seed: int) -> str:
    return hash_obj(
        {
            "version": VERSION,
            "manifest": manifest_sha256,
            "encoder_id": encoder.model_id,
            "encoder_revision": encoder.revision,
            "config": config.to_json(),
            "seed": seed,
        }
    )


def load_or_fit(
    data: Any,
    encoder: Any,
    cache_dir: Path | None,
    config: StyleConfig | None = None,
    batch_size: int = 32,
    seed: int = 0,
) -> tuple[StyleClassifier, Path | None]:
    """The classifier for (dataset manifest, encoder, config), from the store or fitted, and its file."""
    cfg = config or StyleConfig()
    st = store(cache_dir, "style", VERSION)
    entry = cache_key(data.manifest_sha256, encoder, cfg, seed)
    model = cached_model(st, entry)
    if model is None:
        model = fit_from_dataset(data, encoder, cfg, batch_size, seed)
        cache_model(st, entry, model)
    return model, st.path(entry, ".npz")


# --------------------------------------------------------------------------- cross-fitting (protocol v2)
# The fold models live in style_cf.py; this builds them from a dataset.

N_FOLDS = 5
CF_VERSION = "style-cf-v1"


def fit_cross_fitted(
    data: Any,
    encoder: Any,
    config: StyleConfig,
    *,
    threshold: float,
    k: int = N_FOLDS,
    batch_size: int = 32,
    seed: int = 0,
    cache_dir: Path | None = None,
) -> CrossFitStyle:
    """The cross-fitted style models of a built dataset, with their held-out accuracy in `.report`."""
    from rolescape.metrics.text.style_cf import CrossFitStyle

    texts, labels = training_corpus(data)
    if not texts:
        raise ModelUnavailable("the dataset has no train dialogues to fit the style classifier on")
    enc_info = {"id": encoder.model_id, "revision": encoder.revision, "dim": encoder.dim}
    cf = CrossFitStyle(
        texts,
        labels,
        np.asarray(encoder.encode(texts, batch_size)),
        enc_info,
        config,
        threshold=threshold,
        k=k,
        seed=seed,
        cache_dir=cache_dir,
        manifest=data.manifest_sha256,
    )
    h_texts, h_labels = heldout_corpus(data)
    if h_texts:
        cf.report = cf.heldout(h_texts, h_labels, np.asarray(encoder.encode(h_texts, batch_size)))
    return cf


# --------------------------------------------------------------------------- the family


class StyleFamily(MetricFamily):
    name = "style"
    tasks = ("dialogue", "roleplay", "memorization", "personality")

    def __init__(
        self,
        config: StyleConfig | None = None,
        cross_fit: bool = True,
        n_folds: int = N_FOLDS,
        copy_threshold: float | None = None,
    ) -> None:
        from rolescape.metrics.text.copy import TEXT_COPY_THRESHOLD

        self.config = config or StyleConfig()
        self.encoder: Any = None
        self.model: StyleClassifier | None = None
        self.report: dict[str, Any] = {}
        self.cross_fit, self.n_folds = cross_fit, n_folds
        self.copy_threshold = TEXT_COPY_THRESHOLD if copy_threshold is None else copy_threshold
        self.cf: CrossFitStyle | None = None

    def metric_names(self, task: str) -> list[str]:
        if task not in self.tasks:
            return []
        return ["style_acc", "style_p"] + (["style_acc_cf", "style_p_cf"] if self.cross_fit else [])

    def prepare(self, ctx: ScoreContext, tasks: Sequence[str]) -> None:
        from rolescape.metrics.text.encoders import cache_root, encoder_for

        self.encoder = encoder_for(ctx)
        self.model, folder = load_or_fit(
            ctx.data, self.encoder, cache_root(ctx), self.config, ctx.batch_size, ctx.seed
        )
        held = self.model.meta.get("heldout") or {}
        self.report = {
            "classes": len(self.model.classes),
            "chance": 1.0 / len(self.model.classes),
            "n_train": self.model.meta.get("n_train"),
            "heldout_accuracy": held.get("accuracy"),
            "heldout_mean_own_p": held.get("mean_own_p"),
            "heldout_n": held.get("n"),
        }
        acc = held.get("accuracy")
        acc_s = "n/a" if acc is None else f"{acc:.3f} on {held.get('n')} dialogue-test GT responses"
        ctx.models["style"] = ModelInfo(
            name="style",
            id=f"rolescape/{VERSION}-logreg",
            revision=cache_key(ctx.dataset("style").manifest_sha256, self.encoder, self.config, ctx.seed)[
                :20
            ],
            dtype="float64",
            preprocessing=(
                f"multinomial logistic regression over {len(self.model.classes)} characters; features: "
                f"{self.encoder.model_id} embedding, {len(STYLO_NAMES)} stylometric, "
                f"{len(self.model.catchphrases)} learned catchphrases, {len(self.model.char_vocab)} char "
                f"{self.config.char_ngram[0]}-{self.config.char_ngram[1]}-gram tf-idf; fitted on "
                f"{self.model.meta.get('n_train')} train dialogue responses; held-out accuracy {acc_s} "
                f"(chance {1 / len(self.model.classes):.3f})"
            ),
            source=f"local:{folder}" if folder is not None else "fitted:in-memory",
        )
        if self.cross_fit:
            self.cf = fit_cross_fitted(
                ctx.data,
                self.encoder,
                self.config,
                threshold=self.copy_threshold,
                k=self.n_folds,
                batch_size=ctx.batch_size,
                seed=ctx.seed,
                cache_dir=cache_root(ctx),
            )
            cf_acc = self.cf.report.get("accuracy")
            self.report["heldout_accuracy_cf"] = cf_acc
            ctx.models["style_cf"] = ModelInfo(
                name="style_cf",
                id=f"rolescape/{CF_VERSION}-logreg",
                revision=hash_obj([self.cf._key(()), self.n_folds, self.copy_threshold])[:20],
                dtype="float64",
                preprocessing=(
                    f"{self.n_folds} fold models of the style classifier (folds per character, train texts "
                    f"overlapping > {self.copy_threshold} ROUGE-L F kept in one fold); a response is scored by "
                    f"the model that never saw the train texts it overlaps; held-out accuracy "
                    f"{'n/a' if cf_acc is None else f'{cf_acc:.3f}'} on the dialogue-test GT responses"
                ),
                source="fitted:cached" if cache_root(ctx) is not None else "fitted:in-memory",
            )

    def score(self, batch: ItemBatch, ctx: ScoreContext) -> list[Scores]:
        assert self.model is not None and self.encoder is not None, "prepare() first"
        names = self.metric_names(batch.task)
        out: list[Scores] = [dict.fromkeys(names) for _ in batch.items]
        idx, texts = [], []
        for i, (item, pred) in enumerate(zip(batch.typed, batch.predictions, strict=True)):
            if pred.text is None or item.character not in self.model.classes:
                continue
            if not pred.text.strip():
                out[i] = dict.fromkeys(names, 0.0)
                continue
            idx.append(i)
            texts.append(pred.text)
        if idx:
            embs = self.encoder.encode(texts, ctx.batch_size)
            proba = self.model.predict_proba(texts, embs)
            for row, i in zip(proba, idx, strict=True):
                own = self.model.classes.index(batch.typed[i].character)
                out[i].update({"style_acc": float(int(row.argmax()) == own), "style_p": float(row[own])})
            if self.cf is not None:
                cf_proba, how = self.cf.proba(texts, np.asarray(embs))
                for row, i, h in zip(cf_proba, idx, how, strict=True):
                    own = self.cf.classes.index(batch.typed[i].character)
                    out[i].update(
                        {"style_acc_cf": float(int(row.argmax()) == own), "style_p_cf": float(row[own])}
                    )
                    batch.info[i]["style_cf_model"] = h
        return out

    def version(self) -> str:
        enc = self.encoder.key() if self.encoder is not None else "no-encoder"
        cf = f"|cf={self.n_folds},{self.copy_threshold}" if self.cross_fit else ""
        return f"{VERSION}|{enc}|{hash_obj(self.config.to_json())[:12]}{cf}"
