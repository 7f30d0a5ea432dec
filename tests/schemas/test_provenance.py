"""`provenance.hostname_hash` is retired: results files that carry it still load (both loaders), and
nothing writes it again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rolescape.leaderboard.load import load_results as load_for_leaderboard
from rolescape.metrics.engine import load_results as load_for_engine
from rolescape.schemas.results import Results
from tests.fixtures.runs import write_run


@pytest.mark.parametrize("old_value", [None, "9f2c0d1e"])
def test_an_older_results_file_with_hostname_hash_still_loads(tmp_path: Path, old_value: str | None) -> None:
    run = write_run(tmp_path, "m", 0.1)
    obj = json.loads((run / "results.json").read_text())
    assert "hostname_hash" not in obj["provenance"]  # not written any more
    obj["provenance"]["hostname_hash"] = old_value  # as every results.json written before carries it
    (run / "results.json").write_text(json.dumps(obj))
    for load in (load_for_leaderboard, load_for_engine):
        res = load(run)
        assert res.provenance.git_hash == "0123456789abcdef"
        assert "hostname_hash" not in res.model_dump(mode="json")["provenance"]
        assert "hostname_hash" not in json.loads(res.model_dump_json())["provenance"]


def test_the_schema_still_names_the_field_and_stays_closed(tmp_path: Path) -> None:
    """Validators of older files accept the key; any other unknown key is still refused."""
    from rolescape.errors import InputError

    assert "hostname_hash" in Results.model_json_schema()["$defs"]["Provenance"]["properties"]
    run = write_run(tmp_path, "m", 0.1)
    obj = json.loads((run / "results.json").read_text())
    obj["provenance"]["host_name"] = "lab-7"
    (run / "results.json").write_text(json.dumps(obj))
    with pytest.raises(InputError, match="host_name"):
        load_for_leaderboard(run)
