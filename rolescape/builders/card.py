"""The dataset card (README.md with YAML `configs:`) and the readable audit report."""

from __future__ import annotations

from collections import Counter
from typing import Any

from rolescape import PROTOCOL_VERSION, __version__
from rolescape.builders.release import ParsedRelease
from rolescape.dataset import parquet_relpath

LICENCE_CAVEAT = (
    "**Licence caveat.** The RoleScape-20 release (Tangc03/UniCharacter, arXiv 2605.08129) ships **no "
    "licence file**, and many of its images show real people and copyrighted characters. This folder is "
    "a derived, audited view made for research evaluation; check the rights to every image and text "
    "before you redistribute it. rolescape's own code is Apache-2.0; that does not extend to this data."
)


def _yaml_configs(configs: dict[str, list[str]], data_files: dict[str, dict[str, str]] | None = None) -> str:
    """The card's `configs:`; paths are the content-named files of `data_files` (legacy names without)."""
    lines = ["configs:"]
    for name in sorted(configs):
        lines.append(f"- config_name: {name}")
        lines.append("  data_files:")
        for split in configs[name]:
            path = (data_files or {}).get(name, {}).get(split) or parquet_relpath(name, split)
            lines.append(f"  - split: {split}")
            lines.append(f"    path: {path}")
    return "\n".join(lines)


def _table(header: list[str], rows: list[list[Any]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def _rules() -> dict[str, Any]:
    try:
        from rolescape.builders.audit import RULES
    except ImportError:  # pragma: no cover
        return {}
    return RULES


def _findings_section(parsed: ParsedRelease) -> str:
    by_code = Counter((f.code, f.rule, f.severity) for f in parsed.findings)
    repaired = Counter(f.code for f in parsed.findings if f.repair)
    rows = [[code, rule, sev, n, repaired.get(code, 0)] for (code, rule, sev), n in sorted(by_code.items())]
    sev = Counter(f.severity for f in parsed.findings)
    head = (
        f"{len(parsed.findings)} findings: "
        + ", ".join(f"{sev.get(s, 0)} {s}" for s in ("error", "warning", "info"))
        + "."
    )
    return head + "\n\n" + _table(["code", "rule", "severity", "findings", "repaired"], rows)


def _per_character_findings(parsed: ParsedRelease) -> str:
    """The rule catalogue summarised per character: one row per rule that fired, one column per character.

    Rules of the catalogue that found nothing are named below the table, so every problem class is
    either counted per character or stated absent.
    """
    chars = [c.id for c in parsed.characters]
    per: dict[str, Counter] = {}
    for f in parsed.findings:
        per.setdefault(f.code, Counter())[f.character or "(release)"] += 1
    cols = chars + (["(release)"] if any(f.character is None for f in parsed.findings) else [])
    rules = _rules()
    rows = []
    for code in sorted(per):
        r = rules.get(code)
        counts = per[code]
        rows.append(
            [code, getattr(r, "name", ""), getattr(r, "severity", ""), sum(counts.values())]
            + [counts.get(c, "") for c in cols]
        )
    out = _table(["code", "rule", "severity", "total", *cols], rows)
    silent = [c for c in sorted(rules) if c not in per]
    if silent:
        out += "\n\nRules that found nothing: " + ", ".join(f"`{c}` {rules[c].name}" for c in silent) + "."
    return out


LEAKAGE_COLUMNS = (
    ("dialogue_test_user_in_train", "dialogue test input in train"),
    ("mcq_question_in_train_kqa", "MCQ question in train KQA"),
    ("mcq_answer_is_train_kqa_answer", "MCQ answer = a train KQA answer"),
    ("memorization_in_train_dialogue", "memorization probe in train dialogue"),
    ("personality_in_train_dialogue", "personality probe in train dialogue"),
)


def _frac(n: int, of: int) -> str:
    return f"{n}/{of}" if of else "–"


def leakage_table(leakage: dict[str, Any]) -> str:
    """Per character x check: test inputs found in train, as `n/of`, with a bold total row."""
    checks = [(k, label) for k, label in LEAKAGE_COLUMNS if k in leakage]
    if not checks:
        return "No leakage checks were computed."
    chars = sorted({c for k, _ in checks for c in leakage[k].get("per_character", {})})
    rows = []
    for c in chars:
        cells = []
        for k, _ in checks:
            e = leakage[k]["per_character"].get(c, {"n": 0, "of": 0})
            cells.append(_frac(e["n"], e["of"]))
        rows.append([c, *cells])
    total = ["**total**"] + [
        f"**{_frac(leakage[k]['n'], leakage[k]['of'])}** ({_pct(leakage[k]['rate'])})" for k, _ in checks
    ]
    return _table(["character", *(label for _, label in checks)], rows + [total])


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _floor_row(name: str, fl: dict[str, Any]) -> list[Any]:
    keys = fl["answer_keys"]
    best = fl["best_constant"]
    return [
        name,
        fl["n"],
        " / ".join(str(keys.get(k, 0)) for k in "ABCD"),
        *(_pct(fl[f"always_{k}"]) for k in "ABCD"),
        _pct(fl["longest_option"]),
        f"{best['letter']} {_pct(best['accuracy'])}",
    ]


FLOOR_TITLES = {"knowledge_mcq": "Knowledge MCQ (`knowledge_mcq`)", "visual_mcq": "Visual MCQ (`visual_mcq`)"}


def floors_tables(floors: dict[str, Any], level: str = "###") -> str:
    """One table per MCQ family: answer-key distribution and the constant-strategy floors per character."""
    header = [
        "character",
        "n",
        "keys A / B / C / D",
        "always A",
        "always B",
        "always C",
        "always D",
        "longest option",
        "best constant",
    ]
    parts = []
    for fam, title in FLOOR_TITLES.items():
        if fam not in floors:
            continue
        f = floors[fam]
        rows = [_floor_row(c, v) for c, v in sorted(f.get("per_character", {}).items())]
        total = [f"**{x}**" for x in _floor_row("total", f["total"])]
        parts.append(f"{level} {title}\n\n" + _table(header, rows + [total]))
    return "\n\n".join(parts) if parts else "No MCQ items."


def _empty_note(counts: dict[str, int]) -> str:
    empty = [k for k, v in sorted(counts.items()) if not v]
    if not empty:
        return ""
    return (
        "\nNot written because they have no rows (the `datasets` library cannot load an empty split): "
        + ", ".join(f"`{k}`" for k in empty)
        + ".\n"
    )


def dataset_card(
    parsed: ParsedRelease,
    source: dict[str, Any],
    counts: dict[str, int],
    configs: dict[str, list[str]],
    data_files: dict[str, dict[str, str]] | None = None,
) -> str:
    chars = parsed.characters
    per_char = []
    for c in chars:
        n: Counter[str] = Counter()
        for r in parsed.images:
            if r.character == c.id:
                n[f"img_{r.split}"] += 1
        for d in parsed.dialogues:
            if d.character == c.id:
                n[f"dlg_{d.split}"] += 1
        n["kqa"] = sum(1 for q in parsed.knowledge_qa if q.character == c.id)
        n["mcq"] = sum(1 for q in parsed.knowledge_mcq if q.character == c.id)
        for p in parsed.probes:
            if p.character == c.id:
                n[f"{p.kind}_raw"] += 1
                n[p.kind] += int(p.usable)
        n["grpo"] = sum(1 for g in parsed.grpo_prompts if g.character == c.id)
        per_char.append(
            [
                c.id,
                c.folder,
                n["img_train"],
                n["img_test"],
                n["dlg_train"],
                n["dlg_test"],
                n["kqa"],
                n["mcq"],
                f"{n['memorization']}/{n['memorization_raw']}",
                f"{n['personality']}/{n['personality_raw']}",
                n["grpo"],
            ]
        )
    src = ", ".join(f"{k}: `{v}`" for k, v in sorted(source.items()) if k != "files")
    yaml = "\n".join(
        [
            "---",
            "pretty_name: RoleScape-20 (audited by rolescape)",
            "license: other",
            "license_name: no-licence-in-source",
            "task_categories:",
            "- text-generation",
            "- text-to-image",
            "- visual-question-answering",
            "tags:",
            "- role-play",
            "- multimodal",
            "- rolescape",
            _yaml_configs(configs, data_files),
            "---",
        ]
    )
    body = f"""
# RoleScape-20, audited (built by rolescape {__version__}, protocol v{PROTOCOL_VERSION})

Built by `rolescape build` from the raw release. Source: {src}.

{LICENCE_CAVEAT}

## Load

```python
from datasets import load_dataset
items = load_dataset("path/to/this/folder", "roleplay", split="test")   # one config per task
```

Data files are named by the sha256 of their content (`data/<config>/<split>-<hash>.parquet`), so a
rebuild whose content changed is a new dataset to `load_dataset`'s cache, and an identical one is not.

Task configs (split `test`): `roleplay`, `t2i`, `t2i_vqa` (train-time GRPO prompts, not held out: report
separately), `knowledge_mcq`, `visual_mcq` (on train images), `dialogue`, `memorization`, `personality`.
Every item has a stable id `<task>/<character>/<item>`. Metadata configs: `characters`, `images`, `scenes`,
`dialogues`, `knowledge_qa`, `probes`, `grpo_prompts`. Images are the original file bytes (never
re-encoded); `images.container` says what the bytes really are.

## Counts

{_table(["config/split", "rows"], [[k, v] for k, v in sorted(counts.items())])}
{_empty_note(counts)}

### Per character

{_table(["id", "folder", "train img", "test img", "dlg train", "dlg test", "KQA", "MCQ", "memorization usable/raw", "personality usable/raw", "GRPO prompts"], per_char)}

## Audit

Every problem found is listed in `audit.jsonl` (code, severity, character, file, location, message, repair)
and summarised in `audit_report.md`. Repairs are on by default and each one is recorded; raw text is kept
beside the cleaned text.

{_findings_section(parsed)}

### Rule catalogue per character

{_per_character_findings(parsed)}

## Leakage between train and test

Test inputs found (after normalisation) among the same character's training data, as `n/of` per
character; the item ids are listed in `leakage.json`.

{leakage_table(parsed.leakage)}

## MCQ answer-key floors

What a constant strategy scores: always answering one letter, or always picking the longest option.
Report chance-corrected accuracy, and these floors, beside raw accuracy.

{floors_tables(parsed.floors)}
"""
    return yaml + "\n" + body


def audit_report(parsed: ParsedRelease, source: dict[str, Any]) -> str:
    rules = _rules()
    lines = [
        f"# Audit report ({source.get('identity')})",
        "",
        _findings_section(parsed),
        "",
        "## Per character",
        "",
        _per_character_findings(parsed),
        "",
        "## Leakage between train and test",
        "",
        leakage_table(parsed.leakage),
        "",
        "## MCQ answer-key floors",
        "",
        floors_tables(parsed.floors),
        "",
        "## Rules",
        "",
    ]
    if rules:
        rows = []
        for code, r in sorted(rules.items()):
            rows.append([code, getattr(r, "name", ""), getattr(r, "severity", ""), getattr(r, "summary", "")])
        lines.append(_table(["code", "name", "severity", "summary"], rows))
    lines += ["", "## Findings", ""]
    for f in parsed.findings:
        where = f"{f.file}" + (f" @ {f.location}" if f.location else "")
        rep = f" → repaired: {f.repair}" if f.repair else ""
        lines.append(f"- `{f.code}` {f.severity} [{f.character or 'release'}] {where}: {f.message}{rep}")
    return "\n".join(lines) + "\n"
