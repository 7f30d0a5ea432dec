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


def _yaml_configs(configs: dict[str, list[str]]) -> str:
    lines = ["configs:"]
    for name in sorted(configs):
        lines.append(f"- config_name: {name}")
        lines.append("  data_files:")
        for split in configs[name]:
            lines.append(f"  - split: {split}")
            lines.append(f"    path: {parquet_relpath(name, split)}")
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
    head = (f"{len(parsed.findings)} findings: " +
            ", ".join(f"{sev.get(s, 0)} {s}" for s in ("error", "warning", "info")) + ".")
    return head + "\n\n" + _table(["code", "rule", "severity", "findings", "repaired"], rows)


def _per_character_findings(parsed: ParsedRelease) -> str:
    codes = sorted({f.code for f in parsed.findings})
    per: dict[str, Counter] = {}
    for f in parsed.findings:
        per.setdefault(f.character or "(release)", Counter())[f.code] += 1
    rows = [[ch] + [per[ch].get(c, "") for c in codes] for ch in sorted(per)]
    return _table(["character"] + codes, rows)


def _render_mapping(d: Any, depth: int = 0) -> str:
    """Readable Markdown for the leakage / floors dicts (nested dicts of numbers)."""
    if not isinstance(d, dict):
        return f"{d}"
    # A dict of per-character dicts of numbers becomes a table.
    if d and all(isinstance(v, dict) and all(not isinstance(x, dict) for x in v.values()) for v in d.values()):
        cols = sorted({k for v in d.values() for k in v})
        return _table(["", *cols], [[k] + [_fmt(v.get(c, "")) for c in cols] for k, v in d.items()])
    parts = []
    for k, v in d.items():
        if isinstance(v, dict):
            parts.append(f"{'#' * min(6, 4 + depth)} {k}\n\n{_render_mapping(v, depth + 1)}")
        else:
            parts.append(f"- **{k}**: {_fmt(v)}")
    return "\n\n".join(parts)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3f}"
    if isinstance(v, list):
        return ", ".join(str(x) for x in v)
    return str(v)


def dataset_card(parsed: ParsedRelease, source: dict[str, Any], counts: dict[str, int],
                 configs: dict[str, list[str]]) -> str:
    chars = parsed.characters
    per_char = []
    for c in chars:
        n = Counter()
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
        per_char.append([c.id, c.folder, n["img_train"], n["img_test"], n["dlg_train"], n["dlg_test"], n["kqa"],
                         n["mcq"], f"{n['memorization']}/{n['memorization_raw']}",
                         f"{n['personality']}/{n['personality_raw']}", n["grpo"]])
    src = ", ".join(f"{k}: `{v}`" for k, v in sorted(source.items()) if k != "files")
    yaml = "\n".join([
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
        _yaml_configs(configs),
        "---",
    ])
    body = f"""
# RoleScape-20, audited (built by rolescape {__version__}, protocol v{PROTOCOL_VERSION})

Built by `rolescape build` from the raw release. Source: {src}.

{LICENCE_CAVEAT}

## Load

```python
from datasets import load_dataset
items = load_dataset("path/to/this/folder", "roleplay", split="test")   # one config per task
```

Task configs (split `test`): `roleplay`, `t2i`, `t2i_vqa` (train-time GRPO prompts, not held out: report
separately), `knowledge_mcq`, `visual_mcq` (on train images), `dialogue`, `memorization`, `personality`.
Every item has a stable id `<task>/<character>/<item>`. Metadata configs: `characters`, `images`, `scenes`,
`dialogues`, `knowledge_qa`, `probes`, `grpo_prompts`. Images are the original file bytes (never
re-encoded); `images.container` says what the bytes really are.

## Counts

{_table(["config/split", "rows"], [[k, v] for k, v in sorted(counts.items())])}

### Per character

{_table(["id", "folder", "train img", "test img", "dlg train", "dlg test", "KQA", "MCQ", "memorization usable/raw", "personality usable/raw", "GRPO prompts"], per_char)}

## Audit

Every problem found is listed in `audit.jsonl` (code, severity, character, file, location, message, repair)
and summarised in `audit_report.md`. Repairs are on by default and each one is recorded; raw text is kept
beside the cleaned text.

{_findings_section(parsed)}

## Leakage between train and test

{_render_mapping(parsed.leakage)}

## MCQ answer-key floors

A constant answer scores this much; report chance-corrected accuracy beside raw accuracy.

{_render_mapping(parsed.floors)}
"""
    return yaml + "\n" + body


def audit_report(parsed: ParsedRelease, source: dict[str, Any]) -> str:
    rules = _rules()
    lines = [f"# Audit report ({source.get('kind')}: {source.get('name')})", "", _findings_section(parsed), "",
             "## Per character", "", _per_character_findings(parsed), "", "## Rules", ""]
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
