"""`hf`, `diffusers` and `compose` on tiny random models (real forward passes, no download), through the CLI."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from rolescape.cli import main

from .chat_server import ChatServer
from .tiny import tiny_llama, tiny_sd

pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_llama(tmp_path_factory.mktemp("tiny") / "llama")


@pytest.fixture(scope="module")
def sd_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("diffusers")
    return tiny_sd(tmp_path_factory.mktemp("tiny") / "sd")


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def hf_args(model: Path, data: Path, out: Path, *extra: str) -> list[str]:
    return ["generate", "--adapter", "hf", "--model", str(model), "--data", str(data), "--out", str(out),
            "--max-new-tokens", "6", "--adapter-option", "batch_size=4", *extra]  # fmt: skip


def test_hf_greedy_is_reproducible_and_scores(llama_dir, demo_built, tmp_path, capsys):
    out = tmp_path / "hf"
    tasks = "knowledge_mcq,dialogue,personality"
    assert main(hf_args(llama_dir, demo_built, out, "--tasks", tasks)) == 0
    preds = lines(out / "predictions.jsonl")
    assert len(preds) == 18 + 15 + 19
    texts = [p for p in preds if p["id"].startswith("dialogue/")]
    assert all(isinstance(p["text"], str) and 0 < p["tokens"] <= 6 for p in texts)
    assert all(("choice" in p) != ("text" in p) for p in preds if p["id"].startswith("knowledge_mcq/"))
    gen = json.loads((out / "generation.json").read_text())
    assert gen["model"]["extra"]["chat_template"] is True and gen["model"]["dtype"] == "float32"
    assert gen["model"]["extra"]["architecture"] == "LlamaForCausalLM"
    assert main(["validate-predictions", str(out / "predictions.jsonl"), "--data", str(demo_built)]) == 0
    # greedy: a rerun (another batch size changes the batches, not the answers) is identical
    out2 = tmp_path / "hf2"
    assert main(hf_args(llama_dir, demo_built, out2, "--tasks", tasks)) == 0
    assert (out2 / "predictions.jsonl").read_bytes() == (out / "predictions.jsonl").read_bytes()
    run = tmp_path / "scored"
    rc = main(["score", str(out / "predictions.jsonl"), "--data", str(demo_built), "--tasks", "knowledge_mcq",
               "--profile", "offline", "--out", str(run), "--no-progress"])  # fmt: skip
    assert rc == 0
    res = json.loads((run / "results.json").read_text())
    assert res["generation"]["model"]["adapter"] == "hf"
    capsys.readouterr()


def test_hf_shards_merge_to_the_unsharded_run(llama_dir, demo_built, tmp_path, capsys):
    full = tmp_path / "full"
    assert main(hf_args(llama_dir, demo_built, full, "--tasks", "dialogue")) == 0
    shards = []
    for i in range(2):
        d = tmp_path / f"s{i}"
        assert main(hf_args(llama_dir, demo_built, d, "--tasks", "dialogue", "--shard", f"{i}/2")) == 0
        shards.append(str(d))
    assert main(["merge-predictions", *shards, "--out", str(tmp_path / "m")]) == 0
    assert (tmp_path / "m/predictions.jsonl").read_bytes() == (full / "predictions.jsonl").read_bytes()
    capsys.readouterr()


@pytest.mark.parametrize("what", ["folder", "file", "missing-gguf"])
def test_hf_a_path_that_is_not_a_model(demo_built, tmp_path, capsys, what):
    bad = tmp_path / "notamodel"
    if what == "folder":
        bad.mkdir()
        (bad / "README.md").write_text("hello")
    elif what == "file":
        bad = tmp_path / "weights.gguf"
        bad.write_bytes(b"not a gguf file")
    else:
        bad = tmp_path / "absent.gguf"
    rc = main(hf_args(bad, demo_built, tmp_path / "o", "--tasks", "dialogue", "--adapter-option",
                      f"cache_dir={tmp_path / 'c'}"))  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2 and str(bad) in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_diffusers_images_validate_and_are_seeded(sd_dir, demo_built, tmp_path, capsys):
    from PIL import Image

    out = tmp_path / "sd"
    args = ["generate", "--adapter", "diffusers", "--model", str(sd_dir), "--data", str(demo_built), "--out",
            str(out), "--tasks", "t2i,t2i_vqa,dialogue", "--k", "2", "--steps", "2", "--per-character", "t2i_vqa=2"]  # fmt: skip
    rc = main(args)
    stdout = capsys.readouterr().out
    assert rc == 0 and "dialogue: skipped - adapter 'diffusers' needs text_out" in stdout
    preds = lines(out / "predictions.jsonl")
    vqa = [p for p in preds if p["id"].startswith("t2i_vqa/")]
    t2i = [p for p in preds if p["id"].startswith("t2i/")]
    assert len(vqa) == 6 and all(len(p["images"]) == 2 for p in vqa) and all("image" in p for p in t2i)
    img = Image.open(io.BytesIO((out / t2i[0]["image"]).read_bytes()))
    assert img.format == "PNG" and img.size == (16, 16)
    a, b = (out / vqa[0]["images"][0]).read_bytes(), (out / vqa[0]["images"][1]).read_bytes()
    assert a != b  # k images of one prompt differ
    assert main(["validate-predictions", str(out / "predictions.jsonl"), "--data", str(demo_built)]) == 0
    out2 = tmp_path / "sd2"
    assert main([*args[:8], str(out2), *args[9:]]) == 0
    assert (out2 / "predictions.jsonl").read_bytes() == (out / "predictions.jsonl").read_bytes()
    assert (out2 / vqa[0]["images"][0]).read_bytes() == a  # seeded: the same pixels
    run = tmp_path / "scored"
    rc = main(["score", str(out / "predictions.jsonl"), "--data", str(demo_built), "--tasks", "t2i",
               "--profile", "offline", "--out", str(run), "--no-progress"])  # fmt: skip
    assert rc == 0
    res = json.loads((run / "results.json").read_text())
    assert res["generation"]["model"]["adapter"] == "diffusers" and res["tasks"]["t2i"]["coverage"] == 1.0
    assert 0.0 < res["tasks"]["t2i"]["metrics"]["effnet_i"]["mean"] < 1.0  # real images, really scored
    capsys.readouterr()


def test_diffusers_not_a_pipeline(demo_built, tmp_path, capsys):
    rc = main(["generate", "--adapter", "diffusers", "--model", str(tmp_path), "--data", str(demo_built),
               "--out", str(tmp_path / "o"), "--tasks", "t2i"])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2 and "not a diffusers pipeline folder" in err


def test_compose_roleplay_text_then_image(llama_dir, sd_dir, demo_built, tmp_path, capsys):
    out = tmp_path / "compose"
    args = ["generate", "--adapter", "compose", "--model", "tiny-llama+tiny-sd", "--data", str(demo_built),
            "--out", str(out), "--tasks", "roleplay,dialogue", "--steps", "2", "--max-new-tokens", "5",
            "--adapter-option", "text_adapter=hf", "--adapter-option", f"text_model={llama_dir}",
            "--adapter-option", "image_adapter=diffusers", "--adapter-option", f"image_model={sd_dir}",
            "--adapter-option", "text.batch_size=2"]  # fmt: skip
    assert main(args) == 0, capsys.readouterr().err
    preds = lines(out / "predictions.jsonl")
    rp = [p for p in preds if p["id"].startswith("roleplay/")]
    assert rp and all(p["text"] and (out / p["image"]).is_file() and p["image_prompt_sha256"] for p in rp)
    gen = json.loads((out / "generation.json").read_text())
    assert (
        gen["model"]["extra"]["text"]["adapter"] == "hf"
        and gen["model"]["extra"]["image"]["adapter"] == "diffusers"
    )
    assert main(["validate-predictions", str(out / "predictions.jsonl"), "--data", str(demo_built)]) == 0
    # compose with the same reply text gives the same image prompt, hence the same image
    out2 = tmp_path / "compose2"
    assert main([*args[:8], str(out2), *args[9:]]) == 0
    assert (out2 / "predictions.jsonl").read_bytes() == (out / "predictions.jsonl").read_bytes()
    capsys.readouterr()


def test_compose_needs_both_halves(demo_built, tmp_path, capsys):
    server = ChatServer()
    try:
        rc = main(["generate", "--adapter", "compose", "--model", "x", "--data", str(demo_built), "--out",
                   str(tmp_path / "o"), "--adapter-option", "text_adapter=openai",
                   "--adapter-option", "text_model=m", "--adapter-option", f"text.base_url={server.url}"])  # fmt: skip
    finally:
        server.close()
    err = capsys.readouterr().err
    assert rc == 2 and "image_adapter=NAME" in err
