"""Text metric families (benchmark-protocol.md, "Text metrics"), everything except MCQ.

| family (registry name) | module | metrics | tasks |
|---|---|---|---|
| `text_ref` | `reference.py` | `ref_sim`, `rouge_l`, `bleu` | dialogue, roleplay (text side) |
| `style` | `style.py` | `style_acc`, `style_p` | dialogue, roleplay, memorization, personality |
| `persona` | `persona.py` | `persona_sim` | memorization, personality, dialogue, roleplay |
| `judge` | `judge.py` | `judge_memorization`, `judge_personality`, `judge_tone`, `judge_failures` | same |

All of them share one sentence encoder per run (`encoders.py`: MiniLM in profile `offline`,
all-mpnet-base-v2 in profile `paper`, or a local folder via `--model text=PATH`). Importing this
package imports no torch: models load in `prepare`.
"""

from __future__ import annotations
