"""RS104: a test image that is a near-duplicate of a train image of its character is listed (protocol v2:
copying that train image would match the ground truth)."""

from __future__ import annotations

import io
import json
from pathlib import Path

from PIL import Image, ImageOps

from rolescape.builders.build import build


def _rs104(out: Path) -> dict[str, str]:
    rows = [json.loads(line) for line in (out / "audit.jsonl").read_text(encoding="utf-8").splitlines()]
    return {r["file"]: r["message"] for r in rows if r["code"] == "RS104"}


def test_planted_flipped_copy_is_listed_and_real_test_images_are_not(demo_release: Path, tmp_path: Path):
    base = demo_release / "data" / "personalized_data"
    before = _rs104(build(demo_release, tmp_path / "a").out)
    keeper = "Harbor Lights-Keeper Nine"
    assert not any(keeper in f for f in before)  # its real test images are not copies
    src = Image.open(base / "train" / keeper / "0.png").convert("RGB")
    w, h = src.size
    planted = ImageOps.mirror(src).crop((w // 20, h // 20, w, h))
    buf = io.BytesIO()
    planted.save(buf, format="PNG")
    (base / "test" / keeper / "1.png").write_bytes(buf.getvalue())  # replaces a real test image
    after = _rs104(build(demo_release, tmp_path / "b").out)
    new = {f: m for f, m in after.items() if f not in before}
    assert list(new) == [f"data/personalized_data/test/{keeper}/1.png"]
    assert f"train/{keeper}/0.png" in new[f"data/personalized_data/test/{keeper}/1.png"]
