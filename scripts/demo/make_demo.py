"""Generate the embedded demo release: three original characters in the RoleScape-20 raw layout.

Run ``python scripts/demo/make_demo.py`` from the repository root. It deletes and rewrites
``rolescape/demo/release/`` (or ``--out DIR``) deterministically (no timestamps, fixed image encoder
settings, seeded randomness), so two runs give byte-identical files. A development tool: the wheel
ships only the generated folder, not this script.

Everything here is original: the characters (Keeper Nine, Maple Crumb, Thistlebrood), whose texts,
scenes and drawing specs are the YAML files in ``characters/`` beside this script, and their
Pillow-drawn images. Only the *shape* of the release is reproduced: folder and file names, JSON field
names and order, indentation, and the fixed prompt templates of the derived files that the inventory
(docs/rolescape20-release.md §2.10, §2.13) documents. The data carries deliberate defects, listed in
``rolescape/demo/DEFECTS.md``, so that the audit has something to find.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import shutil
from pathlib import Path

import yaml
from drawing import render  # scripts/demo/drawing.py, beside this script
from PIL import Image

from rolescape.builders.parsers import rp_prompt, t2i_prompt, t2i_think_prompt, think_prompt

HERE = Path(__file__).resolve().parent
CHARACTER_DIR = HERE / "characters"
OUT = HERE.parent.parent / "rolescape" / "demo" / "release"
DATA = "data/personalized_data"

# ---------------------------------------------------------------------------------------------
# Fixed templates of the derived files (inventory §2.10 and §2.13).
# ---------------------------------------------------------------------------------------------

# The release's templates are facts about its format; the builder's parsers own them, so the demo's
# derived files are generated with exactly the strings the cross-check expects.
BLACK_IMAGE = "personalized_data/black_512x512.png"


# ---------------------------------------------------------------------------------------------
# Annotation-pipeline prompts (prompts/*.txt). Our own wording; the placeholders follow §2.12.
# ---------------------------------------------------------------------------------------------

SIMPLIFY_PROMPT = "{profile}\n\nExtract the sections from this profile pertaining to the personalities and preferences of {p}."

DIALOGUE_EXTENSION_PROMPT = """Please refer to the following information regarding {p}, along with 10 dialogue entries (a character description and an opening, followed by scenes that each pair a User Input with a Character Response). Generate 200 expanded dialogues that remain consistent with the character's personality and linguistic style. Choose the topics freely: small talk, the character's background and daily life, their skills, questions a newcomer might ask, and moments that test their temper or their kindness.

**About {p}:**
{profile}

**The example dialogue entries:**

{annotation}

**Write the expanded dialogues in exactly this format:**

```json
{{
  "description": "{description}",
  "opening": "{opening}",
  "scenes": [
      [
          {{
              "role": "user",
              "text": "Good morning, Maple! Are the cinnamon knots ready yet?"
          }},
          {{
              "role": "machine",
              "text": "Two more minutes~! Go on, stand by the oven door and breathe in. That's the best part."
          }}
      ]
  ]
}}
```"""

KNOWLEDGE_QA_PROMPT = """You build question-answer datasets from character profiles.

Task

- Using only the PROFILE_TEXT below, create exactly 100 diverse, non-overlapping QA items about the character {p}.
- Treat them as items 1 to 100 in a larger set.

Source

- PROFILE_TEXT:

```
<<<
{profile}
>>>
```

Output format

- A JSON array of 100 objects. Each object has these fields:

```json
{{
  "id": "<qa_001 ... qa_100>",
  "question": "<a self-contained question that PROFILE_TEXT alone can answer>",
  "answer": "<a short answer supported by PROFILE_TEXT>",
  "evidence": "<the exact words of PROFILE_TEXT that back up the answer>",
  "type": "<one of: fact, definition, list, reasoning, comparison, timeline, procedure, numeric, quote, location, role, capability, limitation, preference>",
  "difficulty": "<easy | medium | hard>",
  "reasoning_steps": "<one or two sentences on how the evidence gives the answer>",
  "confidence": "<a number from 0.0 to 1.0>"
}}
```

Rules

- Ground every answer in PROFILE_TEXT. Never guess.
- Spread the questions over every part of the profile, and never ask about the same fact twice.
- Mix question forms (what, who, where, why, yes/no, lists, numbers) and difficulties.
- Quote the evidence word for word; do not paraphrase it.

Deliverable

- Return the JSON array only, with ids qa_001 to qa_100."""

KNOWLEDGE_QA_TEST_PROMPT = """You write knowledge multiple-choice questions (MCQ) about fictional characters.

# Task
- From the PROFILE_TEXT below about the character {p}, generate exactly 10 single-answer MCQ items on what the profile says about this character.

# Source
- PROFILE_TEXT:

```
<<<
{profile}
>>>
```

# Rules
- Use only facts that PROFILE_TEXT states.
- Use the exact distribution 4 easy, 4 medium, 2 hard.
- Give exactly 4 options A-D with one correct answer. Distractors must be plausible but clearly wrong.
- The evidence must be a verbatim substring of PROFILE_TEXT.
- Cover different aspects: background, personality, abilities, relationships, preferences, appearance, history, quotes, goals, misc.
- Use the IDs mcq_001..mcq_010.

# Output Format
Return one JSON array. Every object has this shape:

```json
{{
  "id": "mcq_001",
  "question": "<question>",
  "options": {{"A": "<option>", "B": "<option>", "C": "<option>", "D": "<option>"}},
  "answer_key": "A" | "B" | "C" | "D",
  "difficulty": "easy" | "medium" | "hard",
  "evidence": "<verbatim snippet of PROFILE_TEXT>",
  "rationale": "<one or two sentences that explain the answer>"
}}
```"""

MEMORIZATION_PROMPT = """Referencing dialogues from the training set and materials concerning {p}, generate 20 User Inputs as a test set to evaluate the model's memorization capability for the character {p}.

**Materials concerning {p}:**

{profile}

**Dialogues from the training set:**

{annotation}

Memorization: how well the model can recall relevant information about the character being portrayed, including precise and detailed knowledge about people, events, and objects associated with the role.

Write user inputs that would show whether the model remembers these details about {p}."""

PERSONALITY_PROMPT = """Referencing dialogues from the training set and materials concerning {p}, generate 20 User Inputs as a test set to evaluate whether the model's personality aligns with the character {p}.

**Materials concerning {p}:**

{simplified}

**Dialogues from the training set:**

{annotation}

Personality: how well the model can mimic the way that the character would think or speak, including the speaking style or the tones, and the emotions and reactions the character shows in different situations.

Write user inputs that would show whether the model's replies sound like {p}."""


# ---------------------------------------------------------------------------------------------
# The characters: one YAML file each (characters/*.yaml), in this order.
# ---------------------------------------------------------------------------------------------

CHARACTER_FILES = ("keeper_nine.yaml", "maple_crumb.yaml", "thistlebrood.yaml")


def load_characters(folder: Path = CHARACTER_DIR) -> list[dict]:
    """The character dicts, key order as written (it is the release's JSON key order)."""
    return [yaml.safe_load((folder / name).read_text(encoding="utf-8")) for name in CHARACTER_FILES]


CHARACTERS = load_characters()


# ---------------------------------------------------------------------------------------------
# Defect switches that are not inline in the data above (see DEFECTS.md for the full list).
# ---------------------------------------------------------------------------------------------

CRLF_ANNOTATION = {"Harbor Lights-Keeper Nine"}  # train annotation.json with CRLF line endings
DS_STORE_FOLDERS = {"Harbor Lights-Keeper Nine"}  # .DS_Store inside the character folder (+ GRPO folder)
MISSING_TEST_PROFILE = {"Harbor Lights-Keeper Nine"}  # test/<Folder>/<P>_full_profile.txt absent
BLANK_LINE_GRPO = {"Thistlebrood": 2}  # blank line inserted before this 0-based line
T2I_THINK_MISMATCH = {"Thistlebrood": 1}  # train t2i_with_thinking line with a stale thinking text

DS_STORE_BYTES = b"\x00\x00\x00\x01Bud1" + bytes(1016)  # header of a Finder .DS_Store, zero padded


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def prefix_of(folder: str) -> str:
    return folder.split("-", 1)[1] if "-" in folder else folder


def ds_name(folder: str) -> str:
    return prefix_of(folder).replace(" ", "_")


def jdump(obj, indent: int) -> str:
    return json.dumps(obj, indent=indent, ensure_ascii=False)


def jline(obj) -> str:
    return json.dumps(obj, ensure_ascii=False)


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)


def write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def write_jsonl(path: Path, rows, blank_before=None) -> None:
    lines = []
    for i, row in enumerate(rows):
        if blank_before is not None and i == blank_before:
            lines.append("")
        lines.append(jline(row))
    write_text(path, "\n".join(lines) + "\n")


def save_image(path: Path, img: Image.Image, fmt: str = "PNG") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "JPEG":
        img.convert("RGB").save(
            path, format="JPEG", quality=85, optimize=False, progressive=False, subsampling=2
        )
    else:
        img.save(path, format="PNG", optimize=False, compress_level=9)


def first_sentence(text: str) -> str:
    for i, ch in enumerate(text):
        if ch in ".!?" and i + 1 < len(text) and text[i + 1] == " ":
            return text[: i + 1]
    return text


def stale_thinking(text: str) -> str:
    """The shorter thinking text of an 'older annotation round': its first two sentences."""
    parts = text.split(". ")
    return ". ".join(parts[:2]) + "."


def header(c) -> dict:
    return {"description": c["description"], "opening": c["opening"]}


def machine_turn(scene, image_id, extra=()):
    turn = {"role": "machine", "text": scene["machine"], "image": image_id}
    for key in extra:
        turn[key] = scene[key]
    return turn


def annotation(c, split) -> dict:
    scenes = [[{"role": "user", "text": s["user"]}, machine_turn(s, str(i))] for i, s in enumerate(c[split])]
    return {**header(c), "scenes": scenes}


def with_image(c, split) -> dict:
    scenes = []
    for i, s in enumerate(c[split]):
        turn = {
            "role": "machine",
            "text": s["machine"],
            "image": str(i),
            "thinking_process": s["thinking"],
            "generation_instruction": s["gen"],
        }
        if split == "train":
            turn["qa_pairs"] = [{"question": q, "answer": a, "type": t} for q, a, t in s["qa"]]
            turn["mcq_items"] = copy.deepcopy(s["mcq"])
        scenes.append([{"role": "user", "text": s["user"]}, turn])
    return {**header(c), "scenes": scenes}


def ext_scenes(items):
    scenes = []
    for user, machine, image in items:
        turn = {"role": "machine", "text": machine}
        if image is not None:
            turn["image"] = image  # hallucinated id (DEFECT where set)
        scenes.append([{"role": "user", "text": user}, turn])
    return scenes


def conv(human, gpt):
    return [{"from": "human", "value": human}, {"from": "gpt", "value": gpt}]


def rp_text(c, p, user):
    return rp_prompt(c["description"], c["opening"], user, p)


def think_gpt(thinking, gen):
    return f"<think>{thinking}</think>\n<gen>{gen}</gen>"


# ---------------------------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------------------------


def write_images(c, split, base: Path) -> None:
    for i, s in enumerate(c[split]):
        spec = s["img"]
        rng = random.Random(f"{c['folder']}/{split}/{i}")
        img = render(spec, rng)
        save_image(base / f"{i}.png", img, spec.get("fmt", "PNG"))


def write_t2i(c, split, base: Path) -> None:
    folder, p = c["folder"], prefix_of(c["folder"])
    d = c["description"]
    t2i, think, gen_only, pure = [], [], [], []
    for i, s in enumerate(c[split]):
        img = f"personalized_data/{split}/{folder}/{i}.png"
        thinking = s["thinking"]
        if split == "train" and T2I_THINK_MISMATCH.get(folder) == i:
            thinking = stale_thinking(thinking)  # DEFECT: line does not match its template
        t2i.append(
            {"text": t2i_prompt(d, s["user"], s["machine"]), "image": img, "character": p, "scene_id": i}
        )
        think.append(
            {
                "text": t2i_think_prompt(d, s["user"], s["machine"], thinking, s["gen"]),
                "image": img,
                "character": p,
                "scene_id": i,
            }
        )
        gen_only.append({"text": s["gen"], "image": img, "character": p, "scene_id": i})
        pure.append({"text": s["t2i"], "image": img, "character": p, "scene_id": str(i)})
    out = base / "processed" / "t2i"
    write_jsonl(out / f"{p}_t2i.jsonl", t2i)
    write_jsonl(out / f"{p}_t2i_with_thinking.jsonl", think)
    write_jsonl(out / f"{p}_t2i_generation_instruction_only.jsonl", gen_only)
    write_jsonl(out / f"{p}_pure_t2i.jsonl", pure)


def write_vlm(c, base: Path) -> None:
    folder, p = c["folder"], prefix_of(c["folder"])
    d = c["description"]
    train = c["train"]
    ext_all = [(u, m) for u, m, _ in c["ext_train"]] + [(s["user"], s["machine"]) for s in train]
    vlm = [
        {"id": i, "conversations": conv(rp_text(c, p, s["user"]), s["machine"])} for i, s in enumerate(train)
    ]
    vlm_ext = [{"id": i, "conversations": conv(rp_text(c, p, u), m)} for i, (u, m) in enumerate(ext_all)]
    vlm_think = [
        {
            "id": i,
            "conversations": conv(
                think_prompt(d, s["user"], s["machine"]), think_gpt(s["thinking"], s["gen"])
            ),
        }
        for i, s in enumerate(train)
    ]
    kqa = [{"id": i, "conversations": conv(q["question"], q["answer"])} for i, q in enumerate(c["kqa"])]
    vqa = []
    for si, s in enumerate(train):
        for qi, (q, a, t) in enumerate(s["qa"]):
            vqa.append(
                {
                    "id": f"{si}_{qi}",
                    "image": f"personalized_data/train/{folder}/{si}.png",
                    "conversations": conv("<image>" + q, a),
                    "qa_type": t,
                }
            )
    out = base / "processed" / "vlm"
    write_jsonl(out / f"{p}_vlm.jsonl", vlm)
    write_jsonl(out / f"{p}_vlm_extension.jsonl", vlm_ext)
    write_jsonl(out / f"{p}_vlm_thinking.jsonl", vlm_think)
    write_jsonl(out / f"{p}_knowledge_qa.jsonl", kqa)
    write_jsonl(out / f"{p}_vqa.jsonl", vqa)

    # Stale <Folder>_full.jsonl / _full_new.jsonl from an "older annotation round" (DEFECT: differ from
    # the current files): two fewer generated dialogues, every third reply an earlier one-sentence draft,
    # shorter thinking texts, only the first 8 knowledge QA items and the first 2 visual QA per scene.
    old_ext = []
    for i, (u, m, _) in enumerate(c["ext_train"][:-2]):
        old_ext.append((u, first_sentence(m) if i % 3 == 0 else m))
    old_ext += [(s["user"], s["machine"]) for s in train]
    blocks = []  # (human, gpt, image|None, qa_type|None)
    blocks += [(rp_text(c, p, u), m, None, None) for u, m in old_ext]
    blocks += [
        (
            think_prompt(d, s["user"], s["machine"]),
            think_gpt(stale_thinking(s["thinking"]), s["gen"].rsplit(", ", 1)[0]),
            None,
            None,
        )
        for s in train
    ]
    blocks += [(q["question"], q["answer"], None, None) for q in c["kqa"][:8]]
    for si, s in enumerate(train):
        for q, a, t in s["qa"][:2]:
            blocks.append(("<image>" + q, a, f"personalized_data/train/{folder}/{si}.png", t))
    full, full_new = [], []
    for i, (h, g, img, t) in enumerate(blocks):
        if img is None:
            full.append({"id": i, "conversations": conv(h, g)})
            full_new.append({"id": i, "conversations": conv("<image>\n" + h, g), "image": BLACK_IMAGE})
        else:
            row = {"id": i, "image": img, "conversations": conv(h, g), "qa_type": t}
            full.append(row)
            full_new.append(row)
    write_jsonl(out / f"{folder}_full.jsonl", full)
    write_jsonl(out / f"{folder}_full_new.jsonl", full_new)


def write_t2i_instructions(c, h, split: str, path: Path) -> None:
    """`<prefix>_t2i_instruction.json` of one split: the header and one instruction per scene image."""
    rows = [{"image_id": str(i), "t2i_instruction": s["t2i"]} for i, s in enumerate(c[split])]
    write_text(path, jdump({**h, "t2i_instructions": rows}, 2))


def write_prompts(c, base: Path) -> None:
    p = prefix_of(c["folder"])
    ann = jdump(annotation(c, "train"), 2)
    prof = c["profile"]
    out = base / "prompts"
    write_text(
        out / f"{p}_personality_simplify_profile_prompt.txt", SIMPLIFY_PROMPT.format(profile=prof, p=p)
    )
    # description/opening pasted raw into a JSON example: a description with double quotes breaks it
    write_text(
        out / f"{p}_dialogue_extension_prompt.txt",
        DIALOGUE_EXTENSION_PROMPT.format(
            p=p, profile=prof, annotation=ann, description=c["description"], opening=c["opening"]
        ),
    )
    write_text(out / f"{p}_knowledge_qa_prompt.txt", KNOWLEDGE_QA_PROMPT.format(p=p, profile=prof))
    write_text(out / f"{p}_knowledge_qa_test_prompt.txt", KNOWLEDGE_QA_TEST_PROMPT.format(p=p, profile=prof))
    write_text(
        out / f"{p}_memorization_test_prompt.txt",
        MEMORIZATION_PROMPT.format(p=p, profile=prof, annotation=ann),
    )
    write_text(
        out / f"{p}_personality_test_prompt.txt",
        PERSONALITY_PROMPT.format(p=p, simplified=c["simplified"], annotation=ann),
    )


def write_character(c, root: Path) -> None:
    folder, p, ds = c["folder"], prefix_of(c["folder"]), ds_name(c["folder"])
    h = header(c)

    # ---- train -----------------------------------------------------------------------------
    tr = root / DATA / "train" / folder
    write_images(c, "train", tr)
    ann = jdump(annotation(c, "train"), 4)
    if folder in CRLF_ANNOTATION:
        ann = ann.replace("\n", "\r\n")
    write_text(tr / "annotation.json", ann)
    write_text(tr / f"{p}_with_image.json", jdump(with_image(c, "train"), 2))
    write_t2i_instructions(c, h, "train", tr / f"{p}_t2i_instruction.json")
    write_text(tr / f"{p}_full_profile.txt", c["profile"])
    write_text(tr / f"{p}_personality_simplified_profile.txt", c["simplified"])
    originals = [(s["user"], s["machine"], None) for s in c["train"]]  # appended with `image` removed
    write_text(
        tr / f"{p}_dialogue_text_extension_train.json",
        jdump({**h, "scenes": ext_scenes(c["ext_train"] + originals)}, 2),
    )
    write_text(
        tr / f"{p}_dialogue_text_extension_test.json", jdump({**h, "scenes": ext_scenes(c["ext_test"])}, 2)
    )
    write_text(tr / f"{p}_knowledge_qa.json", jdump({**h, "qa_items": c["kqa"]}, 2))
    write_text(tr / f"{p}_knowledge_qa_test.json", jdump({**h, "mcq_items": c["kmcq"]}, 2))
    write_text(tr / f"{p}_memorization_test.json", jdump({**h, "test_questions": c["memorization"]}, 2))
    write_text(tr / f"{p}_personality_test.json", jdump({**h, "test_questions": c["personality"]}, 2))
    write_prompts(c, tr)
    write_t2i(c, "train", tr)
    write_vlm(c, tr)
    if folder in DS_STORE_FOLDERS:
        write_bytes(tr / ".DS_Store", DS_STORE_BYTES)

    # ---- test ------------------------------------------------------------------------------
    te = root / DATA / "test" / folder
    write_images(c, "test", te)
    write_text(te / "annotation.json", jdump(annotation(c, "test"), 4))
    write_text(te / f"{p}_with_image.json", jdump(with_image(c, "test"), 2))
    write_t2i_instructions(c, h, "test", te / f"{p}_t2i_instruction.json")
    if folder not in MISSING_TEST_PROFILE:
        write_text(te / f"{p}_full_profile.txt", c["profile"])
    write_t2i(c, "test", te)

    # ---- flow_grpo dataset -------------------------------------------------------------------
    g = root / "flow_grpo" / "dataset" / "personalized_t2i" / ds
    write_text(g / f"{ds}_full_profile.txt", c["profile"])
    pure, with_vqa = [], []
    for i, (text, questions) in enumerate(c["grpo"]):
        row = {
            "text": text,
            "character": c["grpo_character"],
            "scene_id": str(i),
            "reference_images_path": f"dataset/personalized_t2i/{ds}",
        }
        pure.append(row)
        with_vqa.append({**row, "vqa_questions": copy.deepcopy(questions)})
    write_jsonl(g / f"{ds}_pure_t2i.jsonl", pure, blank_before=BLANK_LINE_GRPO.get(folder))
    write_jsonl(g / f"{ds}_pure_t2i_with_vqa.jsonl", with_vqa)
    if folder in DS_STORE_FOLDERS:
        write_bytes(g / ".DS_Store", DS_STORE_BYTES)


def generate(root: Path = OUT) -> Path:
    """(Re)write the whole demo release under ``root``; returns ``root``."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    save_image(root / DATA / "black_512x512.png", Image.new("RGB", (512, 512), (0, 0, 0)))
    write_bytes(root / DATA / "train" / ".DS_Store", DS_STORE_BYTES)
    for c in CHARACTERS:
        write_character(c, root)
    return root


def main() -> None:
    ap = argparse.ArgumentParser(description="Rewrite the demo release deterministically.")
    ap.add_argument("--out", type=Path, default=OUT, help=f"release folder to (re)write (default: {OUT})")
    root = generate(ap.parse_args().out)
    files = sorted(p for p in root.rglob("*") if p.is_file())
    total = sum(p.stat().st_size for p in files)
    print(f"wrote {len(files)} files, {total} bytes, under {root}")


if __name__ == "__main__":
    main()
