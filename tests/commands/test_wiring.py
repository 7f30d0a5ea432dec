"""rolescape.cli and rolescape.commands: every command module registers, every command answers
--help, errors become one line with exit 2, and the small helpers the score command is built from."""

from __future__ import annotations

import importlib
import io
import json
from pathlib import Path

import pytest
import typer
from rich.console import Console

from rolescape.cli import COMMAND_MODULES, main
from rolescape.commands._progress import stage_progress
from rolescape.commands.score import _parse_models, _split_list, load_spec, partial_note, skipped_lines
from rolescape.errors import InputError
from rolescape.schemas.results import Results

COMMANDS = {
    "build", "validate", "push", "schema", "score", "merge-runs", "validate-predictions", "shuffle-options",
    "baseline", "leaderboard", "push-results", "meta-eval", "generate", "merge-predictions", "train",
}  # fmt: skip


def _names(app: typer.Typer) -> set[str]:
    return {c.name for c in app.registered_commands if c.name} | {
        g.name for g in app.registered_groups if g.name
    }


def test_each_command_module_registers_its_own_commands() -> None:
    seen: set[str] = set()
    for name in COMMAND_MODULES:
        app = typer.Typer()
        importlib.import_module(name).register(app)
        own = _names(app)
        assert own, f"{name} registers no command"
        assert not own & seen, f"{name} registers a command twice: {own & seen}"
        seen |= own
    assert seen == COMMANDS


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_answers_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    assert "Usage" in capsys.readouterr().out


def test_a_library_error_is_one_red_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["validate-predictions", str(tmp_path / "none.jsonl"), "--data", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    assert "no manifest.json" in err and "Traceback" not in err


def test_an_unknown_option_is_a_usage_error_not_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["score", "--no-such-option"])
    err = capsys.readouterr().err
    assert rc == 2 and "No such option: --no-such-option" in err and "Traceback" not in err


def test_list_and_model_options() -> None:
    assert _split_list(["a,b", " c ", ",,"]) == ["a", "b", "c"]
    assert _split_list([]) is None and _split_list([" , "]) is None
    assert _parse_models(["clip = /m/clip", "dino=/m/dino"]) == {"clip": "/m/clip", "dino": "/m/dino"}
    for bad in ("clip", "=/m", "clip="):
        with pytest.raises(InputError, match="expected NAME=PATH"):
            _parse_models([bad])


def test_load_spec_refusals_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="spec file not found"):
        load_spec(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(InputError, match="not a JSON file"):
        load_spec(tmp_path / "bad.json")
    (tmp_path / "spec.json").write_text(json.dumps({"data": "d", "predictions": "p", "batch_size": 0}))
    with pytest.raises(InputError) as e:
        load_spec(tmp_path / "spec.json")
    assert str(e.value).startswith(str(tmp_path / "spec.json")) and "batch size must be at least 1" in str(
        e.value
    )
    (tmp_path / "ok.json").write_text(json.dumps({"data": "d", "predictions": "p", "limit": 3}))
    assert load_spec(tmp_path / "ok.json").limit == 3


def test_skipped_metrics_are_grouped_by_reason_and_partial_runs_say_so() -> None:
    base = Results.model_construct(partial=False, limit=None, shard=None, skipped=[])
    assert partial_note(base) is None and skipped_lines(base) == []
    part = base.model_copy(update={"partial": True, "limit": 5, "shard": "0/2"})
    note = partial_note(part)
    assert note is not None and "--limit 5, --shard 0/2" in note and "do not compare" in note

    class Skip:
        def __init__(self, task: str, metric: str, reason: str) -> None:
            self.task, self.metric, self.reason = task, metric, reason

    res = base.model_copy(
        update={
            "skipped": [
                Skip("*", "face_sim", "no insightface"),
                Skip("t2i", "dino", "no insightface"),
                Skip("*", "vqa", "offline"),
            ]
        }
    )
    assert skipped_lines(res) == ["skipped face_sim, t2i/dino: no insightface", "skipped vqa: offline"]


def test_progress_draws_only_on_a_terminal() -> None:
    quiet = io.StringIO()
    with stage_progress(Console(file=quiet, force_terminal=False), unit="items") as update:
        update("scoring t2i", 0, 4)
        update("scoring t2i", 4, 4)
    assert quiet.getvalue() == ""
    loud = io.StringIO()
    with stage_progress(Console(file=loud, force_terminal=True, width=100), unit="items") as update:
        update("scoring t2i", 4, 4)
    assert "scoring t2i" in loud.getvalue() and "4/4" in loud.getvalue()
    off = io.StringIO()
    with stage_progress(Console(file=off, force_terminal=True), enabled=False) as update:
        update("x", 1, 1)
    assert off.getvalue() == ""
