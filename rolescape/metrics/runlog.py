"""The files of a run folder: the append-only, tamper-evident items log (`ItemsLog`), the writer lock,
the per-(item, family) resume keys, and reading results.json back."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rolescape import PROTOCOL_VERSION
from rolescape.errors import InputError, OutputError
from rolescape.io import hash_obj
from rolescape.metrics.cache import AppendLog
from rolescape.metrics.runspec import validation_message
from rolescape.schemas.predictions import Prediction
from rolescape.schemas.results import (
    ItemScore,
    Results,
)

ITEMS_FILE = "items.jsonl"
RESULTS_FILE = "results.json"

# ----------------------------------------------------------------------------------------------------
# items.jsonl: the append-only, tamper-evident per-item log


def line_check(rec: ItemScore) -> str:
    """sha256 of a line's content without its `check` field (what makes hand edits evident)."""
    return hash_obj(rec.model_dump(mode="json", exclude={"check"}))


def sealed(rec: ItemScore) -> ItemScore:
    """The record with its `check` filled in."""
    return rec.model_copy(update={"check": line_check(rec)})


def _dump_line(rec: ItemScore) -> str:
    from rolescape.io import dumps_canonical

    return dumps_canonical(rec.model_dump(mode="json"))


class ItemsLog:
    """The per-item log of a run folder (items.jsonl, or a rank's own log). A later line for an id
    replaces an earlier one; a line whose `check` does not match its content is not trusted."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.log = AppendLog(self.path)
        self.by_id: dict[str, ItemScore] = {}
        self.tampered: list[str] = []

    def load(self) -> dict[str, ItemScore]:
        """Every trusted line by id (last one wins). A torn tail is repaired; a corrupt line in the
        middle is an error (it is not a crash artefact); a line failing its check is left out."""
        self.by_id, self.tampered = {}, []
        for lineno, line in self.log.read():
            try:
                rec = ItemScore.model_validate_json(line)
            except ValueError:
                raise InputError(
                    "corrupt line in the per-item log; delete the line (or the run folder) to rescore",
                    path=self.path,
                    where=str(lineno),
                ) from None
            if rec.check is None or rec.check != line_check(rec):
                self.tampered.append(f"{self.path.name}:{lineno} ({rec.id})")
                self.by_id.pop(rec.id, None)
                continue
            self.by_id[rec.id] = rec
        return self.by_id

    def append(self, records: Sequence[ItemScore]) -> None:
        recs = [sealed(r) for r in records]
        self.log.append(_dump_line(r) for r in recs)
        for r in recs:
            self.by_id[r.id] = r

    def rewrite(self, records: Sequence[ItemScore]) -> None:
        recs = [sealed(r) for r in records]
        self.log.rewrite(_dump_line(r) for r in recs)
        self.by_id = {r.id: r for r in recs}


@contextlib.contextmanager
def _run_lock(run_dir: Path, name: str = ".lock") -> Iterator[None]:
    """One writer per run folder (or per rank log); POSIX advisory lock, elsewhere no lock."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX
        yield
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(run_dir / name, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise OutputError(f"{run_dir}: another `rolescape score` is writing to this run folder") from None
        yield
    finally:
        os.close(fd)


# ----------------------------------------------------------------------------------------------------
# keys


def prediction_digest(pred: Prediction, image_sha256: Sequence[str]) -> str:
    """Hash of a prediction's content: its fields and the sha256 of each of its images."""
    return hash_obj(
        {
            "id": pred.id,
            "prediction": pred.model_dump(mode="json", exclude_none=True),
            "images": list(image_sha256),
        }
    )


def family_key(
    prediction: str,
    *,
    family: str,
    version: str,
    config: Mapping[str, Any],
    models: Mapping[str, Any],
    dataset: str,
    profile: str,
    alpha: str,
) -> str:
    """The resume key of one (item, family): see the module docstring for what goes in."""
    return hash_obj(
        {
            "prediction": prediction,
            "family": family,
            "version": version,
            "config": dict(config),
            "models": dict(models),
            "dataset": dataset,
            "profile": profile,
            "alpha": alpha,
            "protocol": PROTOCOL_VERSION,
        }
    )


def jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, sort_keys=True, default=str))


def load_results(path: str | Path) -> Results:
    """Read a results.json (or the results.json inside a run folder)."""
    p = Path(path)
    if p.is_dir():
        p = p / RESULTS_FILE
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("results file not found", path=p) from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read the results file: {type(e).__name__}", path=p) from None
    try:
        return Results.model_validate_json(text)
    except ValidationError as e:
        raise InputError(validation_message(e, "not a rolescape results file: "), path=p) from None
