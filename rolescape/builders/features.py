"""Derive Hugging Face `datasets` Features (and so the Arrow schema) from our pydantic records.

`ImageData` fields become `datasets.Image()` (original bytes embedded, decoded to PIL on load);
nested records become structs, lists become lists, and free-form dicts are stored as JSON strings.
"""

from __future__ import annotations

import json
import types
import typing
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel

from rolescape.schemas.base import ImageData


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


def _dict_fields(model: type[BaseModel]) -> dict[str, Any]:
    """Field name -> nested spec telling `encode_row` where dicts must become JSON strings."""
    spec: dict[str, Any] = {}
    for name, f in model.model_fields.items():
        tp = f.annotation
        alts = get_args(tp) if get_origin(tp) in (typing.Union, types.UnionType) else (tp,)
        for a in alts:
            if get_origin(a) is dict:
                spec[name] = "json"
            elif get_origin(a) in (list, tuple):
                inner = get_args(a)[0]
                if (
                    isinstance(inner, type)
                    and issubclass(inner, BaseModel)
                    and not issubclass(inner, ImageData)
                ):
                    sub = _dict_fields(inner)
                    if sub:
                        spec[name] = ("list", sub)
            elif isinstance(a, type) and issubclass(a, BaseModel) and not issubclass(a, ImageData):
                sub = _dict_fields(a)
                if sub:
                    spec[name] = ("struct", sub)
    return spec


def _map_dict_fields(row: dict[str, Any], spec: dict[str, Any], fn: Any) -> dict[str, Any]:
    """Apply `fn` to every free-form dict field of `row` (nested structs and lists included)."""
    row = dict(row)
    for k, how in spec.items():
        v = row.get(k)
        if v is None:
            continue
        if how == "json":
            row[k] = fn(v)
        elif how[0] == "list":
            row[k] = [_map_dict_fields(x, how[1], fn) for x in v]
        else:
            row[k] = _map_dict_fields(v, how[1], fn)
    return row


def encode_rows(model: type[BaseModel], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """JSON-encode free-form dict fields (deterministically) so that rows fit the Arrow schema."""
    spec = _dict_fields(model)
    if not spec:
        return rows
    return [
        _map_dict_fields(r, spec, lambda v: json.dumps(v, sort_keys=True, ensure_ascii=False)) for r in rows
    ]


def decode_row(model: type[BaseModel], row: dict[str, Any]) -> dict[str, Any]:
    """Undo `encode_rows` for one row read back from parquet."""
    return _map_dict_fields(row, _dict_fields(model), lambda v: json.loads(v) if isinstance(v, str) else v)
