"""The adapter protocol, the registry and prompt rendering (no model needed)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from rolescape.dataset import BuiltDataset
from rolescape.errors import RolescapeError, UnknownNameError
from rolescape.models import ADAPTERS, AdapterOptions, Capabilities, item_seed, missing_capability
from rolescape.models.base import AdapterError
from rolescape.models.prompts import render, render_roleplay_image


def test_registry_is_lazy_and_suggests_names() -> None:
    assert {"openai", "hf", "diffusers", "compose", "janus"} <= set(ADAPTERS.names())
    import subprocess

    code = "import sys, rolescape.models as m; m.ADAPTERS.names(); print('torch' in sys.modules, 'rolescape.models.hf' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]  # listing resolves nothing, imports no torch
    with pytest.raises(UnknownNameError, match="did you mean 'openai'"):
        ADAPTERS.get("opnai")


def test_options_typed_and_unknown_refused() -> None:
    o = AdapterOptions(["base_url=http://x", "concurrency=4", "cache=false"])
    assert o.get_int("concurrency", 1) == 4
    assert o.get_bool("cache", True) is False
    with pytest.raises(AdapterError, match="no option 'base_url'"):
        o.check_used("openai")
    with pytest.raises(AdapterError, match="KEY=VALUE"):
        AdapterOptions(["novalue"])
    with pytest.raises(AdapterError, match="expected an integer"):
        AdapterOptions(["n=x"]).get_int("n", 1)
    assert issubclass(AdapterError, RolescapeError)


def test_missing_capability_names_it() -> None:
    text_only = Capabilities(text_out=True)
    assert missing_capability("dialogue", text_only) is None
    assert missing_capability("t2i", text_only) == "needs image_out"
    assert missing_capability("visual_mcq", text_only) == "needs image_in"
    assert missing_capability("roleplay", Capabilities()) == "needs text_out and image_out"


def test_item_seed_depends_on_seed_and_id_only() -> None:
    assert item_seed(0, "dialogue/a/1") == item_seed(0, "dialogue/a/1")
    assert item_seed(0, "dialogue/a/1") != item_seed(1, "dialogue/a/1")
    assert item_seed(0, "dialogue/a/1") != item_seed(0, "dialogue/a/2")


def test_release_style_is_the_built_rp_prompt(demo_built: Path) -> None:
    ds = BuiltDataset(demo_built)
    chars = {c["id"]: c for c in ds.characters()}
    for task in ("dialogue", "roleplay"):
        for item in ds.task_items(task):
            p = render(task, item, chars[item["character"]], "release")
            assert [m.role for m in p.messages] == ["user"]
            assert p.messages[0].content == item["prompt"]
    item = ds.task_items("dialogue")[0]
    chat = render("dialogue", item, chars[item["character"]], "chat")
    assert [m.role for m in chat.messages] == ["system", "user"]
    assert chat.messages[1].content == item["user_text"]
    assert chars[item["character"]]["prefix"] in chat.messages[0].content
    assert chat.sha256 != render("dialogue", item, chars[item["character"]], "release").sha256


def test_mcq_and_visual_prompts(demo_built: Path) -> None:
    ds = BuiltDataset(demo_built)
    chars = {c["id"]: c for c in ds.characters()}
    k = ds.task_items("knowledge_mcq")[0]
    p = render("knowledge_mcq", k, chars[k["character"]], "release")
    text = p.messages[-1].content
    assert text.startswith(k["question"]) and f"D. {k['options']['D']}" in text
    v = ds.task_items("visual_mcq")[0]
    pv = render("visual_mcq", v, chars[v["character"]], "release")
    assert pv.messages[-1].content.startswith("<image>") and pv.images == (v["image"]["bytes"],)
    r = ds.task_items("roleplay")[0]
    img_prompt = render_roleplay_image(r, chars[r["character"]], "release", "Hello there.")
    assert "Character Response: Hello there." in img_prompt and r["user_text"] in img_prompt
    with pytest.raises(RolescapeError, match="unknown prompt style"):
        render("dialogue", k | {"user_text": "x"}, chars[k["character"]], "fancy")
