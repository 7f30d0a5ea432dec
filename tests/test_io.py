"""rolescape.io: the one path check, output-folder checks, JSON reading and atomic writes.

The property-style sweep of hostile names through builds and predictions lives in
tests/builders/test_hostile_paths.py; here each refusal is shown once, by its reason code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from rolescape.errors import InputError, OutputError
from rolescape.io import (
    PathRefused,
    check_input_file,
    check_out_dir,
    hash_obj,
    is_inside,
    loads_json,
    read_jsonl,
    resolve_inside,
    write_json_atomic,
    write_jsonl_atomic,
)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "root"
    (r / "sub").mkdir(parents=True)
    (r / "ok.txt").write_text("ok")
    (r / "sub" / "inner.txt").write_text("inner")
    (tmp_path / "secret.txt").write_text("outside")
    os.symlink(tmp_path / "secret.txt", r / "out_link.txt")
    os.symlink(tmp_path, r / "out_dir")
    os.symlink(r / "ok.txt", r / "in_link.txt")
    os.symlink(r / "loop_b", r / "loop_a")
    os.symlink(r / "loop_a", r / "loop_b")
    return r


def _reason(root: Path, rel: str, **kw: object) -> str:
    with pytest.raises(PathRefused) as e:
        resolve_inside(root, rel, **kw)  # type: ignore[arg-type]
    assert "\n" not in str(e.value)
    return e.value.reason


def test_resolve_inside_accepts_files_and_links_that_stay_inside(root: Path) -> None:
    assert resolve_inside(root, "ok.txt", must="file") == (root / "ok.txt").resolve()
    assert resolve_inside(root, "sub/inner.txt", must="file").read_text() == "inner"
    assert resolve_inside(root, "in_link.txt", must="file") == (root / "ok.txt").resolve()
    assert resolve_inside(root, "sub", must="dir") == (root / "sub").resolve()
    assert resolve_inside(root, "sub/../ok.txt") == (root / "ok.txt").resolve()  # `..` that stays inside


@pytest.mark.parametrize(
    "rel, reason",
    [
        ("out_link.txt", "escapes"),  # a symlink to a file outside the root
        ("out_dir/secret.txt", "escapes"),  # through a symlinked folder
        ("../secret.txt", "escapes"),
        ("sub/../../secret.txt", "escapes"),
        ("/etc/passwd", "absolute"),
        ("~/x", "absolute"),
        ("C:\\x.txt", "absolute"),
        ("a\x00b", "not_a_path"),
        ("", "not_a_path"),
        ("x" * 300, "not_a_path"),
        ("loop_a", "loop"),
    ],
)
def test_resolve_inside_refuses_with_a_reason_code(root: Path, rel: str, reason: str) -> None:
    assert _reason(root, rel) == reason


def test_resolve_inside_must_names_the_kind(root: Path) -> None:
    assert _reason(root, "missing.txt", must="file") == "missing"
    assert _reason(root, "sub", must="file") == "folder"
    assert _reason(root, "ok.txt", must="dir") == "not_folder"


def test_resolve_inside_message_names_file_line_and_entry(root: Path) -> None:
    with pytest.raises(PathRefused) as e:
        resolve_inside(
            root, "../secret.txt", what="image", path="preds.jsonl", where="3", root_name="the run"
        )
    assert str(e.value) == "preds.jsonl:3: image '../secret.txt': escapes the run"
    assert isinstance(e.value, InputError)


def test_is_inside_resolves_links(root: Path, tmp_path: Path) -> None:
    assert is_inside(root, root / "sub")
    assert not is_inside(root, root / "out_link.txt")
    assert not is_inside(root, tmp_path / "root-sibling")  # a shared name prefix is not inside


def test_check_out_dir_refusals(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "deep").mkdir(parents=True)
    a_file = tmp_path / "f.txt"
    a_file.write_text("x")
    os.symlink(tmp_path / "nowhere", tmp_path / "dangling")
    cases = {
        str(a_file): "exists and is not a folder",
        str(tmp_path / "dangling"): "exists and is not a folder",
        str(src / "deep" / "out"): "is inside --source",
        str(tmp_path): "contains --source",
        str(a_file / "below"): "is not a folder)",
        "bad\x00name": "contains a NUL character",
    }
    for out, words in cases.items():
        with pytest.raises(OutputError) as e:
            check_out_dir(out, source=src)
        assert words in str(e.value) and "\n" not in str(e.value), out
    ok = tmp_path / "new" / "deeper"
    assert check_out_dir(ok, source=src) == ok
    assert not ok.exists()  # checking writes nothing


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_check_out_dir_refuses_an_unwritable_parent(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(OutputError, match="is not writable"):
            check_out_dir(ro / "out", flag="--out-dir")
    finally:
        ro.chmod(0o755)


def test_check_input_file(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    with pytest.raises(InputError, match="predictions not found"):
        check_input_file(tmp_path / "none.jsonl", what="predictions")
    with pytest.raises(InputError, match="is a folder, not a file"):
        check_input_file(tmp_path / "d")
    os.symlink(tmp_path / "l2", tmp_path / "l1")
    os.symlink(tmp_path / "l1", tmp_path / "l2")
    with pytest.raises(InputError, match="symlink loop"):
        check_input_file(tmp_path / "l1")


def test_loads_json_errors_are_one_line_with_the_place() -> None:
    with pytest.raises(InputError) as e:
        loads_json('{"a": 1,\n "b": }', path="x.json")
    assert str(e.value).startswith("x.json:2:7: malformed JSON: ")
    with pytest.raises(InputError) as e:
        loads_json("[1, 2", path="p.jsonl", line=9)
    assert str(e.value).startswith("p.jsonl:9:")
    with pytest.raises(InputError, match="nested too deeply"):
        loads_json("[" * 100_000 + "]" * 100_000, path="deep.json")
    assert loads_json(b'{"k": [1, 2.5, null]}') == {"k": [1, 2.5, None]}


def test_atomic_writes_replace_whole_files_and_leave_no_temporaries(tmp_path: Path) -> None:
    p = tmp_path / "a" / "b.json"
    write_json_atomic(p, {"z": 1, "a": [1, 2]})
    assert json.loads(p.read_text()) == {"z": 1, "a": [1, 2]}
    write_json_atomic(p, {"second": True}, indent=None)
    assert p.read_text() == '{"second": true}\n'
    rows = [{"i": i} for i in range(3)]
    write_jsonl_atomic(tmp_path / "r.jsonl", rows)
    assert [(n, r) for n, r in read_jsonl(tmp_path / "r.jsonl")] == [(1, rows[0]), (2, rows[1]), (3, rows[2])]
    assert sorted(x.name for x in tmp_path.rglob("*") if x.is_file()) == ["b.json", "r.jsonl"]


def test_hash_obj_is_canonical() -> None:
    assert hash_obj({"a": 1, "b": [1, 2]}) == hash_obj({"b": [1, 2], "a": 1})
    assert hash_obj({"a": 1}) != hash_obj({"a": 2})
