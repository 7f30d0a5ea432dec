"""Every metric declared once: direction, range, chance level, paper reproduction, headline eligibility.

The leaderboard reads direction and headline choice from here (never from name suffixes), and
`rolescape meta-eval` checks the declared headlines against the baselines. Declarations follow the
lm-evaluation-harness idea of `higher_is_better` next to the metric (engineering.md, "Declared
metrics"); the values are the protocol's (benchmark-protocol.md).

`headline` is whether a metric may be a task's headline at all (protocol v2: it must be copy-robust);
`HEADLINES` lists, per task, the preference order among the eligible ones. A copy-sensitive metric
(`effnet_i`, `style_acc`, ...) stays declared for comparison with papers but is not eligible.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetricDecl:
    """How one metric is read: direction, range, chance level, provenance, headline eligibility."""

    name: str
    family: str
    higher_is_better: bool = True
    range: tuple[float | None, float | None] = (0.0, 1.0)
    chance: float | None = None
    paper: bool = False  # reproduces the release's reward code / the paper's definition exactly
    headline: bool = False  # may be a headline (copy-robust by construction or measurement)
    copy_robust: bool = False
    description: str = ""


def _d(name: str, family: str, **kw: object) -> MetricDecl:
    return MetricDecl(name=name, family=family, **kw)  # type: ignore[arg-type]


_COS = (-1.0, 1.0)
_DECLS: tuple[MetricDecl, ...] = (
    # mcq
    _d(
        "mcq_acc",
        "mcq",
        chance=0.25,
        paper=True,
        headline=False,
        description="accuracy; leaks through train answers on knowledge_mcq (see mcq_acc_clean)",
    ),
    _d("mcq_kappa", "mcq", range=(-1.0 / 3.0, 1.0), chance=0.0, description="(acc - 0.25) / 0.75"),
    _d("mcq_unparsed", "mcq", higher_is_better=False, description="share of answers with no letter"),
    _d("mcq_acc_easy", "mcq", chance=0.25),
    _d("mcq_acc_medium", "mcq", chance=0.25),
    _d("mcq_acc_hard", "mcq", chance=0.25),
    _d(
        "mcq_acc_clean",
        "mcq",
        chance=0.25,
        headline=True,
        copy_robust=True,
        description="mcq_acc on items whose correct option is not a train answer of the character",
    ),
    _d("mcq_kappa_clean", "mcq", range=(-1.0 / 3.0, 1.0), chance=0.0, copy_robust=True),
    # image identity (v1 forms: similarity to the train images, which a copy wins)
    _d("clip_i", "image_identity", range=_COS, paper=True),
    _d("clip_i_gt", "image_identity", range=_COS, headline=True, copy_robust=True),
    _d("dino", "image_identity", range=_COS, paper=True),
    _d("dino_max", "image_identity", range=_COS),
    _d("paper_dino_penalty", "image_identity", range=(-2.0, 0.0), paper=True),
    _d("face_sim", "image_identity", range=_COS),
    _d("no_face", "image_identity", higher_is_better=False),
    _d("effnet_i", "image_identity", range=_COS),
    _d("effnet_i_gt", "image_identity", range=_COS, headline=True, copy_robust=True),
    _d("dlib_face_sim", "image_identity", range=_COS),
    _d("dlib_no_face", "image_identity", higher_is_better=False),
    # image identity, protocol v2
    _d(
        "copy_rate",
        "image_identity",
        higher_is_better=False,
        description="share of answer images that are near-duplicates of a train image",
    ),
    _d("clip_i_novel", "image_identity", range=_COS, headline=True, copy_robust=True),
    _d("dino_novel", "image_identity", range=_COS, headline=True, copy_robust=True),
    _d("face_sim_novel", "image_identity", range=_COS, headline=True, copy_robust=True),
    _d("effnet_i_novel", "image_identity", range=_COS, headline=True, copy_robust=True),
    _d("dlib_face_sim_novel", "image_identity", range=_COS, headline=True, copy_robust=True),
    # image-text alignment, VQA, diversity, reward
    _d("clip_t", "image_text", range=_COS, headline=True),
    _d("paper_clip_t", "image_text", range=(-100.0 / 30.0, 100.0 / 30.0), paper=True),
    _d("xmodal", "image_text", range=_COS, headline=True),
    _d("paper_vqa", "vqa", paper=True),
    _d("vqa", "vqa", headline=True),
    _d("lpips_div", "diversity", range=(0.0, None)),
    _d("paper_reward", "paper_reward", range=(None, None), paper=True),
    # text
    _d("ref_sim", "text_ref", range=_COS, headline=True, copy_robust=True),
    _d("rouge_l", "text_ref", headline=True, copy_robust=True),
    _d("bleu", "text_ref"),
    _d("style_acc", "style", chance=0.05, description="fitted on the train dialogues a copy reproduces"),
    _d("style_p", "style", chance=0.05),
    _d(
        "style_acc_cf",
        "style",
        chance=0.05,
        headline=True,
        copy_robust=True,
        description="cross-fitted: scored by a model that never saw the train texts the response overlaps",
    ),
    _d("style_p_cf", "style", chance=0.05, headline=True, copy_robust=True),
    _d("persona_sim", "persona", range=_COS, headline=True),
    _d(
        "text_copy_rate",
        "text_copy",
        higher_is_better=False,
        description="share of responses that reproduce a train response of the character",
    ),
    _d("text_copy_overlap", "text_copy", higher_is_better=False),
    _d("judge_failures", "judge", higher_is_better=False, range=(0.0, None)),
    _d("missing", "engine", higher_is_better=False),
)
DECLARED: dict[str, MetricDecl] = {d.name: d for d in _DECLS}

# judge rubric scores: judge_<rubric>, 1-10
JUDGE_PREFIX = "judge_"

# Per task, the preferred headline among eligible metrics (first present wins).
HEADLINES: dict[str, tuple[str, ...]] = {
    "roleplay": (
        "clip_i_novel",
        "dino_novel",
        "face_sim_novel",
        "effnet_i_novel",
        "dlib_face_sim_novel",
        "xmodal",
        "ref_sim",
    ),
    "t2i": (
        "clip_i_novel",
        "dino_novel",
        "face_sim_novel",
        "effnet_i_novel",
        "dlib_face_sim_novel",
        "clip_t",
    ),
    "t2i_vqa": ("vqa", "clip_t", "clip_i_novel", "dino_novel", "effnet_i_novel"),
    "knowledge_mcq": ("mcq_acc_clean",),
    "visual_mcq": ("mcq_acc",),
    "dialogue": ("ref_sim", "style_acc_cf", "rouge_l"),
    "memorization": ("judge_memorization", "persona_sim", "style_acc_cf", "style_p_cf"),
    "personality": ("judge_personality", "style_acc_cf", "style_p_cf", "persona_sim"),
}
# visual_mcq asks about the character's own train images: copying cannot leak the answer key, so its
# accuracy is headline-eligible there even though knowledge_mcq's plain accuracy is not.
#
# Measured by `rolescape meta-eval` on the release copy (offline profile, README "Protocol v2"): on
# roleplay, `retrieval` beats the GT response on the cross-fitted style and on persona grounding (the
# annotation scenes' GT responses are less in-character than the train dialogue it copies), so these
# are not roleplay headlines even though they are elsewhere.
TASK_HEADLINE_OVERRIDES: dict[tuple[str, str], bool] = {
    ("visual_mcq", "mcq_acc"): True,
    ("roleplay", "style_acc_cf"): False,
    ("roleplay", "style_p_cf"): False,
    ("roleplay", "persona_sim"): False,
}


def declaration(metric: str) -> MetricDecl | None:
    """The declaration of `metric` (judge rubric scores are declared by prefix), or None."""
    d = DECLARED.get(metric)
    if d is None and metric.startswith(JUDGE_PREFIX):
        d = MetricDecl(name=metric, family="judge", range=(1.0, 10.0), headline=True)
    return d


def higher_is_better(metric: str) -> bool:
    """Declared direction; an undeclared metric (a third-party family) is taken as higher-is-better."""
    d = declaration(metric)
    return True if d is None else d.higher_is_better


def headline_eligible(task: str, metric: str) -> bool:
    """Whether `metric` may head `task`'s column (declared eligibility, task overrides first)."""
    if (task, metric) in TASK_HEADLINE_OVERRIDES:
        return TASK_HEADLINE_OVERRIDES[(task, metric)]
    d = declaration(metric)
    return bool(d and d.headline)


def headline_preference(task: str) -> tuple[str, ...]:
    return HEADLINES.get(task, ())


def undeclared(metrics: list[str]) -> list[str]:
    """Names in `metrics` that no family declared (a test checks every family's metrics are declared)."""
    return sorted(m for m in metrics if declaration(m) is None)
