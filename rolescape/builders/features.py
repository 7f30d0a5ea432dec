"""Derive Hugging Face `datasets` Features (and so the Arrow schema) from our pydantic records.

`ImageData` fields become `datasets.Image()` (original bytes embedded, decoded to PIL on load);
nested records become structs, lists become lists, and free-form dicts are stored as JSON strings
(`rolescape.schemas.stored`).
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel

from rolescape.schemas.base import ImageData

# The stored form of free-form dict fields lives with the schemas (readers need it too); re-exported.
from rolescape.schemas.stored import decode_row, encode_rows

__all__ = ["decode_row", "encode_rows", "features_for"]


def _feature(tp: Any) -> Any:
    import datasets

    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"unsupported union {tp}")
        return _feature(args[0])
    if origin is typing.Annotated:
        return _feature(get_args(tp)[0])
    if origin is Literal:
        return datasets.Value("string")
    if origin in (list, tuple):
        return datasets.List(_feature(get_args(tp)[0]))
    if origin is dict:
        return datasets.Value("string")  # JSON-encoded
    if isinstance(tp, type) and issubclass(tp, ImageData):
        return datasets.Image()
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return {name: _feature(f.annotation) for name, f in tp.model_fields.items()}
    mapping = {str: "string", int: "int64", float: "float64", bool: "bool", bytes: "binary"}
    if tp in mapping:
        return datasets.Value(mapping[tp])
    raise TypeError(f"unsupported field type {tp}")


def features_for(model: type[BaseModel], extra: dict[str, Any] | None = None) -> Any:
    import datasets

    feats = {name: _feature(f.annotation) for name, f in model.model_fields.items()}
    feats.update(extra or {})
    return datasets.Features(feats)
