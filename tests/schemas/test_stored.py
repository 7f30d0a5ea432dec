"""rolescape.schemas.stored: free-form dict fields travel through parquet as JSON strings."""

from __future__ import annotations

import pyarrow as pa

from rolescape.schemas import T2IVQAItem
from rolescape.schemas.stored import decode_row, encode_rows


def _item(extra: dict) -> dict:
    q = {"question": "cat?", "type": "yes_no", "category": "object", "answer": "yes", "weight": 1.0,
         "is_negative": False, "choices": None, "extra": extra}  # fmt: skip
    return T2IVQAItem(
        id="t2i_vqa/a/0", character="a", item="0", prompt="p", vqa_questions_raw=[q], vqa_questions=[q]
    ).model_dump()


def test_nested_dicts_round_trip_through_arrow_and_validate_again() -> None:
    rows = [_item({"b": [1, 2], "a": "x"}), _item({})]
    encoded = encode_rows(T2IVQAItem, rows)
    assert encoded[0]["vqa_questions_raw"][0]["extra"] == '{"a": "x", "b": [1, 2]}'  # sorted keys
    assert encoded[1]["vqa_questions"][0]["extra"] == "{}"  # an empty dict fits the schema as a string
    back = pa.Table.from_pylist(encoded).to_pylist()  # what a reader gets from parquet
    decoded = [decode_row(T2IVQAItem, r) for r in back]
    assert decoded == rows
    assert T2IVQAItem.model_validate(decoded[0]).vqa_questions_raw[0].extra == {"b": [1, 2], "a": "x"}


def test_rows_of_a_model_without_dict_fields_are_left_alone() -> None:
    from rolescape.schemas import DialogueItem

    rows = [{"id": "d/a/0", "anything": {"k": 1}}]
    assert encode_rows(DialogueItem, rows) is rows
    assert decode_row(DialogueItem, rows[0]) == rows[0]
