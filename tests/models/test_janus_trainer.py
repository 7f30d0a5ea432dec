"""The Janus adapter on the tiny random Janus (transformers, CPU, no download)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

pytest.importorskip("transformers")

from rolescape.errors import InputError  # noqa: E402
from rolescape.models import build_adapter  # noqa: E402
from rolescape.models.base import ImageRequest, Message, Prompt, Sampling, TextRequest  # noqa: E402
from rolescape.models.janus import JanusAdapter  # noqa: E402
from rolescape.trainer.config import LoraConfig, ModelConfig  # noqa: E402
from rolescape.trainer.loop import apply_lora  # noqa: E402
from rolescape.trainer.protocol import SampleSpec, SFTExample, TrainableAdapter  # noqa: E402


@pytest.fixture
def janus() -> JanusAdapter:
    a = JanusAdapter.for_training(ModelConfig(adapter="janus", model="tiny"), seed=0)
    a.module().eval()
    return a


def test_janus_is_both_a_generate_adapter_and_trainable(janus: JanusAdapter) -> None:
    assert isinstance(janus, TrainableAdapter)
    assert janus.capabilities.image_out and janus.capabilities.text_out and janus.capabilities.image_in
    assert sum(p.numel() for p in janus.module().parameters()) < 500_000


@pytest.mark.parametrize("guidance", [1.0, 4.0])
def test_sampling_logprobs_equal_teacher_forcing(janus: JanusAdapter, guidance: float) -> None:
    g = torch.Generator().manual_seed(0)
    prompt = ["Keeper Nine", Image.new("RGB", (20, 20), "orange"), " by the sea"]
    img = janus.sample(prompt, 4, SampleSpec(("image",), guidance=guidance, temperature=0.8), g)
    txt = janus.sample(prompt, 3, SampleSpec(("text",), max_text_tokens=8), g)
    with torch.no_grad():
        tf_i = janus.logprobs(img)
        tf_t = janus.logprobs(txt)
    assert torch.allclose(tf_i.image, img.logprobs_image, atol=1e-5)
    m = txt.text_mask
    assert torch.allclose(tf_t.text[m], txt.logprobs_text[m], atol=1e-5)
    if guidance != 1.0:
        with torch.no_grad():
            cond_only = janus.logprobs(img, "conditional").image
        assert not torch.allclose(cond_only, img.logprobs_image, atol=1e-3)


def test_vq_codes_round_trip_shapes_and_sft_losses(janus: JanusAdapter) -> None:
    codes = janus.backbone.encode_image(Image.new("RGB", (64, 64), "teal"))
    assert codes.shape == (16,) and int(codes.max()) < 64
    pil = janus.backbone.decode_images(codes[None])[0]
    assert pil.size == (16, 16)
    losses = janus.sft_losses(
        [SFTExample(["hi"], text="yo"), SFTExample(["draw"], image=Image.new("RGB", (16, 16), "red"))],
        [False, True],
    )
    assert losses["n_text"] == 3 and losses["n_image"] == 16
    (losses["text"] + losses["image"]).backward()
    head = janus.backbone.hf.model.generation_head.vision_head.weight
    assert head.grad is not None and head.grad.abs().sum() > 0


def test_lora_targets_language_model_and_reference_is_the_base(janus: JanusAdapter) -> None:
    apply_lora(janus, LoraConfig(enabled=True, r=4))
    names = [n for n, p in janus.module().named_parameters() if p.requires_grad]
    assert any("language_model" in n and "lora_A" in n for n in names)
    assert not any("vision_model" in n and "lora_" in n for n in names)
    assert any("generation_head" in n for n in names)
    ro = janus.sample(["x"], 2, SampleSpec(("image",)), torch.Generator().manual_seed(1))
    with torch.no_grad():
        for n, p in janus.module().named_parameters():
            if "lora_B" in n:
                p.add_(0.5)
        cur = janus.logprobs(ro).image
        with janus.reference():
            ref = janus.logprobs(ro).image
    assert torch.allclose(ref, ro.logprobs_image, atol=1e-5)  # reference = the weights before the update
    assert not torch.allclose(cur, ref, atol=1e-4)


def test_save_then_generate_through_the_protocol(janus: JanusAdapter, tmp_path: Path) -> None:
    janus.save(tmp_path / "ck")
    a = build_adapter("janus", str(tmp_path / "ck"), ["device=cpu", "max_prompt_tokens=64"])
    assert isinstance(a, JanusAdapter) and a.fingerprint() == janus.fingerprint()
    p = Prompt((Message("user", "Hello Keeper"),), "release")
    t1 = a.generate_text([TextRequest("x", "dialogue", "keeper-nine", p, Sampling(max_new_tokens=5), 7)])
    t2 = janus.generate_text([TextRequest("x", "dialogue", "keeper-nine", p, Sampling(max_new_tokens=5), 7)])
    assert t1[0].text == t2[0].text  # same weights, same greedy reply
    im = a.generate_images([ImageRequest("y", "t2i", "keeper-nine", "a lamp", 2, Sampling(), 3)])
    assert len(im[0].images) == 2 and im[0].images[0][:8] == b"\x89PNG\r\n\x1a\n"
    prov = a.provenance().as_dict()
    assert prov["adapter"] == "janus" and prov["extra"]["fingerprint"]["image_tokens"] == 16


def test_not_a_janus_checkpoint(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"model_type": "llama"}')
    with pytest.raises(InputError, match="not a Janus checkpoint \\(model_type 'llama'\\)"):
        build_adapter("janus", str(tmp_path))
