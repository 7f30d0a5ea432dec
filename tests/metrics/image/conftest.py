"""Tiny, randomly initialised but real models written to disk the way users point rolescape at theirs
(`--model NAME=DIR`): open_clip (custom config), transformers CLIP (with the real CLIP BPE vocabulary
taken from open_clip's package), DINOv2, BLIP-VQA (with a small word-piece vocabulary), and LPIPS
(random AlexNet weights in torchvision's file format). No mocks: every forward pass is the library's.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("open_clip")
pytest.importorskip("transformers")

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]


@pytest.fixture(autouse=True)
def _offline_and_fresh(monkeypatch):
    """Never touch the network; load encoders afresh in every test."""
    from rolescape.metrics.encoders import forget_encoders

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    forget_encoders()
    yield
    forget_encoders()


@pytest.fixture(scope="session")
def tiny_openclip_dir(tmp_path_factory) -> Path:
    import open_clip
    from safetensors.torch import save_file

    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("openclip_tiny")
    cfg = {
        "model_cfg": {
            "embed_dim": 16,
            "quick_gelu": True,
            "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "patch_size": 8, "head_width": 16},
            "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
        },
        "preprocess_cfg": {
            "mean": CLIP_MEAN,
            "std": CLIP_STD,
            "interpolation": "bicubic",
            "resize_mode": "shortest",
            "size": 32,
        },
    }
    (d / "open_clip_config.json").write_text(json.dumps(cfg), encoding="utf-8")
    model = open_clip.create_model(f"local-dir:{d}")  # no weights yet: random init
    save_file(
        {k: v.contiguous() for k, v in model.state_dict().items()}, str(d / "open_clip_model.safetensors")
    )
    return d


def _clip_bpe_files(d: Path) -> tuple[Path, Path]:
    """vocab.json + merges.txt of the real CLIP tokenizer, rebuilt from open_clip's BPE file."""
    import open_clip
    from open_clip.tokenizer import bytes_to_unicode

    bpe = Path(open_clip.__file__).parent / "bpe_simple_vocab_16e6.txt.gz"
    merges = gzip.open(bpe).read().decode("utf-8").split("\n")[1 : 49152 - 256 - 2 + 1]
    merges = [tuple(m.split()) for m in merges]
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab]
    vocab += ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    vpath, mpath = d / "vocab.json", d / "merges.txt"
    vpath.write_text(json.dumps({t: i for i, t in enumerate(vocab)}), encoding="utf-8")
    mpath.write_text("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n", encoding="utf-8")
    return vpath, mpath


@pytest.fixture(scope="session")
def tiny_hf_clip_dir(tmp_path_factory) -> Path:
    from transformers import CLIPConfig, CLIPModel, CLIPTokenizer
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    torch.manual_seed(1)
    d = tmp_path_factory.mktemp("hf_clip_tiny")
    cfg = CLIPConfig(
        text_config={
            "vocab_size": 49408,
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "max_position_embeddings": 77,
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
        },
        projection_dim=16,
    )
    CLIPModel(cfg).eval().save_pretrained(d)
    tok_dir = d / "_tok"
    tok_dir.mkdir()
    vpath, mpath = _clip_bpe_files(tok_dir)
    CLIPTokenizer(vocab_file=str(vpath), merges_file=str(mpath), model_max_length=77).save_pretrained(d)
    CLIPImageProcessorPil(
        size={"shortest_edge": 32},
        crop_size={"height": 32, "width": 32},
        image_mean=CLIP_MEAN,
        image_std=CLIP_STD,
    ).save_pretrained(d)
    return d


@pytest.fixture(scope="session")
def tiny_dino_dir(tmp_path_factory) -> Path:
    from transformers import Dinov2Config, Dinov2Model

    from rolescape.metrics.encoders.dino import dinov2_default_processor

    torch.manual_seed(2)
    d = tmp_path_factory.mktemp("dino_tiny")
    cfg = Dinov2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, image_size=64, patch_size=16
    )
    Dinov2Model(cfg).eval().save_pretrained(d)
    ip = dinov2_default_processor()
    ip.size = {"shortest_edge": 72}
    ip.crop_size = {"height": 64, "width": 64}
    ip.save_pretrained(d)
    return d


BLIP_WORDS = (
    "is the a an of in on what color colour kite cat dog red blue green yes no tess holding wearing crown "
    "sky sea hill girl boy hat ? . , sitting standing left right one two three"
).split()


@pytest.fixture(scope="session")
def tiny_blip_dir(tmp_path_factory) -> Path:
    from transformers import BertTokenizer, BlipConfig, BlipForQuestionAnswering
    from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil

    torch.manual_seed(3)
    d = tmp_path_factory.mktemp("blip_tiny")
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]", "[ENC]"]
    vocab = specials + BLIP_WORDS
    tok = BertTokenizer(
        vocab={t: i for i, t in enumerate(vocab)},
        do_lower_case=True,
        bos_token="[DEC]",
        additional_special_tokens=["[ENC]"],
    )
    cfg = BlipConfig(
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
            "initializer_range": 0.4,
        },
        text_config={
            "vocab_size": len(vocab),
            "hidden_size": 32,
            "encoder_hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "max_position_embeddings": 64,
            "initializer_range": 0.2,
            "pad_token_id": 0,
            "bos_token_id": vocab.index("[DEC]"),
            "sep_token_id": vocab.index("[SEP]"),
            "eos_token_id": vocab.index("[SEP]"),
        },
    )
    BlipForQuestionAnswering(cfg).eval().save_pretrained(d)
    tok.save_pretrained(d)
    BlipImageProcessorPil(size={"height": 32, "width": 32}).save_pretrained(d)
    return d


@pytest.fixture(scope="session")
def alexnet_random_file(tmp_path_factory) -> Path:
    """Random AlexNet weights in torchvision's state-dict format (the real file needs a download)."""
    import torchvision

    torch.manual_seed(4)
    d = tmp_path_factory.mktemp("alexnet")
    p = d / "alexnet-owt-7be5be79.pth"
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), p)
    return p
