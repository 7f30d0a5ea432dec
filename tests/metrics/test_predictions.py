"""predictions.jsonl checks (every bad input names its line) and the image reader they rely on."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from rolescape.cli import main
from rolescape.errors import InputError, ValidationFailed
from rolescape.metrics.images_io import (
    MAX_PIXELS,
    check_image,
    decode_images,
    load_image,
    parse_data_uri,
    to_rgb,
)
from rolescape.metrics.predictions import check_predictions, load_predictions
from tests.fixtures.tiny import huge_png_header, make_tiny_dataset, mcq_ids, png_bytes, write_predictions

MCQ1 = "knowledge_mcq/bo/mcq_001"
T2I0 = "t2i/bo/0"
T2I1 = "t2i/bo/1"


@pytest.fixture(scope="module")
def ds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_dataset(tmp_path_factory.mktemp("tiny"))


@pytest.fixture()
def pdir(tmp_path: Path) -> Path:
    d = tmp_path / "preds"
    (d / "imgs").mkdir(parents=True)
    (d / "imgs" / "ok.png").write_bytes(png_bytes())
    return d


def problems_of(pdir: Path, ds: Path, rows: list, **kw) -> list[str]:
    p = write_predictions(pdir / "predictions.jsonl", rows, **kw)
    return load_predictions(p, ds)[1]


def one(problems: list[str]) -> str:
    assert len(problems) == 1, problems
    return problems[0]


def test_valid_file_has_no_problems(pdir: Path, ds: Path) -> None:
    rows = [{"id": i, "choice": k} for i, k in mcq_ids()]
    rows.append({"id": T2I0, "image": "imgs/ok.png", "seed": 7, "model": "x"})  # metadata is kept
    p = write_predictions(pdir / "predictions.jsonl", rows)
    rep = check_predictions(p, ds)
    assert rep.problems == [] and rep.ok
    assert len(rep.predictions) == 10
    t2i = next(x for x in rep.predictions if x.id == T2I0)
    assert t2i.metadata == {"seed": 7, "model": "x"}
    assert rep.image_sha256[T2I0][0] == __import__("hashlib").sha256(png_bytes()).hexdigest()
    assert rep.lines[T2I0] == 10 and rep.task_of[T2I0] == "t2i"


def test_malformed_json_names_line_and_column(pdir: Path, ds: Path) -> None:
    msg = one(problems_of(pdir, ds, [{"id": MCQ1, "choice": "B"}, '{"id": "x", "choice": }']))
    assert msg.startswith(f"{pdir / 'predictions.jsonl'}:2:23: malformed JSON: Expecting value")


def test_not_an_object_and_no_id(pdir: Path, ds: Path) -> None:
    probs = problems_of(pdir, ds, ['["a", "b"]', {"choice": "B"}, {"id": 5, "choice": "B"}])
    assert len(probs) == 3
    assert probs[0].endswith("predictions.jsonl:1: not a JSON object (got list)")
    assert probs[1].endswith("predictions.jsonl:2: no 'id'")
    assert "predictions.jsonl:3: 'id' must be a non-empty string" in probs[2]


def test_unknown_id_suggests_a_close_one(pdir: Path, ds: Path) -> None:
    msg = one(problems_of(pdir, ds, [{"id": "knowledge_mcq/bo/mcq_01", "choice": "B"}]))
    assert "predictions.jsonl:1: id 'knowledge_mcq/bo/mcq_01': unknown id" in msg
    assert "did you mean 'knowledge_mcq/bo/mcq_001'" in msg


def test_duplicate_id_names_both_lines_and_scores_neither(pdir: Path, ds: Path) -> None:
    p = write_predictions(
        pdir / "predictions.jsonl",
        [
            {"id": MCQ1, "choice": "B"},
            {"id": "knowledge_mcq/bo/mcq_002", "choice": "B"},
            {"id": MCQ1, "choice": "C"},
        ],
    )
    rep = check_predictions(p, ds)
    msg = one(rep.problems)
    assert f"predictions.jsonl:3: id '{MCQ1}': duplicate id, first on line 1" in msg
    assert [x.id for x in rep.predictions] == ["knowledge_mcq/bo/mcq_002"]


def test_field_the_task_does_not_take(pdir: Path, ds: Path) -> None:
    probs = problems_of(
        pdir,
        ds,
        [
            {"id": MCQ1, "choice": "B", "image": "imgs/ok.png"},
            {"id": T2I0, "image": "imgs/ok.png", "text": "hi"},
        ],
    )
    assert len(probs) == 2
    assert "line" not in probs[0] and ":1: id" in probs[0]
    assert "field 'image' is not taken by task 'knowledge_mcq' (it takes choice, text)" in probs[0]
    assert ":2: id 't2i/bo/0': field 'text' is not taken by task 't2i' (it takes image, images)" in probs[1]


def test_required_field_missing_with_hint(pdir: Path, ds: Path) -> None:
    probs = problems_of(
        pdir,
        ds,
        [{"id": T2I0, "image_path": "imgs/ok.png"}, {"id": "dialogue/bo/0"}, {"id": T2I1, "images": []}],
    )
    assert len(probs) == 3
    assert "missing required field 'image' or 'images' (found 'image_path': rename it)" in probs[0]
    assert ":2: id 'dialogue/bo/0': missing required field 'text'" in probs[1]
    assert ":3: id 't2i/bo/1': missing required field 'image' or 'images'" in probs[2]


def test_bad_field_types_and_choice(pdir: Path, ds: Path) -> None:
    probs = problems_of(
        pdir,
        ds,
        [
            {"id": MCQ1, "choice": "E"},
            {"id": "knowledge_mcq/bo/mcq_002", "choice": " b "},
            {"id": T2I0, "images": "imgs/ok.png"},
            {"id": T2I1, "image": "imgs/ok.png", "images": ["imgs/ok.png"]},
        ],
    )
    assert len(probs) == 3, probs
    assert "field 'choice': must be one of A, B, C, D (got 'E')" in probs[0]
    assert ":3: id 't2i/bo/0': field 'images'" in probs[1]
    assert ":4: id 't2i/bo/1': give 'image' or 'images', not both" in probs[2]


def test_lowercase_choice_is_normalised(pdir: Path, ds: Path) -> None:
    p = write_predictions(pdir / "predictions.jsonl", [{"id": MCQ1, "choice": "b"}])
    preds, probs = load_predictions(p, ds)
    assert probs == [] and preds[0].choice == "B"


def test_image_not_found(pdir: Path, ds: Path) -> None:
    msg = one(problems_of(pdir, ds, [{"id": T2I0, "image": "x.png"}]))
    assert msg == f"{pdir / 'predictions.jsonl'}:1: id 't2i/bo/0': image 'x.png' not found"


def test_image_unreadable(pdir: Path, ds: Path) -> None:
    (pdir / "imgs" / "junk.png").write_bytes(b"this is not a png at all")
    (pdir / "imgs" / "trunc.png").write_bytes(png_bytes(64, 64)[:60])
    probs = problems_of(
        pdir, ds, [{"id": T2I0, "image": "imgs/junk.png"}, {"id": T2I1, "image": "imgs/trunc.png"}]
    )
    assert len(probs) == 2
    assert "image 'imgs/junk.png': not a readable image" in probs[0]
    assert ":2: id 't2i/bo/1': image 'imgs/trunc.png'" in probs[1]
    # the same bad input gives the same line: no Python object addresses in the message
    assert not any(" at 0x" in p for p in probs), probs
    assert probs == problems_of(
        pdir, ds, [{"id": T2I0, "image": "imgs/junk.png"}, {"id": T2I1, "image": "imgs/trunc.png"}]
    )


def test_image_over_64_megapixels_refused_from_the_header(pdir: Path, ds: Path) -> None:
    (pdir / "imgs" / "huge.png").write_bytes(huge_png_header(9000, 8000))  # 72 MP, no pixel data
    msg = one(problems_of(pdir, ds, [{"id": T2I0, "image": "imgs/huge.png"}]))
    assert "image 'imgs/huge.png': 9000x8000 = 72.0 megapixels, over the limit of 64" in msg
    (pdir / "imgs" / "bomb.png").write_bytes(huge_png_header(30000, 30000))  # Pillow's own bomb limit
    msg = one(problems_of(pdir, ds, [{"id": T2I0, "image": "imgs/bomb.png"}]))
    assert "image 'imgs/bomb.png': over 64 megapixels" in msg
    with pytest.raises(InputError, match="over the limit"):
        load_image("imgs/huge.png", pdir)


def test_data_uri_good_and_bad(pdir: Path, ds: Path) -> None:
    good = "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
    bad_b64 = "data:image/png;base64,@@@notbase64"
    not_img = "data:image/png;base64," + base64.b64encode(b"hello").decode()
    no_mime = "data:;base64," + base64.b64encode(png_bytes()).decode()
    probs = problems_of(
        pdir,
        ds,
        [
            {"id": T2I0, "image": good},
            {"id": T2I1, "image": bad_b64},
            {"id": "t2i/chandler/0", "image": not_img},
            {"id": "t2i/chandler/1", "image": no_mime},
        ],
    )
    assert len(probs) == 3, probs
    assert ":2: id 't2i/bo/1': image 'data:image/png;base64,@@@notba...': bad base64 in data URI" in probs[0]
    assert ":3: id 't2i/chandler/0'" in probs[1] and "not a readable image" in probs[1]
    assert ":4: id 't2i/chandler/1'" in probs[2] and "no image/<type> media type" in probs[2]
    assert parse_data_uri(good) == png_bytes()


def test_image_path_escaping_and_absolute(pdir: Path, ds: Path) -> None:
    (pdir.parent / "outside.png").write_bytes(png_bytes())
    absolute = str((pdir / "imgs" / "ok.png").resolve())
    probs = problems_of(
        pdir,
        ds,
        [
            {"id": T2I0, "image": "../outside.png"},
            {"id": T2I1, "image": absolute},
            {"id": "t2i/chandler/0", "images": ["imgs/ok.png", "imgs/../../outside.png"]},
        ],
    )
    assert len(probs) == 3
    assert "image '../outside.png': path escapes the predictions file's folder" in probs[0]
    assert f"image {absolute!r}: absolute paths are not allowed" in probs[1]
    assert ":3: id 't2i/chandler/0': image 'imgs/../../outside.png': path escapes" in probs[2]


def test_symlink_escaping_the_folder_is_refused(pdir: Path, ds: Path) -> None:
    (pdir.parent / "secret.png").write_bytes(png_bytes())
    os.symlink(pdir.parent / "secret.png", pdir / "imgs" / "link.png")
    msg = one(problems_of(pdir, ds, [{"id": T2I0, "image": "imgs/link.png"}]))
    assert "path escapes" in msg


def test_bad_permutation_metadata(pdir: Path, ds: Path) -> None:
    msg = one(
        problems_of(pdir, ds, [{"id": MCQ1, "choice": "A", "options_permutation": ["A", "A", "C", "D"]}])
    )
    assert "metadata 'options_permutation': options permutation must list A, B, C, D once each" in msg


def test_every_problem_listed_with_its_line_blank_lines_counted(pdir: Path, ds: Path) -> None:
    p = pdir / "predictions.jsonl"
    p.write_text(
        f'{{"id": "{MCQ1}", "choice": "B"}}\n\n{{"id": "nope"}}\n{{bad\n\n{{"id": "{T2I0}"}}\n',
        encoding="utf-8",
    )
    probs = load_predictions(p, ds)[1]
    lines = [x[len(str(p)) + 1 :].split(":")[0] for x in probs]
    assert lines == ["3", "4", "6"], probs


def test_invalid_utf8_and_empty_file(pdir: Path, ds: Path) -> None:
    p = pdir / "predictions.jsonl"
    p.write_bytes(b'{"id": "\xff\xfe"}\n')
    assert "predictions.jsonl:1: not valid UTF-8" in one(load_predictions(p, ds)[1])
    p.write_text("\n\n", encoding="utf-8")
    assert "no predictions (the file is empty)" in one(load_predictions(p, ds)[1])


def test_tasks_filter_returns_only_selected_tasks(pdir: Path, ds: Path) -> None:
    p = write_predictions(
        pdir / "predictions.jsonl", [{"id": MCQ1, "choice": "B"}, {"id": T2I0, "image": "imgs/ok.png"}]
    )
    rep = check_predictions(p, ds, ["t2i"])
    assert [x.id for x in rep.predictions] == [T2I0] and rep.n_out_of_scope == 1


def test_raise_if_problems_lists_all(pdir: Path, ds: Path) -> None:
    p = write_predictions(pdir / "predictions.jsonl", [{"id": "a"}, {"id": "b"}])
    rep = check_predictions(p, ds)
    with pytest.raises(ValidationFailed) as e:
        rep.raise_if_problems()
    assert e.value.problems == rep.problems and len(e.value.problems) == 2
    assert "2 problems in the predictions; nothing was scored" in str(e.value).splitlines()[0]


# ---- CLI ------------------------------------------------------------------------------------------


def test_cli_validate_predictions_exit_2_one_line_per_problem(pdir: Path, ds: Path, capsys) -> None:
    p = write_predictions(
        pdir / "predictions.jsonl",
        [{"id": T2I0, "image": "x.png"}, {"id": "zzz"}, {"id": MCQ1, "choice": "B"}],
    )
    rc = main(["validate-predictions", str(p), "--data", str(ds)])
    err = capsys.readouterr().err
    assert rc == 2
    lines = [x for x in err.splitlines() if x.strip()]
    assert "2 problems" in lines[0]
    assert any("predictions.jsonl:1: id 't2i/bo/0': image 'x.png' not found" in x for x in lines)
    assert any("predictions.jsonl:2: id 'zzz': unknown id" in x for x in lines)
    assert "Traceback" not in err


def test_cli_validate_predictions_ok(pdir: Path, ds: Path, capsys) -> None:
    p = write_predictions(pdir / "predictions.jsonl", [{"id": i, "choice": k} for i, k in mcq_ids()[:3]])
    assert main(["validate-predictions", str(p), "--data", str(ds)]) == 0
    out = capsys.readouterr().out
    assert "3 valid predictions" in out and "knowledge_mcq" in out and "33%" in out


# ---- images_io ------------------------------------------------------------------------------------


def test_alpha_policy_white_vs_paper() -> None:
    from PIL import Image

    img = Image.new("RGBA", (4, 4), (255, 0, 0, 0))  # fully transparent red
    assert to_rgb(img, "white").getpixel((0, 0)) == (255, 255, 255)
    assert to_rgb(img, "paper").getpixel((0, 0)) == (255, 0, 0)
    half = Image.new("RGBA", (2, 2), (0, 0, 0, 128))
    r, g, b = to_rgb(half, "white").getpixel((0, 0))
    assert 120 <= r == g == b <= 130
    pal = Image.new("P", (2, 2), 0)
    pal.putpalette([10, 20, 30] * 256)
    pal.info["transparency"] = 0
    assert to_rgb(pal, "white").getpixel((0, 0)) == (255, 255, 255)
    with pytest.raises(InputError):
        to_rgb(img, "black")


def test_check_image_returns_sha_and_size(pdir: Path) -> None:
    sha, size = check_image("imgs/ok.png", pdir)
    assert size == (8, 8) and len(sha) == 64


@pytest.mark.parametrize("workers", [0, 2])
def test_decode_images_keeps_order(pdir: Path, workers: int) -> None:
    refs = []
    for i in range(5):
        (pdir / "imgs" / f"{i}.png").write_bytes(png_bytes(4 + i, 4, color=(i * 40, 0, 0, 255), mode="RGBA"))
        refs.append(f"imgs/{i}.png")
    refs.append(png_bytes(3, 3, color=(0, 255, 0)))  # raw bytes work too
    imgs = list(decode_images(refs, pdir, workers=workers, alpha="white"))
    assert [im.size for im in imgs] == [(4, 4), (5, 4), (6, 4), (7, 4), (8, 4), (3, 3)]
    assert all(im.mode == "RGB" for im in imgs)
    assert imgs[2].getpixel((0, 0)) == (80, 0, 0)
    with pytest.raises(InputError, match="not found"):
        list(decode_images(["imgs/0.png", "imgs/missing.png"], pdir, workers=workers))


def test_max_pixels_is_64_megapixels() -> None:
    assert MAX_PIXELS == 64_000_000
