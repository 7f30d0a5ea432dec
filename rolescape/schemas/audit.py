"""An audit finding: one problem in the release, where it is, and what was done about it."""

from __future__ import annotations

from pydantic import Field

from rolescape.schemas.base import Record, Severity


class Finding(Record):
    code: str = Field(description="stable rule code, e.g. RS104")
    rule: str = Field(description="short rule name, e.g. 'probe-meta-text'")
    severity: Severity
    character: str | None = Field(None, description="character slug, or None for release-wide findings")
    file: str = Field(description="path relative to the release root")
    location: str = Field("", description="line, JSON path or item id")
    message: str
    repair: str | None = Field(None, description="what the builder did; None when nothing was changed")
