"""The CLI's list of command modules says which commands each registers; the comments must stay true."""

from __future__ import annotations

import re
from pathlib import Path

import rolescape.cli as cli


def test_every_command_the_cli_names_is_registered_and_no_other() -> None:
    src = Path(cli.__file__).read_text(encoding="utf-8")
    block = src[src.index("COMMAND_MODULES = (") : src.index(")\n", src.index("COMMAND_MODULES = ("))]
    named: set[str] = set()
    for line in block.splitlines():
        m = re.search(r'"(rolescape\.commands\.\w+)",\s*#\s*(.+)$', line)
        if m:
            named |= {n.strip().split()[0] for n in m.group(2).split(",")}  # "train sft" -> the group
    registered = {c.name for c in cli.app.registered_commands} | {g.name for g in cli.app.registered_groups}
    assert named == registered
    assert len(re.findall(r'"rolescape\.commands\.\w+"', block)) == len(cli.COMMAND_MODULES)
