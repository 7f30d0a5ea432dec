"""One line of predictions.jsonl (benchmark-protocol.md, "Predictions file")."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rolescape.schemas.base import Letter


class Prediction(BaseModel):
    """`id` plus what the task needs. Unknown keys are kept as metadata (extra='allow')."""

    model_config = ConfigDict(extra="allow")

    id: str
    text: str | None = None
    image: str | None = Field(None, description="path relative to the predictions file, or a data: URI")
    images: list[str] | None = None
    choice: Letter | None = None

    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    def image_refs(self) -> list[str]:
        if self.images is not None:
            return list(self.images)
        return [self.image] if self.image is not None else []
