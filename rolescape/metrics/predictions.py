"""Read and check predictions.jsonl against a built dataset before any model is loaded.

Every line is checked and every problem is reported with its line number, e.g.

    predictions.jsonl:12: id 't2i/bo/3': image 'x.png' not found

Checks: malformed JSON (line:col), not an object, no/invalid id, unknown id (with a close match),
duplicate id (both lines named; neither line is scored), a protocol field the task does not take
(`text`/`image`/`images`/`choice` against the task's `accepts`), a required field missing (the
task's `requires`), bad field types, an MCQ permutation that is not one of A-D, and for each image:
absolute path, path escaping the predictions folder, missing/unreadable file, bad base64 data URI,
over 64 megapixels (header only, nothing is decoded). Keys outside the protocol fields are metadata.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rolescape.errors import InputError, ValidationFailed
from rolescape.io import check_input_file
from rolescape.schemas.predictions import Prediction
from rolescape.schemas.tasks import TASK_MODELS, TASKS

PROTOCOL_FIELDS: tuple[str, ...] = ("text", "image", "images", "choice")
PERMUTATION_KEYS: tuple[str, ...] = ("options_permutation", "permutation")  # MCQ metadata, first wins
LETTERS: tuple[str, ...] = ("A", "B", "C", "D")
MCQ_TASKS: tuple[str, ...] = ("knowledge_mcq", "visual_mcq")
MAX_SUGGESTIONS = 50
# Keys people use for a protocol field (e.g. the release's inference dicts): named in the hint.
_FIELD_HINTS: dict[str, str] = {
    "response": "text",
    "output": "text",
    "answer": "text or choice",
    "prediction": "text or choice",
    "completion": "text",
    "letter": "choice",
    "image_path": "image",
    "image_paths": "images",
    "img": "image",
    "path": "image",
}


@dataclass
class PredictionReport:
    """The outcome of checking one predictions file."""

    path: Path
    predictions: list[Prediction] = field(default_factory=list)  # valid, in the selected tasks, file order
    problems: list[str] = field(default_factory=list)  # one line each, file order
    lines: dict[str, int] = field(default_factory=dict)  # valid id -> line number
    task_of: dict[str, str] = field(default_factory=dict)  # valid id -> task
    image_sha256: dict[str, list[str]] = field(default_factory=dict)  # valid id -> sha256 per image
    n_lines: int = 0
    invalid_ids: set[str] = field(default_factory=set)
    n_out_of_scope: int = 0  # valid lines of unselected tasks

    @property
    def ok(self) -> bool:
        return not self.problems

    def raise_if_problems(self, header: str | None = None) -> None:
        if self.problems:
            n = len(self.problems)
            raise ValidationFailed(
                self.problems,
                header
                or (
                    f"{self.path}: {n} problem{'s' if n != 1 else ''} in the predictions; nothing was scored "
                    "(use --allow-partial to score the valid lines)"
                ),
            )


def task_ids(data: Any, task: str) -> list[str]:
    """The item ids of one task config, read from the id column only (no image bytes)."""
    import pyarrow.parquet as pq

    from rolescape.dataset import TASK_SPLIT, parquet_relpath

    if hasattr(data, "read_table"):  # BuiltDataset: the file is verified against the manifest first
        table = data.read_table(task, TASK_SPLIT, columns=["id"])
        return [] if table is None else [str(x) for x in table.column("id").to_pylist()]
    p = Path(data.path) / parquet_relpath(task, TASK_SPLIT)
    if not p.is_file():
        raise InputError(f"config {task!r} split {TASK_SPLIT!r} is missing", path=p)
    return [str(x) for x in pq.read_table(p, columns=["id"]).column("id").to_pylist()]


def available_tasks(data: Any) -> list[str]:
    """Tasks of the protocol that the built dataset has a config for, in protocol order."""
    configs = data.configs()
    return [t for t in TASKS if t in configs]


def item_index(data: Any) -> dict[str, str]:
    """id -> task over every task config of the built dataset."""
    index: dict[str, str] = {}
    for task in available_tasks(data):
        for i in task_ids(data, task):
            index[i] = task
    return index


def _open_data(data: Any) -> Any:
    if isinstance(data, (str, Path)):
        from rolescape.dataset import BuiltDataset

        return BuiltDataset(data)
    return data


def _present(obj: Mapping[str, Any], name: str) -> bool:
    v = obj.get(name)
    if v is None:
        return False
    if name == "images" and isinstance(v, list) and not v:
        return False
    return True


def parse_permutation(value: Any) -> list[str]:
    """A permutation of the options as the list of original letters shown at A, B, C, D (e.g.
    ["C", "A", "D", "B"]: the shown option A is the original C). A string "CADB" is accepted too."""
    if isinstance(value, str):
        value = list(value.strip().upper())
    if not isinstance(value, list) or sorted(str(v).upper() for v in value) != list(LETTERS):
        raise InputError(f"options permutation must list A, B, C, D once each (got {value!r})")
    return [str(v).upper() for v in value]


def prediction_permutation(pred: Prediction) -> list[str] | None:
    meta = pred.metadata
    for k in PERMUTATION_KEYS:
        if meta.get(k) is not None:
            return parse_permutation(meta[k])
    return None


def _format_validation(e: ValidationError) -> list[str]:
    out = []
    for err in e.errors():
        loc = ".".join(str(x) for x in err.get("loc", ())) or "line"
        msg = err.get("msg", "invalid")
        if loc == "choice":
            msg = f"must be one of A, B, C, D (got {err.get('input')!r})"
        out.append(f"field {loc!r}: {msg}")
    return out


def _suggest(ident: str, index: Mapping[str, str], by_task: Mapping[str, list[str]]) -> str:
    task = ident.split("/", 1)[0]
    pool = by_task.get(task) or list(index)
    close = difflib.get_close_matches(ident, pool, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def check_predictions(
    path: str | Path, data: Any, tasks: Sequence[str] | None = None, *, check_images: bool = True
) -> PredictionReport:
    """Check every line of a predictions file against the built dataset `data` (BuiltDataset or folder).

    Returns the valid predictions of the selected `tasks` (all tasks when None) with every problem
    found; nothing is decoded and no model is loaded.
    """
    from rolescape.metrics.images_io import check_image

    path = check_input_file(path, what="predictions file")  # not found / a folder / a loop: one line
    data = _open_data(data)
    rep = PredictionReport(path=path)
    disp = str(path)
    root = path.resolve().parent
    index = item_index(data)
    by_task: dict[str, list[str]] = {}
    for i, t in index.items():
        by_task.setdefault(t, []).append(i)
    selected = set(tasks) if tasks is not None else None

    n_unknown = 0
    first_line: dict[str, int] = {}
    duplicated: set[str] = set()
    parsed: list[tuple[int, str, Prediction, list[str]]] = []  # (line, id, prediction, image shas)

    with open(path, "rb") as f:
        raw_lines = f.read().split(b"\n")
    for lineno, raw in enumerate(raw_lines, 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            rep.problems.append(f"{disp}:{lineno}: not valid UTF-8 (byte {e.start + 1})")
            continue
        if lineno == 1:
            line = line.lstrip("\ufeff")
        if not line.strip():
            continue
        rep.n_lines += 1
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            rep.problems.append(f"{disp}:{lineno}:{e.colno}: malformed JSON: {e.msg}")
            continue
        except RecursionError:
            rep.problems.append(f"{disp}:{lineno}: JSON nested too deeply to read")
            continue
        if not isinstance(obj, dict):
            rep.problems.append(f"{disp}:{lineno}: not a JSON object (got {type(obj).__name__})")
            continue
        if "id" not in obj:
            rep.problems.append(f"{disp}:{lineno}: no 'id'")
            continue
        ident = obj["id"]
        if not isinstance(ident, str) or not ident:
            rep.problems.append(f"{disp}:{lineno}: 'id' must be a non-empty string (got {ident!r})")
            continue
        at = f"{disp}:{lineno}: id {ident!r}"
        if ident not in index:
            n_unknown += 1  # a fuzzy search per line: suggestions for the first few only
            hint = _suggest(ident, index, by_task) if n_unknown <= MAX_SUGGESTIONS else ""
            rep.problems.append(f"{at}: unknown id (not in any task of the dataset){hint}")
            continue
        if ident in first_line:
            rep.problems.append(
                f"{at}: duplicate id, first on line {first_line[ident]} (neither line is scored)"
            )
            duplicated.add(ident)
            continue
        first_line[ident] = lineno
        task = index[ident]
        model = TASK_MODELS[task]
        errs: list[str] = []

        for name in PROTOCOL_FIELDS:
            if obj.get(name) is not None and name not in model.accepts:
                takes = ", ".join(sorted(model.accepts)) or "nothing"
                errs.append(f"field {name!r} is not taken by task {task!r} (it takes {takes})")
        if obj.get("image") is not None and obj.get("images") is not None:
            errs.append("give 'image' or 'images', not both")
        if isinstance(obj.get("choice"), str) and len(obj["choice"].strip()) == 1:
            obj["choice"] = obj["choice"].strip().upper()
        pred: Prediction | None = None
        try:
            pred = Prediction.model_validate(obj)
        except ValidationError as e:
            errs.extend(_format_validation(e))
        for group in model.requires:
            if not any(_present(obj, g) for g in group):
                need = " or ".join(repr(g) for g in group)
                hints = sorted(
                    {k for k in obj if k in _FIELD_HINTS and any(h in _FIELD_HINTS[k] for h in group)}
                )
                hint = f" (found {', '.join(repr(h) for h in hints)}: rename it)" if hints else ""
                errs.append(f"missing required field {need}{hint}")
        if task in MCQ_TASKS:
            for k in PERMUTATION_KEYS:
                if obj.get(k) is not None:
                    try:
                        parse_permutation(obj[k])
                    except InputError as e:
                        errs.append(f"metadata {k!r}: {e.detail}")
                    break
        shas: list[str] = []
        if pred is not None and check_images:
            for ref in pred.image_refs():
                try:
                    sha, _ = check_image(ref, root)
                    shas.append(sha)
                except InputError as e:
                    errs.append(e.detail)
        elif pred is not None:
            shas = ["" for _ in pred.image_refs()]
        if errs or pred is None:
            rep.problems.extend(f"{at}: {m}" for m in errs)
            rep.invalid_ids.add(ident)
            continue
        parsed.append((lineno, ident, pred, shas))

    rep.invalid_ids |= duplicated
    for lineno, ident, pred, shas in parsed:
        if ident in duplicated:
            continue
        task = index[ident]
        if selected is not None and task not in selected:
            rep.n_out_of_scope += 1
            continue
        rep.predictions.append(pred)
        rep.lines[ident] = lineno
        rep.task_of[ident] = task
        rep.image_sha256[ident] = shas
    if rep.n_lines == 0 and not rep.problems:
        rep.problems.append(f"{disp}: no predictions (the file is empty)")
    return rep


def load_predictions(
    path: str | Path, data: Any, tasks: Sequence[str] | None = None
) -> tuple[list[Prediction], list[str]]:
    """(valid predictions of the selected tasks, problems: one line each naming file:line and id)."""
    rep = check_predictions(path, data, tasks)
    return rep.predictions, rep.problems


def coverage(
    report: PredictionReport, data: Any, tasks: Iterable[str] | None = None
) -> dict[str, tuple[int, int]]:
    """task -> (valid predictions, items in the dataset) for the given tasks (default: all present)."""
    data = _open_data(data)
    out: dict[str, tuple[int, int]] = {}
    for task in tasks if tasks is not None else available_tasks(data):
        ids = task_ids(data, task)
        have = sum(1 for i in ids if report.task_of.get(i) == task)
        out[task] = (have, len(ids))
    return out
