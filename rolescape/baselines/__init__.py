"""Prediction generators that need no trained model: ceilings, floors and a retrieval comparison.

`BASELINES` is a lazy registry (names -> "module:Class", imported on first use), so importing this
package pulls in neither numpy nor sentence-transformers. From Python:

    from rolescape.baselines import run_baseline
    run_baseline("retrieval", "built/", "runs/retrieval/predictions.jsonl")
"""

from __future__ import annotations

from rolescape.baselines.base import Baseline, BaselineReport, run_baseline
from rolescape.registry import Registry

BASELINES: Registry[type[Baseline]] = Registry("baseline", Baseline)
BASELINES.register("reference", "rolescape.baselines.reference:ReferenceBaseline")
BASELINES.register("retrieval", "rolescape.baselines.retrieval:RetrievalBaseline")
BASELINES.register("shuffled", "rolescape.baselines.shuffled:ShuffledBaseline")
BASELINES.register("prior", "rolescape.baselines.prior:PriorBaseline")
BASELINES.register("prior-longest", "rolescape.baselines.prior:PriorLongestBaseline")

__all__ = ["BASELINES", "Baseline", "BaselineReport", "run_baseline"]
