"""How records are stored in a build's parquet files beyond what Arrow types say.

Free-form dict fields (e.g. `VQAQuestion.extra`) have no fixed Arrow struct, so a build stores them
as JSON strings (sorted keys): `encode_rows` before writing, `decode_row` after reading, nested
records and lists of records included. The builder writes with it, `rolescape validate` and the
metric families' typed item view (`rolescape.metrics.base.task_item`) read with it.
"""

from __future__ import annotations

import functools
import json
import types
import typing
from typing import Any, get_args, get_origin

from pydantic import BaseModel

from rolescape.schemas.base import ImageData


@functools.cache
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


def _map_dict_fields(row: typing.Mapping[str, Any], spec: dict[str, Any], fn: Any) -> dict[str, Any]:
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


def decode_row(model: type[BaseModel], row: typing.Mapping[str, Any]) -> dict[str, Any]:
    """Undo `encode_rows` for one row read back from parquet."""
    return _map_dict_fields(row, _dict_fields(model), lambda v: json.loads(v) if isinstance(v, str) else v)
