"""On the release copy with MiniLM: GT dialogue-test responses look like their own character.

A quick version of bench/bench_text_verification.py (which fits on all train dialogues and records
the numbers): here the style classifier is fitted on 15 train responses per character to stay fast.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.models]

PER_CHARACTER = 15


def test_own_character_beats_a_shuffled_control(built_release, minilm):
    from rolescape.metrics.text.style import StyleClassifier, evaluate, training_corpus

    rows = built_release.task_items("dialogue")
    assert len(rows) == 400
    refs = [r["reference_response"] for r in rows]
    chars = [r["character"] for r in rows]
    by_char: dict[str, list[int]] = defaultdict(list)
    for i, c in enumerate(chars):
        by_char[c].append(i)
    order = sorted(by_char)
    assert len(order) == 20
    own, other, other_char = [], [], []
    for c in order:
        nxt = order[(order.index(c) + 1) % len(order)]
        for k, i in enumerate(by_char[c]):
            own.append((i, by_char[c][(k + 1) % len(by_char[c])]))
            other.append((i, by_char[nxt][k % len(by_char[nxt])]))
            other_char.append((i, nxt))

    # ref_sim: another GT reference of the same character vs one of the next character
    emb = minilm.encode(refs).astype(np.float64)
    ref_own = np.mean([emb[i] @ emb[j] for i, j in own])
    ref_shuf = np.mean([emb[i] @ emb[j] for i, j in other])
    assert ref_own > ref_shuf + 0.03

    # style: fitted on a subset of the train dialogues, scored on the held-out GT responses
    texts, labels = training_corpus(built_release)
    assert len(texts) > 3500 and not set(refs) & set(texts)  # the test references are held out
    picked: dict[str, list[int]] = defaultdict(list)
    for i, y in enumerate(labels):
        picked[y].append(i)
    sub = [
        i
        for y in sorted(picked)
        for i in picked[y][:: max(1, len(picked[y]) // PER_CHARACTER)][:PER_CHARACTER]
    ]
    sub_texts, sub_labels = [texts[i] for i in sub], [labels[i] for i in sub]
    enc = {"id": minilm.model_id, "revision": minilm.revision, "dim": minilm.dim}
    model = StyleClassifier.fit(sub_texts, sub_labels, minilm.encode(sub_texts), enc)
    ev = evaluate(model, refs, chars, emb.astype(np.float32))
    assert ev["chance"] == pytest.approx(1 / 20)
    assert ev["accuracy"] > 0.4  # chance is 0.05
    proba = model.predict_proba(refs, emb.astype(np.float32))
    col = {c: j for j, c in enumerate(model.classes)}
    p_own = np.mean([proba[i, col[chars[i]]] for i in range(len(refs))])
    p_shuf = np.mean([proba[i, col[c]] for i, c in other_char])
    assert p_own > 3 * p_shuf
