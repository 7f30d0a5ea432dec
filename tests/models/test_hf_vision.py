"""`hf` with an image-text-to-text model: a tiny random LLaVA (real forward passes, no download).

Images must reach the vision tower (counted by a forward hook on the real module, which changes
nothing), predictions must validate and score, and greedy decoding must be identical on a rerun.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from rolescape.cli import main

from .tiny import tiny_llama, tiny_llava, tiny_sd

pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def llava_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_llava(tmp_path_factory.mktemp("tiny") / "llava")


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def vlm_args(model: Path, data: Path, out: Path, *extra: str) -> list[str]:
    return ["generate", "--adapter", "hf", "--model", str(model), "--data", str(data), "--out", str(out),
            "--max-new-tokens", "5", *extra]  # fmt: skip


@contextmanager
def images_seen(module: Any) -> Iterator[list[int]]:
    """Image counts of each call of the model's vision tower (a CLIPVisionModel inside LLaVA)."""
    tower = next(m for m in module.modules() if type(m).__name__ == "CLIPVisionModel")
    seen: list[int] = []
    handle = tower.register_forward_hook(lambda _m, args, kwargs, _out: seen.append(
        int((args[0] if args else kwargs["pixel_values"]).shape[0])), with_kwargs=True)  # fmt: skip
    try:
        yield seen
    finally:
        handle.remove()


def test_vlm_visual_mcq_validates_scores_and_is_greedy_reproducible(llava_dir, demo_built, tmp_path, capsys):
    out = tmp_path / "vlm"
    tasks = "visual_mcq,knowledge_mcq,dialogue,t2i"
    assert (
        main(vlm_args(llava_dir, demo_built, out, "--tasks", tasks, "--adapter-option", "batch_size=4")) == 0
    )
    stdout = capsys.readouterr().out
    assert "t2i: skipped - adapter 'hf' needs image_out" in stdout
    preds = lines(out / "predictions.jsonl")
    vis = [p for p in preds if p["id"].startswith("visual_mcq/")]
    assert len(vis) == 28 and all(("choice" in p) != ("text" in p) for p in vis)
    gen = json.loads((out / "generation.json").read_text())
    assert gen["capabilities"]["image_in"] is True and gen["capabilities"]["image_out"] is False
    assert gen["model"]["extra"]["kind"] == "image-text-to-text"
    assert gen["model"]["extra"]["architecture"] == "LlavaForConditionalGeneration"
    assert main(["validate-predictions", str(out / "predictions.jsonl"), "--data", str(demo_built)]) == 0
    out2 = tmp_path / "vlm2"  # another batch size: other batches, the same greedy answers
    assert (
        main(vlm_args(llava_dir, demo_built, out2, "--tasks", tasks, "--adapter-option", "batch_size=3")) == 0
    )
    assert (out2 / "predictions.jsonl").read_bytes() == (out / "predictions.jsonl").read_bytes()
    run = tmp_path / "scored"
    rc = main(["score", str(out / "predictions.jsonl"), "--data", str(demo_built), "--tasks", "visual_mcq",
               "--profile", "offline", "--out", str(run), "--no-progress"])  # fmt: skip
    assert rc == 0
    res = json.loads((run / "results.json").read_text())
    assert res["generation"]["model"]["extra"]["kind"] == "image-text-to-text"
    assert res["tasks"]["visual_mcq"]["coverage"] == 1.0
    capsys.readouterr()


def test_vlm_images_reach_the_vision_tower(llava_dir, demo_built, tmp_path):
    from rolescape.models import build_adapter
    from rolescape.models.base import Sampling
    from rolescape.models.generate import GenerateSpec, run_generate

    def spec(out: Path, task: str) -> GenerateSpec:
        return GenerateSpec(
            "hf", str(llava_dir), demo_built, out, tasks=(task,), sampling=Sampling(max_new_tokens=2)
        )

    adapter = build_adapter("hf", str(llava_dir), ["batch_size=8"])
    with images_seen(adapter.module()) as seen:
        run_generate(spec(tmp_path / "v", "visual_mcq"), adapter=adapter)
    assert sum(seen) == 28  # one image per visual MCQ item
    adapter = build_adapter("hf", str(llava_dir), ["batch_size=8"])
    with images_seen(adapter.module()) as seen:
        run_generate(spec(tmp_path / "d", "dialogue"), adapter=adapter)
    assert seen == []  # text-only prompts never call the vision tower


def test_vlm_a_batch_mixing_image_and_text_prompts(llava_dir, demo_built):
    """A mixed batch runs as two sub-batches; each answer equals that prompt's answer on its own."""
    from rolescape.dataset import BuiltDataset
    from rolescape.models import build_adapter
    from rolescape.models.base import Sampling, TextRequest
    from rolescape.models.prompts import render

    ds = BuiltDataset(demo_built)
    chars = {c["id"]: c for c in ds.characters()}
    vis, dia = ds.task_items("visual_mcq")[0], ds.task_items("dialogue")[0]
    s = Sampling(max_new_tokens=4)
    reqs = [
        TextRequest(it["id"], task, it["character"], render(task, it, chars[it["character"]], "chat"), s, 0)
        for task, it in (("visual_mcq", vis), ("dialogue", dia), ("visual_mcq", vis))
    ]
    assert reqs[0].prompt.images and not reqs[1].prompt.images
    adapter = build_adapter("hf", str(llava_dir), [])
    with images_seen(adapter.module()) as seen:
        mixed = adapter.generate_text(reqs)
    alone = [adapter.generate_text([r])[0] for r in reqs[:2]]
    assert seen == [2]  # the two image prompts went through the tower together, once
    assert [a.text for a in mixed] == [alone[0].text, alone[1].text, alone[0].text]
    adapter.close()


def test_compose_roleplay_with_the_reference_image(llava_dir, demo_built, tmp_path, capsys):
    """compose(hf VLM + diffusers): roleplay's text half sees the character's reference image."""
    from rolescape.models import build_adapter
    from rolescape.models.base import Sampling
    from rolescape.models.generate import GenerateSpec, run_generate

    pytest.importorskip("diffusers")
    sd = tiny_sd(tmp_path / "sd")
    opts = ["text_adapter=hf", f"text_model={llava_dir}", "image_adapter=diffusers", f"image_model={sd}",
            "text.batch_size=4"]  # fmt: skip
    adapter = build_adapter("compose", "tiny-llava+tiny-sd", opts)
    out = tmp_path / "rp"
    spec = GenerateSpec("compose", "tiny-llava+tiny-sd", demo_built, out, tasks=("roleplay",),
                        sampling=Sampling(max_new_tokens=4, num_inference_steps=2), options=tuple(opts))  # fmt: skip
    with images_seen(adapter.text.module()) as seen:  # type: ignore[attr-defined]
        rep = run_generate(spec, adapter=adapter)
    n = rep.total["roleplay"]
    assert n > 0 and sum(seen) == n  # one reference image per roleplay prompt
    preds = lines(out / "predictions.jsonl")
    assert all(p["text"] is not None and (out / p["image"]).is_file() for p in preds)
    assert json.loads((out / "generation.json").read_text())["capabilities"]["image_in"] is True
    assert main(["validate-predictions", str(out / "predictions.jsonl"), "--data", str(demo_built)]) == 0
    run = tmp_path / "scored"
    rc = main(["score", str(out / "predictions.jsonl"), "--data", str(demo_built), "--tasks", "roleplay",
               "--profile", "offline", "--out", str(run), "--no-progress"])  # fmt: skip
    assert rc == 0
    res = json.loads((run / "results.json").read_text())
    assert res["generation"]["model"]["adapter"] == "compose"
    assert 0.0 < res["tasks"]["roleplay"]["metrics"]["effnet_i"]["mean"] < 1.0
    capsys.readouterr()


@pytest.mark.parametrize("case", ["bogus-kind", "causal-as-vision", "gguf-as-vision"])
def test_vlm_bad_kind(case, demo_built, tmp_path, capsys):
    if case == "bogus-kind":
        model, kind = tmp_path, "vision"
    elif case == "causal-as-vision":
        model, kind = tiny_llama(tmp_path / "llama"), "image-text-to-text"
    else:
        model, kind = tmp_path / "m.gguf", "image-text-to-text"
        model.write_bytes(b"GGUF")
    capsys.readouterr()  # the tiny model's save progress
    rc = main(
        vlm_args(
            model, demo_built, tmp_path / "o", "--tasks", "visual_mcq", "--adapter-option", f"kind={kind}"
        )
    )
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert ("kind='vision'" in err) if case == "bogus-kind" else (str(model) in err)
    assert not (tmp_path / "o").exists()


def test_vlm_without_chat_template_places_the_image_token(llava_dir, demo_built):
    """chat_template=false: plain text, one processor image token per image, images still seen."""
    from rolescape.dataset import BuiltDataset
    from rolescape.models import build_adapter
    from rolescape.models.base import Sampling, TextRequest
    from rolescape.models.prompts import render

    ds = BuiltDataset(demo_built)
    it = ds.task_items("visual_mcq")[0]
    char = {c["id"]: c for c in ds.characters()}[it["character"]]
    prompt = render("visual_mcq", it, char, "release")
    adapter = build_adapter("hf", str(llava_dir), ["chat_template=false"])
    text = adapter.render(prompt)  # type: ignore[attr-defined]
    assert text.startswith("<image>") and text.count("<image>") == 1 and "assistant:" not in text
    with images_seen(adapter.module()) as seen:
        (ans,) = adapter.generate_text(
            [TextRequest(it["id"], "visual_mcq", it["character"], prompt, Sampling(max_new_tokens=3), 0)]
        )
    assert seen == [1] and ans.tokens is not None and ans.tokens <= 3
    adapter.close()
