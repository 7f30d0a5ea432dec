"""Prompt templates of the release (rolescape20-release.md §2.10, §2.13), as facts about its format.

Only the RP template is needed to build task inputs; the parsers use the others to cross-check the
derived `processed/` files.
"""

from __future__ import annotations

RP_TEMPLATE = (
    "Character Description: {description}\n\nOpening: {opening}\n\nUser Input: {user_text}\n\n"
    "Based on the character description, opening, conversation history, current user input, and the "
    "reference image, please generate {name}'s response."
)


def rp_prompt(description: str, opening: str, user_text: str, name: str) -> str:
    return RP_TEMPLATE.format(description=description, opening=opening, user_text=user_text, name=name)
