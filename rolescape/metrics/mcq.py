"""MCQ accuracy for `knowledge_mcq` and `visual_mcq` (benchmark-protocol.md, "Text metrics").

The letter comes from the prediction's `choice`, else from its free `text` via `extract_choice`.
Unparseable or ambiguous answers count as wrong and are counted (`mcq_unparsed`). Because the
release's answer keys are skewed (knowledge: A7/B83/C99/D11; always-C scores 49.5%), the answer-key
floors of the dataset are attached to `mcq_acc`, and `shuffle_options` exports items with options
permuted by a seeded RNG; the scorer maps letters back through the recorded permutation.

Extraction rule (first that applies):
  1. the whole answer (or its first line) is one letter: "B", "b", "(B)", "B)", "B.", "**B**";
  2. the whole answer equals one option text, ignoring case, whitespace and punctuation;
  3. it starts with a letter and a separator, "B) Paris", "B. ...", "(B) ...", "B: ..." (if the rest
     is exactly another option's text, the answer is ambiguous);
  4. letters named as the answer: after a marker ("Answer: B", "the answer is (B)", "option B",
     "I choose/pick/select/go with B"), or in parentheses ("I think (b)"); lists after a marker
     ("answer: A or B") name every letter;
  5. otherwise standalone capital letters A-D ("B is correct", "not A but C"); the article "A" ("A
     dog") and letters inside words ("Absolutely", "D'Artagnan") do not count;
  6. otherwise an option text mentioned inside the answer ("It's Paris.").
Letters that are excluded in the text ("not A", "A is wrong", "rule out A and D") are removed from
steps 4-5. Within a step, exactly one distinct letter is the answer; several are "ambiguous" (e.g.
"A or B"); none falls through to the next step. Lowercase letters count only when alone, in
parentheses, or followed by punctuation after a marker ("answer is c."), so "the answer is a dog"
names nothing. Negated option *texts* are not understood: "not Paris but London" is ambiguous.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from rolescape.errors import InputError
from rolescape.io import hash_obj, write_jsonl_atomic
from rolescape.metrics.base import ItemBatch, MetricFamily, ScoreContext, Scores
from rolescape.metrics.predictions import LETTERS, MCQ_TASKS, parse_permutation, prediction_permutation
from rolescape.schemas.predictions import Prediction
from rolescape.schemas.release import MCQOptions
from rolescape.schemas.tasks import KnowledgeMCQItem, TaskItem, VisualMCQItem

DIFFICULTIES = ("easy", "medium", "hard")
CHANCE = 0.25

_CLEAN_MD = re.compile(r"\*\*|__|`+|^\s*[>#]+\s*", re.M)
_QUOTES = "\"'“”‘’«»"
_LONE = re.compile(r"[(\[]?\s*([A-Da-d])\s*[)\]]?\s*[.:!]?")
_LEADING = re.compile(r"^[(\[]?([A-Da-d])(?:[)\]]\s*[.:]?|[.:])\s+(.+)$", re.S)
_L = r"[(\[]?\s*([A-Da-d])\s*[)\]]?"
_END = r"(?![A-Za-z0-9'’-])"
_MARKER = re.compile(
    r"\b(?:answers?|choices?|options?|letter|pick|picking|choose|choosing|chose|select|selecting|go with|"
    r"going with|opt for|goes to)\b(?:\s*(?:is|are|would be|will be|should be|must be|:|=|-|->|=>))*\s*"
    r"(?:option\s+|letter\s+|choice\s+)?" + _L + _END + r"((?:\s*(?:,|/|or|and|&)\s*" + _L + _END + r")*)",
    re.I,
)
_LIST_LETTER = re.compile(r"(?<![A-Za-z0-9'’-])[(\[]?\s*([A-Da-d])\s*[)\]]?" + _END)
_PAREN = re.compile(r"[(\[]\s*([A-Da-d])\s*[)\]]")
_NEG_PRE = re.compile(
    r"\b(?:not|isn't|isnt|is not|never|rule out|ruling out|ruled out|exclude|excluding|except|eliminate|"
    r"eliminating|other than)\s+(?:option\s+|choice\s+|letter\s+)?[(\[]?((?-i:[A-D]))[)\]]?"
    + _END
    + r"((?:\s*(?:,|/|or|and|nor|&)\s*[(\[]?(?-i:[A-D])[)\]]?"
    + _END
    + r")*)",
    re.I,
)
_NEG_POST = re.compile(
    r"(?<![A-Za-z0-9'’-])[(\[]?((?-i:[A-D]))[)\]]?\s+(?:is|seems|looks|sounds)\s+"
    r"(?:wrong|incorrect|false|not (?:right|correct|it))\b",
    re.I,
)
_BARE = re.compile(r"(?<![A-Za-z0-9'’-])([A-D])" + _END)
_ARTICLE_OK = {  # words after a capital "A" that make it the letter, not the article
    "or",
    "and",
    "nor",
    "is",
    "was",
    "seems",
    "looks",
    "sounds",
    "would",
    "should",
    "could",
    "might",
    "must",
    "fits",
    "matches",
    "makes",
    "vs",
    "versus",
    "but",
    "then",
    "because",
    "since",
    "as",
    "it",
    "also",
    "too",
}


def _clean(text: str) -> str:
    s = _CLEAN_MD.sub("", text).strip()
    while len(s) >= 2 and s[0] in _QUOTES and s[-1] in _QUOTES:
        s = s[1:-1].strip()
    return s


def _compact(s: str) -> str:
    """Case, whitespace and punctuation removed: "July 31, 1979" == "July31,1979"."""
    return re.sub(r"[\W_]+", "", str(s).lower())


def _spaced(s: str) -> str:
    return " " + re.sub(r"[\W_]+", " ", str(s).lower()).strip() + " "


def _letters_from_list(first: str, rest: str) -> list[str]:
    return [first.upper()] + [m.group(1).upper() for m in _LIST_LETTER.finditer(rest or "")]


def _negated(s: str) -> set[str]:
    out: set[str] = set()
    for m in _NEG_PRE.finditer(s):
        out.update(_letters_from_list(m.group(1), m.group(2)))
    for m in _NEG_POST.finditer(s):
        out.add(m.group(1))
    return out


def _marker_letters(s: str) -> set[str]:
    out: set[str] = set()
    for m in _MARKER.finditer(s):
        letter = m.group(1)
        if letter.islower():
            # a lowercase letter after a marker must be bracketed or followed by punctuation / the end
            tail = s[m.end(1) :]
            bracketed = s[m.start(1) - 1 : m.start(1)] in "([" and m.start(1) > 0
            if not bracketed and not re.match(r"\s*(?:[.)\]:;,!?]|$)", tail):
                continue
        out.update(_letters_from_list(letter, m.group(2)))
    return out


def _bare_letters(s: str) -> set[str]:
    out: set[str] = set()
    for m in _BARE.finditer(s):
        letter = m.group(1)
        if letter == "A":
            nxt = re.match(r"\s+([a-z][a-z']*)", s[m.end() :])
            if nxt and nxt.group(1) not in _ARTICLE_OK:
                continue  # the article: "A dog", "A lot"
        out.add(letter)
    return out


def _decide(cands: set[str], how: str) -> tuple[str | None, str] | None:
    if len(cands) == 1:
        return next(iter(cands)), how
    if len(cands) > 1:
        return None, f"ambiguous: {', '.join(sorted(cands))}"
    return None


def extract_choice(text: str | None, options: Mapping[str, Any] | None = None) -> tuple[str | None, str]:
    """(letter or None, reason) for a free-text MCQ answer; see the module docstring for the rule."""
    if text is None:
        return None, "empty"
    s = _clean(str(text))
    if not s:
        return None, "empty"
    opts = {k: str(v) for k, v in (options or {}).items() if k in LETTERS and v is not None}
    # 1. a lone letter, the whole answer or its first line
    m = _LONE.fullmatch(s) or _LONE.fullmatch(_clean(s.splitlines()[0]))
    if m:
        return m.group(1).upper(), "letter"
    # 2. exactly one option's text
    c = _compact(s)
    if opts and c:
        hits = [k for k, v in opts.items() if _compact(v) == c]
        if len(hits) == 1:
            return hits[0], "option text"
    # 3. a leading letter with a separator
    m = _LEADING.match(s)
    if m:
        letter, rest = m.group(1).upper(), _compact(m.group(2))
        others = [k for k, v in opts.items() if k != letter and _compact(v) == rest and rest]
        if others and _compact(opts.get(letter, "")) != rest:
            return None, f"ambiguous: letter {letter} with the text of option {others[0]}"
        return letter, "leading letter"
    neg = _negated(s)
    # 4. letters named as the answer
    strong = (_marker_letters(s) | {m.group(1).upper() for m in _PAREN.finditer(s)}) - neg
    got = _decide(strong, "answer marker")
    if got:
        return got
    # 5. standalone capital letters
    got = _decide(_bare_letters(s) - neg, "standalone letter")
    if got:
        return got
    # 6. an option text mentioned
    if opts:
        sp = _spaced(s)
        found = {k: _spaced(v) for k, v in opts.items() if _spaced(v).strip() and _spaced(v) in sp}
        found = {
            k: v
            for k, v in found.items()
            if not any(k2 != k and v.strip() in v2 and v != v2 for k2, v2 in found.items())
        }
        got = _decide(set(found), "option text mentioned")
        if got:
            return got
    if neg:
        return None, "unparseable: only excluded letters"
    return None, "unparseable"


# ----------------------------------------------------------------------------------------------------
# permutations (shuffle-options)


def _options(options: MCQOptions | Mapping[str, Any]) -> dict[str, str]:
    """Letter -> option text (a partial row's options are an unvalidated mapping)."""
    if isinstance(options, MCQOptions):
        return {k: str(v) for k, v in options.model_dump().items()}
    return {str(k): str(v) for k, v in dict(options).items()}


def permute_options(
    options: Mapping[str, Any], answer_key: str, perm: Sequence[str]
) -> tuple[dict[str, str], str]:
    """Options as shown under `perm` (shown letter LETTERS[i] holds original option perm[i]) and the
    shown answer key."""
    shown = {LETTERS[i]: str(options[perm[i]]) for i in range(4)}
    return shown, LETTERS[list(perm).index(answer_key)]


def unpermute(letter: str, perm: Sequence[str] | None) -> str:
    """The original letter behind a shown letter."""
    return perm[LETTERS.index(letter)] if perm else letter


def item_permutation(seed: int, item_id: str) -> list[str]:
    """The seeded permutation of one item: independent of item order and of the other items."""
    rng = random.Random(f"rolescape-shuffle-options:{seed}:{item_id}")
    perm = list(LETTERS)
    rng.shuffle(perm)
    return perm


def shuffle_options(data: Any, task: str = "knowledge_mcq", seed: int = 0) -> list[dict[str, Any]]:
    """The task's items with options permuted by a seeded RNG, answer keys remapped and the
    permutation recorded; a model answers these, and the scorer maps letters back."""
    if task not in MCQ_TASKS:
        raise InputError(f"shuffle-options works on {' and '.join(MCQ_TASKS)}, not {task!r}")
    if isinstance(data, (str, Path)):
        from rolescape.dataset import BuiltDataset

        data = BuiltDataset(data)
    out = []
    for row in data.task_items(task):
        perm = item_permutation(seed, row["id"])
        shown, key = permute_options(row["options"], row["answer_key"], perm)
        rec: dict[str, Any] = {
            "id": row["id"],
            "task": task,
            "character": row["character"],
            "question": row["question"],
            "options": shown,
            "answer_key": key,
            "permutation": perm,
            "difficulty": row.get("difficulty"),
            "seed": seed,
        }
        if task == "visual_mcq":
            rec["image_key"] = row.get("image_key")
        out.append(rec)
    return out


def write_shuffled(rows: Sequence[Mapping[str, Any]], out: str | Path) -> Path:
    out = Path(out)
    write_jsonl_atomic(out, rows)
    return out


def load_permutations(path: str | Path) -> dict[str, list[str]]:
    """id -> permutation from a `shuffle-options` export (or any JSONL with id + permutation)."""
    from rolescape.io import read_jsonl

    path = Path(path)
    if not path.is_file():
        raise InputError("options permutation file not found", path=path)
    out: dict[str, list[str]] = {}
    for lineno, obj in read_jsonl(path):
        if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
            raise InputError("each line needs an 'id' and a 'permutation'", path=path, where=str(lineno))
        raw = obj.get("permutation", obj.get("options_permutation"))
        try:
            out[obj["id"]] = parse_permutation(raw)
        except InputError as e:
            raise InputError(e.detail, path=path, where=str(lineno)) from None
    return out


def _permutations_option(ctx: ScoreContext) -> dict[str, list[str]]:
    raw = ctx.options.get("options_permutation")
    if raw is None:
        return {}
    if isinstance(raw, (str, Path)):
        return load_permutations(raw)
    return {str(k): parse_permutation(v) for k, v in dict(raw).items()}


# ----------------------------------------------------------------------------------------------------
# floors


def longest_letter(options: Mapping[str, Any]) -> str:
    """The letter of the longest option text (first in A-D order on ties), as the builder's
    leakage.json and the `prior-longest` baseline pick it."""
    lens = {k: len(str(options.get(k) or "").strip()) for k in LETTERS}
    return max(LETTERS, key=lambda k: (lens[k], -LETTERS.index(k)))


def answer_key_floors(
    items: Sequence[Mapping[str, Any]], perms: Mapping[str, Sequence[str]] | None = None
) -> dict[str, float]:
    """Accuracy of the answer-key priors, macro-averaged over characters like `mcq_acc`: always-A..D
    (on the keys as shown, i.e. after a permutation when one applies) and longest-option (ties go to
    the first letter in A-D order of the original options, as in the builder's leakage.json)."""
    perms = perms or {}
    per_char: dict[str, list[dict[str, float]]] = {}
    for row in items:
        perm = perms.get(row["id"])
        key = row["answer_key"]
        shown_key = LETTERS[list(perm).index(key)] if perm else key
        rec = {f"always_{k}": float(shown_key == k) for k in LETTERS}
        rec["longest_option"] = float(longest_letter(row["options"]) == key)
        per_char.setdefault(str(row["character"]), []).append(rec)
    if not per_char:
        return {}
    names = [f"always_{k}" for k in LETTERS] + ["longest_option"]
    out = {}
    for n in names:
        means = [sum(r[n] for r in recs) / len(recs) for _, recs in sorted(per_char.items())]
        out[n] = sum(means) / len(means)
    return out


# ----------------------------------------------------------------------------------------------------
# clean subset (protocol v2)

CLEAN_TASKS = ("knowledge_mcq",)
CLEAN_METRICS = ("mcq_acc_clean", "mcq_kappa_clean")
LEAKAGE_FILE = "leakage.json"
LEAK_CHECK = "mcq_answer_is_train_kqa_answer"


def leaked_answer_ids(data: Any) -> set[str]:
    """Task ids of the knowledge-MCQ items whose correct option equals a train knowledge-QA answer of
    the character: the builder's leakage check `mcq_answer_is_train_kqa_answer` in leakage.json."""
    import json

    path = Path(getattr(data, "path", "")) / LEAKAGE_FILE
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        check = doc.get("leakage", doc)[LEAK_CHECK]
        return {
            f"knowledge_mcq/{slug}/{item}"
            for slug, entry in check["per_character"].items()
            for item in entry["items"]
        }
    except FileNotFoundError:
        raise InputError(
            "no leakage.json: mcq_acc_clean needs the builder's leakage list", path=path
        ) from None
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise InputError(
            f"leakage.json has no usable {LEAK_CHECK!r} list ({type(e).__name__})", path=path
        ) from None


# ----------------------------------------------------------------------------------------------------
# the family


class MCQFamily(MetricFamily):
    """mcq_acc, mcq_kappa, mcq_unparsed and accuracy per difficulty; answer-key floors beside mcq_acc."""

    name: ClassVar[str] = "mcq"
    tasks: ClassVar[tuple[str, ...]] = MCQ_TASKS
    VERSION: ClassVar[str] = "mcq-1"
    uses_device: ClassVar[bool] = False

    def __init__(self) -> None:
        self._perms: dict[str, list[str]] = {}
        self._leaked: set[str] | None = None  # knowledge-MCQ ids whose correct option is a train answer

    def metric_names(self, task: str) -> list[str]:
        clean = list(CLEAN_METRICS) if task in CLEAN_TASKS else []
        return ["mcq_acc", "mcq_kappa", "mcq_unparsed"] + [f"mcq_acc_{d}" for d in DIFFICULTIES] + clean

    def prepare(self, ctx: ScoreContext, tasks: Sequence[str]) -> None:
        self._perms = _permutations_option(ctx)
        self._leaked = None
        if any(t in CLEAN_TASKS for t in tasks):
            try:
                self._leaked = leaked_answer_ids(ctx.data)
            except InputError as e:
                for m in CLEAN_METRICS:
                    ctx.skip_metric(m, str(e), task="knowledge_mcq")

    def version(self) -> str:
        v = self.VERSION
        if self._leaked is not None:
            v += f":leaked={hash_obj(sorted(self._leaked))[:16]}"
        return f"{v}:perm={hash_obj(self._perms)[:16]}" if self._perms else v

    def permutation_for(self, pred: Prediction | None, item_id: str) -> list[str] | None:
        perm = prediction_permutation(pred) if pred is not None else None
        return perm or self._perms.get(item_id)

    def score_one(self, item: TaskItem, pred: Prediction) -> tuple[Scores, dict[str, Any]]:
        if not isinstance(item, (KnowledgeMCQItem, VisualMCQItem)):
            raise InputError(f"not an MCQ item (task {item.task!r})", where=item.id)
        perm = self.permutation_for(pred, item.id)
        options = _options(item.options)
        shown = permute_options(options, item.answer_key, perm)[0] if perm else options
        if pred.choice is not None:
            letter, how = pred.choice, "choice"
        else:
            letter, how = extract_choice(pred.text, shown)
        answer = unpermute(letter, perm) if letter else None
        acc = 1.0 if answer is not None and answer == item.answer_key else 0.0
        scores: Scores = {
            "mcq_acc": acc,
            "mcq_kappa": (acc - CHANCE) / (1 - CHANCE),
            "mcq_unparsed": 0.0 if letter else 1.0,
        }
        for d in DIFFICULTIES:
            scores[f"mcq_acc_{d}"] = acc if item.difficulty == d else None
        if item.task in CLEAN_TASKS and self._leaked is not None:
            clean = item.id not in self._leaked
            scores["mcq_acc_clean"] = acc if clean else None
            scores["mcq_kappa_clean"] = scores["mcq_kappa"] if clean else None
        info = {
            "mcq_letter": letter,
            "mcq_answer": answer,
            "mcq_parse": how,
            "mcq_permuted": perm is not None,
        }
        return scores, info

    def score(self, batch: ItemBatch, ctx: ScoreContext) -> list[Scores]:
        out = []
        for i, (item, pred) in enumerate(zip(batch.typed, batch.predictions, strict=True)):
            scores, info = self.score_one(item, pred)
            batch.info[i].update(info)
            out.append(scores)
        return out

    def floors(
        self,
        task: str,
        items: Sequence[dict[str, Any]],
        predictions: Mapping[str, Prediction],
        ctx: ScoreContext,
    ) -> dict[str, dict[str, float]]:
        perms = {}
        for row in items:
            p = self.permutation_for(predictions.get(row["id"]), row["id"])
            if p:
                perms[row["id"]] = p
        acc = answer_key_floors(items, perms)
        if not acc:
            return {}
        out = {"mcq_acc": acc, "mcq_kappa": {k: (v - CHANCE) / (1 - CHANCE) for k, v in acc.items()}}
        if task in CLEAN_TASKS and self._leaked is not None:
            clean = answer_key_floors([r for r in items if r["id"] not in self._leaked], perms)
            if clean:
                out["mcq_acc_clean"] = clean
                out["mcq_kappa_clean"] = {k: (v - CHANCE) / (1 - CHANCE) for k, v in clean.items()}
        return out
