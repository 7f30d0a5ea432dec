"""Shared base model and small types."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Split = Literal["train", "test"]
Letter = Literal["A", "B", "C", "D"]
Difficulty = Literal["easy", "medium", "hard"]
Severity = Literal["info", "warning", "error"]

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
Slug = Annotated[
    str,
    Field(pattern=SLUG_RE.pattern, description="character id: prefix lowercased, non-alphanumerics -> '-'"),
]


def slugify(prefix: str) -> str:
    """`Will In Vietnam` -> `will-in-vietnam` (benchmark-protocol.md: the file prefix lowercased)."""
    return re.sub(r"[^a-z0-9]+", "-", prefix.lower()).strip("-")


class Record(BaseModel):
    """Strict record: unknown fields are an error, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


class ImageData(Record):
    """An embedded image as the `datasets.Image()` feature stores it: the original file bytes."""

    bytes: bytes
    path: str | None = None
