"""`rolescape score --model NAME=DIR` end to end through the CLI: tiny random DINOv2 and open_clip
models saved to folders are loaded from there (recorded in results.json), their metrics are scored,
and the terminal gets the rich summary table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rolescape.cli import main
from tests.fixtures.tiny import CHARS, make_tiny_dataset
from tests.metrics.image import png
from tests.metrics.image.test_engine_offline import _add_reference_images

pytest.importorskip("torch")


def _preds(folder: Path) -> Path:
    folder.mkdir()
    lines = []
    for c, slug in enumerate(CHARS):
        for j in range(2):
            name = f"{slug}-{j}.png"
            (folder / name).write_bytes(png(40, 36, 20 * c + j + 1))
            lines.append(json.dumps({"id": f"t2i/{slug}/{j}", "image": name}))
    p = folder / "predictions.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def test_score_cli_with_local_model_folders(tmp_path: Path, tiny_dino_dir, tiny_openclip_dir, capsys):
    ds = make_tiny_dataset(tmp_path / "built")
    _add_reference_images(ds)
    pfile = _preds(tmp_path / "preds")
    out = tmp_path / "run"
    rc = main(
        [
            "score",
            str(pfile),
            "--data",
            str(ds),
            "--tasks",
            "t2i",
            "--families",
            "image_identity,image_text",
            "--model",
            f"dino={tiny_dino_dir}",
            "--model",
            f"clip={tiny_openclip_dir}",
            "--device",
            "cpu",
            "--bootstrap",
            "20",
            "--no-progress",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--out",
            str(out),
        ]
    )
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    res = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert str(tiny_dino_dir) in res["models"]["dino"]["source"]
    assert str(tiny_openclip_dir) in res["models"]["clip"]["source"]
    t2i = res["tasks"]["t2i"]["metrics"]
    for m in ("dino", "dino_max", "paper_dino_penalty", "clip_i", "clip_t", "paper_clip_t"):
        assert t2i[m]["n"] == 6 and t2i[m]["mean"] is not None, m
    skipped = {(s["task"], s["metric"]) for s in res["skipped"]}
    assert ("t2i", "dino") not in skipped and ("t2i", "clip_i") not in skipped
    # the rich summary table, with the metric rows and their means
    text = captured.out + captured.err
    assert "┃ task" in text and "clip_i" in text and "dino_max" in text
    assert f"{t2i['dino']['mean']:.4f}" in text


def test_score_cli_model_folder_that_is_not_a_model_is_skipped_with_reason(tmp_path: Path, capsys):
    ds = make_tiny_dataset(tmp_path / "built")
    _add_reference_images(ds)
    pfile = _preds(tmp_path / "preds")
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "run"
    rc = main(
        [
            "score",
            str(pfile),
            "--data",
            str(ds),
            "--tasks",
            "t2i",
            "--families",
            "image_identity",
            "--model",
            f"dino={empty}",
            "--device",
            "cpu",
            "--bootstrap",
            "0",
            "--no-progress",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--out",
            str(out),
        ]
    )
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    res = json.loads((out / "results.json").read_text(encoding="utf-8"))
    reasons = {s["metric"]: s["reason"] for s in res["skipped"] if s["task"] == "t2i"}
    assert "dino_max" in reasons and str(empty) in reasons["dino_max"]
    # the terminal shows every reason whole (wrapped, never cropped at the console width)
    shown = " ".join((captured.out + captured.err).split())
    for reason in set(reasons.values()):
        assert " ".join(reason.split()) in shown, reason
