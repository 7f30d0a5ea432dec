"""rolescape.schemas.export_json_schemas: one JSON Schema per record, reproducible, and what it says."""

from __future__ import annotations

import json
from pathlib import Path

from rolescape.schemas import SCHEMAS, export_json_schemas
from rolescape.schemas.spec import FAMILY_CONFIGS


def test_one_schema_file_per_record_written_the_same_twice(tmp_path: Path) -> None:
    a = export_json_schemas(tmp_path / "a")
    b = export_json_schemas(tmp_path / "b")
    assert [p.name for p in a] == sorted(f"{n}.schema.json" for n in SCHEMAS)
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [p.name for p in a]  # nothing else left


def test_schemas_describe_the_records(tmp_path: Path) -> None:
    paths = {p.name.removesuffix(".schema.json"): p for p in export_json_schemas(tmp_path)}
    schemas = {n: json.loads(p.read_text()) for n, p in paths.items()}
    for name, model in SCHEMAS.items():
        assert schemas[name]["title"] == model.__name__
        assert set(model.model_fields) == set(schemas[name]["properties"]), name
    mcq = schemas["task_knowledge_mcq"]
    assert mcq["additionalProperties"] is False  # strict records say so
    assert set(mcq["required"]) >= {"id", "character", "item", "question", "options", "answer_key"}
    answer = mcq["properties"]["answer_key"]
    assert answer.get("enum") == ["A", "B", "C", "D"]
    assert schemas["prediction"].get("additionalProperties", True) is not False  # extra keys are metadata
    assert "pattern" in schemas["character"]["properties"]["id"]  # the slug rule travels with the schema
    fams = schemas["score_spec"]["properties"]["families"]["properties"]
    assert set(FAMILY_CONFIGS) <= set(fams)
