"""CLIP-I / CLIP-T / DINO through the families (batched, cached) equal a plain per-image computation
through each library's own API, on tiny randomly initialised models loaded from disk."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest

from rolescape.metrics.base import ItemBatch, ScoreContext
from rolescape.schemas.predictions import Prediction
from tests.metrics.image import RefStore, png, write_images

torch = pytest.importorskip("torch")

TOL = 1e-5


def open_ref(data: bytes, alpha: str):
    """The alpha policy written out independently of rolescape: white compositing or convert('RGB')."""
    from PIL import Image

    img = Image.open(io.BytesIO(data))
    if alpha == "paper" or img.mode == "RGB":
        return img.convert("RGB")
    rgba = img.convert("RGBA")
    return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")


@pytest.fixture
def scene(tmp_path: Path):
    """Two characters with references (RGB and transparent RGBA, mixed sizes); four t2i items with one to
    three generated images each, written next to a predictions file."""
    refs = {
        "tess": [png(48, 40, 1), png(30, 30, 2, mode="RGBA", alpha_hole=True), png(64, 50, 3)],
        "odo": [png(40, 60, 4), png(36, 36, 5, mode="RGBA", alpha_hole=True)],
    }
    gen = {
        f"g{i}.png": png(40 + 4 * i, 44, 10 + i, mode="RGBA" if i % 2 else "RGB", alpha_hole=True)
        for i in range(7)
    }
    write_images(tmp_path / "preds", gen)
    layout = [
        ("tess", ["g0.png"]),
        ("tess", ["g1.png", "g2.png"]),
        ("odo", ["g3.png", "g4.png", "g5.png"]),
        ("odo", ["g6.png"]),
    ]
    items, preds = [], []
    for n, (slug, names) in enumerate(layout):
        iid = f"t2i/{slug}/{n}"
        items.append(
            {
                "id": iid,
                "task": "t2i",
                "character": slug,
                "item": str(n),
                "prompt": f"{slug} flying a red kite on a windy hill, picture number {n}",
                "reference_image": {
                    "bytes": png(50, 50, 100 + n, mode="RGBA", alpha_hole=True),
                    "path": None,
                },
                "reference_image_key": f"test/{slug}/{n}",
            }
        )
        preds.append(
            Prediction(id=iid, images=names) if len(names) > 1 else Prediction(id=iid, image=names[0])
        )
    return RefStore(refs), items, preds, gen, tmp_path


def _ctx(scene, tmp_path, alpha="white", batch_size=2, **paths):
    store, _items, _preds, _gen, root = scene
    return ScoreContext(
        data=store,
        profile="paper",
        alpha=alpha,
        batch_size=batch_size,
        model_paths={k: str(v) for k, v in paths.items()},
        cache_dir=tmp_path / "cache",
        predictions_root=root / "preds",
    )


def _norm(x):
    x = x.detach().float()[0]
    return (x / x.norm()).numpy()


@pytest.mark.parametrize("alpha", ["white", "paper"])
def test_clip_i_and_dino_match_plain_per_image(scene, tmp_path, tiny_openclip_dir, tiny_dino_dir, alpha):
    import open_clip
    from transformers import AutoImageProcessor, Dinov2Model

    from rolescape.metrics.image.identity import IdentityFamily

    store, items, preds, gen, _ = scene
    ctx = _ctx(scene, tmp_path, alpha=alpha, clip=tiny_openclip_dir, dino=tiny_dino_dir)
    fam = IdentityFamily()
    fam.prepare(ctx, ["t2i"])
    assert {m for _, m, _ in ctx.skipped} == {
        "face_sim",
        "face_sim_novel",
        "no_face",
    }  # insightface: not installed here
    assert {"clip", "clip.paper", "dino"} <= set(ctx.models)
    out = fam.score(ItemBatch("t2i", items, preds), ctx)

    model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{tiny_openclip_dir}")
    model.eval()
    dmodel = Dinov2Model.from_pretrained(tiny_dino_dir).eval()
    dproc = AutoImageProcessor.from_pretrained(tiny_dino_dir, backend="pil")

    def clip_e(b):
        with torch.no_grad():
            return _norm(model.encode_image(preprocess(open_ref(b, alpha)).unsqueeze(0)))

    def dino_e(b):
        with torch.no_grad():
            px = dproc(images=open_ref(b, alpha), return_tensors="pt")["pixel_values"]
            return _norm(dmodel(pixel_values=px).last_hidden_state[:, 0, :])

    def band(s):
        return -(s - 0.9) * 2 if s > 0.9 else (-(0.5 - s) * 2 if s < 0.5 else 0.0)

    for it, p, got in zip(items, preds, out, strict=True):
        gens = [gen[r] for r in p.image_refs()]
        rc = [clip_e(b) for b in store.refs[it["character"]]]
        rd = [dino_e(b) for b in store.refs[it["character"]]]
        gt = clip_e(it["reference_image"]["bytes"])
        gc = [clip_e(b) for b in gens]
        gd = [dino_e(b) for b in gens]
        want = {
            "clip_i": np.mean([np.mean([float(g @ r) for r in rc]) for g in gc]),
            "clip_i_gt": np.mean([float(g @ gt) for g in gc]),
            "dino": np.mean([np.mean([float(g @ r) for r in rd]) for g in gd]),
            "dino_max": np.mean([max(float(g @ r) for r in rd) for g in gd]),
            "paper_dino_penalty": np.mean([band(max(float(g @ r) for r in rd)) for g in gd]),
        }
        for k, v in want.items():
            assert got[k] == pytest.approx(v, abs=TOL), (it["id"], k)
        assert "face_sim" not in got  # skipped metrics are not emitted


def test_scores_do_not_depend_on_batch_size_or_cache(scene, tmp_path, tiny_openclip_dir, tiny_dino_dir):
    from rolescape.metrics.encoders import forget_encoders
    from rolescape.metrics.image.identity import IdentityFamily

    _, items, preds, _, _ = scene
    results = []
    for bs in (1, 8, 8):  # the third run reads everything from the cache
        forget_encoders()
        ctx = _ctx(scene, tmp_path, batch_size=bs, clip=tiny_openclip_dir, dino=tiny_dino_dir)
        fam = IdentityFamily()
        fam.prepare(ctx, ["t2i"])
        results.append(fam.score(ItemBatch("t2i", items, preds), ctx))
    for a, b in zip(results[0], results[1], strict=True):
        for k in a:
            assert a[k] == pytest.approx(b[k], abs=1e-6)
    assert results[1] == results[2]


def test_references_are_embedded_once_per_character(scene, tmp_path, tiny_openclip_dir, tiny_dino_dir):
    from rolescape.metrics.image.identity import IdentityFamily

    store, items, preds, _, _ = scene
    ctx = _ctx(scene, tmp_path, clip=tiny_openclip_dir, dino=tiny_dino_dir)
    fam = IdentityFamily()
    fam.prepare(ctx, ["t2i"])
    fam.score(ItemBatch("t2i", items[:2], preds[:2]), ctx)
    fam.score(ItemBatch("t2i", items[2:], preds[2:]), ctx)
    fam.score(ItemBatch("t2i", items, preds), ctx)
    # one read per (character, encoder) across three batches: tess and odo, for clip and dino; the copy
    # detector's thumbnails (protocol v2) are taken from the pixels the first encoder decoded
    assert store.calls == 4


def test_copy_detection_decodes_nothing_the_encoders_decoded(
    scene, tmp_path, tiny_openclip_dir, tiny_dino_dir, monkeypatch
):
    """Cold: every distinct image is decoded once per encoder and never again for copy detection;
    warm (all embeddings cached): copy detection decodes each generated image and reference once."""
    import rolescape.metrics.images_io as images_io
    from rolescape.metrics.encoders import forget_encoders
    from rolescape.metrics.image.identity import IdentityFamily

    store, items, preds, gen, _ = scene
    real = images_io.load_image
    decoded: list[int] = []

    def counting(*a, **kw):
        decoded.append(1)
        return real(*a, **kw)

    monkeypatch.setattr(images_io, "load_image", counting)
    n_refs = sum(len(v) for v in store.refs.values())
    # clip: generated + references + GT images; dino has no GT metric, so no GT images
    cold = (len(gen) + n_refs + len(items)) + (len(gen) + n_refs)
    outs = []
    for _ in range(2):
        decoded.clear()
        forget_encoders()
        ctx = _ctx(scene, tmp_path, clip=tiny_openclip_dir, dino=tiny_dino_dir)
        fam = IdentityFamily()
        fam.prepare(ctx, ["t2i"])
        outs.append(fam.score(ItemBatch("t2i", items, preds), ctx))
        assert fam.copy_threshold is not None and "copy_rate" in outs[-1][0]
        assert len(decoded) == (cold if len(outs) == 1 else len(gen) + n_refs)
    assert outs[0] == outs[1]  # thumbnails from the encoders' decode == thumbnails from a fresh decode


def test_clip_t_paper_clip_t_xmodal_match_open_clip(scene, tmp_path, tiny_openclip_dir):
    import open_clip
    import torchvision.transforms as T

    from rolescape.metrics.image.alignment import AlignmentFamily

    _, items, preds, gen, _ = scene
    rp_items, rp_preds = [], []
    long_text = "a very long response " * 40  # far beyond 77 tokens: truncated
    for n, (it, p) in enumerate(zip(items, preds, strict=True)):
        rp_items.append(
            {
                **it,
                "task": "roleplay",
                "t2i_instruction": f"scene {n}: {it['prompt']}",
                "prompt": "RP template",
            }
        )
        rp_preds.append(
            Prediction(id=p.id, images=p.image_refs(), text=long_text if n == 0 else f"I fly kite {n}")
        )
    rp_preds[3] = Prediction(id=rp_preds[3].id, images=rp_preds[3].image_refs())  # no response text
    ctx = _ctx(scene, tmp_path, clip=tiny_openclip_dir)
    fam = AlignmentFamily()
    fam.prepare(ctx, ["roleplay"])
    out = fam.score(ItemBatch("roleplay", rp_items, rp_preds), ctx)

    model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{tiny_openclip_dir}")
    model.eval()
    tok = open_clip.get_tokenizer(f"local-dir:{tiny_openclip_dir}")
    mean, std = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)
    paper_tf = T.Compose([T.Resize(32), T.CenterCrop(32), T.Normalize(mean, std)])
    scale = float(model.logit_scale.detach().exp())

    def img_e(b, paper=False):
        im = open_ref(b, "white")
        if paper:
            x = torch.tensor(np.array(im), dtype=torch.uint8).permute(2, 0, 1).unsqueeze(0) / 255.0
            x = paper_tf(x)
        else:
            x = preprocess(im).unsqueeze(0)
        with torch.no_grad():
            return _norm(model.encode_image(x))

    def txt_e(t):
        with torch.no_grad():
            return _norm(model.encode_text(tok([t])))

    for it, p, got in zip(rp_items, rp_preds, out, strict=True):
        gens = [gen[r] for r in p.image_refs()]
        t = txt_e(it["t2i_instruction"])
        assert got["clip_t"] == pytest.approx(np.mean([float(img_e(b) @ t) for b in gens]), abs=TOL)
        assert got["paper_clip_t"] == pytest.approx(
            np.mean([scale * float(img_e(b, paper=True) @ t) / 30 for b in gens]), abs=TOL
        )
        if p.text:
            r = txt_e(p.text)
            assert got["xmodal"] == pytest.approx(np.mean([float(img_e(b) @ r) for b in gens]), abs=TOL)
        else:
            assert got["xmodal"] is None


def test_paper_clip_t_is_hf_logits_per_image_over_30(scene, tmp_path, tiny_hf_clip_dir):
    """The release's ClipScorer, written out with transformers: logits_per_image.diagonal() / 30."""
    import torch.nn as nn
    import torchvision.transforms as T
    from transformers import AutoImageProcessor, AutoTokenizer, CLIPModel

    from rolescape.metrics.image.alignment import AlignmentFamily

    _, items, preds, gen, _ = scene
    items = [dict(it) for it in items]
    items[0]["prompt"] = "tess " * 120  # over 77 tokens: the release truncates
    single = [Prediction(id=p.id, image=p.image_refs()[0]) for p in preds]
    ctx = _ctx(scene, tmp_path, clip=tiny_hf_clip_dir)
    fam = AlignmentFamily()
    fam.prepare(ctx, ["t2i"])
    assert ctx.models["clip"].id.startswith("transformers:")
    out = fam.score(ItemBatch("t2i", items, single), ctx)

    model = CLIPModel.from_pretrained(tiny_hf_clip_dir).eval()
    tok = AutoTokenizer.from_pretrained(tiny_hf_clip_dir)
    ip = AutoImageProcessor.from_pretrained(tiny_hf_clip_dir, backend="pil")
    cfg = ip.to_dict()
    tform = T.Compose(
        [
            T.Resize(cfg["size"]["shortest_edge"]) if cfg.get("do_resize") else nn.Identity(),
            T.CenterCrop((cfg["crop_size"]["height"], cfg["crop_size"]["width"])),
            T.Normalize(mean=ip.image_mean, std=ip.image_std),
        ]
    )
    for it, p, got in zip(items, single, out, strict=True):
        im = open_ref(gen[p.image], "white")
        pixels = torch.tensor(np.array(im)[None], dtype=torch.uint8).permute(0, 3, 1, 2) / 255.0
        texts = tok([it["prompt"]], padding="max_length", truncation=True, return_tensors="pt")
        with torch.no_grad():
            logits = model(pixel_values=tform(pixels), **texts).logits_per_image.diagonal() / 30
            ie = model.get_image_features(**ip(images=im, return_tensors="pt"))
            ie = ie if hasattr(ie, "shape") else ie.pooler_output
            te = model.get_text_features(**texts)
            te = te if hasattr(te, "shape") else te.pooler_output
        assert got["paper_clip_t"] == pytest.approx(float(logits[0]), abs=TOL)
        assert got["clip_t"] == pytest.approx(float(_norm(ie) @ _norm(te)), abs=TOL)
        assert math.isfinite(got["paper_clip_t"])


def test_dino_penalty_band():
    from rolescape.metrics.image.identity import dino_penalty

    assert dino_penalty(0.95) == pytest.approx(-0.1)
    assert dino_penalty(1.0) == pytest.approx(-0.2)
    assert dino_penalty(0.3) == pytest.approx(-0.4)
    assert dino_penalty(0.9) == 0.0 and dino_penalty(0.5) == 0.0 and dino_penalty(0.7) == 0.0
    assert dino_penalty(0.2, high=0.9, low=0.3) == pytest.approx(-0.2)  # the release's code default band
