"""persona_sim: sentence splitting of profiles and responses, grounding scores, profile per task."""

from __future__ import annotations

import pytest

from rolescape.metrics.base import ItemBatch, ScoreContext
from rolescape.metrics.text import encoders
from rolescape.metrics.text.persona import (
    PROFILE_FIELD,
    PersonaFamily,
    persona_sims,
    profile_sentences,
    response_sentences,
    split_sentences,
)
from rolescape.schemas.predictions import Prediction

from .conftest import TinyData

PROFILE = """### **Character Profile: Tess Ray**

**Personal Details:**
* **Full Name:** Tess Ray
* **Home:** a windy hill above the harbour
- She builds kites from bamboo and silk. Her favourite kite is a red dragon called Ember.

**Personality and Traits:**
Despite her busy days, Tess is:
1. Cheerful and quick-witted, she laughs often.
> Dr. Moss, her teacher, says she never gives up.
---
"""


def test_profile_sentences_strip_markdown_and_headings():
    sents = profile_sentences(PROFILE)
    assert sents == [
        "Character Profile: Tess Ray",
        "Full Name: Tess Ray",
        "Home: a windy hill above the harbour",
        "She builds kites from bamboo and silk.",
        "Her favourite kite is a red dragon called Ember.",
        "Cheerful and quick-witted, she laughs often.",
        "Dr. Moss, her teacher, says she never gives up.",
    ]


def test_response_sentences():
    assert response_sentences("Ember! Obviously... Who else? Mr. Moss agrees.") == [
        "Ember!",
        "Obviously...",
        "Who else?",
        "Mr. Moss agrees.",
    ]
    assert response_sentences("ok") == ["ok"]
    assert response_sentences("   ") == []
    assert split_sentences("Same. Same. Other.") == ["Same.", "Other."]


def test_persona_sims_is_the_max_over_sentence_pairs(hash_encoder):
    prof = ["red dragon kite", "bamboo and silk"]
    # the second response sentence repeats a profile sentence word for word -> max cos 1
    sims = persona_sims(
        hash_encoder, ["Nothing relevant here. bamboo and silk", "", "zebra quantum"], [prof, prof, prof]
    )
    assert sims[0] == pytest.approx(1.0, abs=1e-6)
    assert sims[1] == 0.0
    assert sims[2] < 0.9
    assert persona_sims(hash_encoder, ["anything"], [[]]) == [0.0]


def test_profile_per_task_is_documented():
    assert PROFILE_FIELD == {
        "memorization": "full_profile_clean",
        "personality": "personality_profile",
        "dialogue": "full_profile_clean",
        "roleplay": "full_profile_clean",
    }


@pytest.mark.models
def test_grounded_response_scores_higher_with_minilm(minilm):
    prof = profile_sentences(PROFILE)
    grounded = "My favourite kite? Ember, the red dragon! I made her from bamboo and silk."
    ungrounded = "I enjoy trading stocks on Wall Street and driving fast cars."
    g, u = persona_sims(minilm, [grounded, ungrounded], [prof, prof])
    assert g > u + 0.15 and 0 < g <= 1.0 + 1e-6


def test_family_uses_the_task_profile(monkeypatch, hash_encoder):
    monkeypatch.setattr(encoders, "encoder_for", lambda ctx: hash_encoder)
    char = {
        "id": "tess-ray",
        "full_profile_clean": "Her favourite kite is called Ember the dragon.",
        "personality_profile": "She is cheerful and laughs very often.",
    }
    ctx = ScoreContext(data=TinyData({}, [char]))
    fam = PersonaFamily()
    fam.prepare(ctx, ["memorization", "personality"])
    items = [{"id": "x/tess-ray/0", "character": "tess-ray"}, {"id": "x/nobody/0", "character": "nobody"}]
    text = "She is cheerful and laughs very often."
    preds = [Prediction(id=items[0]["id"], text=text), Prediction(id=items[1]["id"], text=text)]
    mem = fam.score(ItemBatch(task="memorization", items=items, predictions=preds), ctx)
    per = fam.score(ItemBatch(task="personality", items=items, predictions=preds), ctx)
    assert per[0]["persona_sim"] == pytest.approx(1.0, abs=1e-6)  # verbatim from the personality profile
    assert mem[0]["persona_sim"] < 0.9  # not in the full profile
    assert mem[1] == per[1] == {"persona_sim": None}  # unknown character
