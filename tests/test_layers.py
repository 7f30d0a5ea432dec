"""The package's layers (README "Layout"): a module imports only from its own layer and the ones below,
lazy imports inside functions included. An import that runs upward is how cycles and hidden coupling
start, so the test names each one."""

from __future__ import annotations

import ast
from pathlib import Path

import rolescape

PACKAGE = Path(rolescape.__file__).resolve().parent

# Lowest first. A top-level module or subpackage of rolescape -> its layer.
LAYERS: dict[str, int] = {
    **dict.fromkeys(
        [
            "__init__",
            "_paths",
            "errors",
            "io",
            "registry",
            "redact",
            "hub",
            "schemas",
            "dataset",
            "chat_client",
        ],
        0,
    ),
    "metrics": 1,
    **dict.fromkeys(["builders", "demo"], 2),
    **dict.fromkeys(["baselines", "models", "trainer"], 3),
    **dict.fromkeys(["analysis", "leaderboard"], 4),
    **dict.fromkeys(["cli", "commands", "__main__"], 5),
}


def _room(parts: list[str]) -> str:
    """The top-level room of a dotted name below rolescape (`rolescape` itself is `__init__`)."""
    return parts[0] if parts else "__init__"


def _imports(path: Path) -> list[tuple[int, list[str]]]:
    """(line, dotted parts below `rolescape`) of every import of the package in `path`."""
    rel = path.relative_to(PACKAGE).with_suffix("").parts
    here = list(rel[:-1]) if rel[-1] != "__init__" else list(rel[:-1])
    out: list[tuple[int, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name == "rolescape" or a.name.startswith("rolescape."):
                    out.append((node.lineno, a.name.split(".")[1:]))
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = here[: len(here) - (node.level - 1)] if node.level > 1 else here
                parts = base + (node.module.split(".") if node.module else [])
            elif node.module and (node.module == "rolescape" or node.module.startswith("rolescape.")):
                parts = node.module.split(".")[1:]
            else:
                continue
            if not parts:  # `from rolescape import X` / `from . import X` at the top: X is the room
                for a in node.names:
                    out.append((node.lineno, [a.name]))
            else:
                out.append((node.lineno, parts))
    return out


def test_every_room_has_a_layer() -> None:
    rooms = {
        p.stem if p.is_file() else p.name
        for p in PACKAGE.iterdir()
        if p.suffix == ".py" or (p / "__init__.py").is_file()
    }
    assert sorted(rooms - set(LAYERS)) == []


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).with_suffix("").parts
        # a package's __main__ is an entry point (`python -m ...`, `accelerate launch -m ...`): interface
        own = LAYERS["__main__"] if rel[-1] == "__main__" else LAYERS[_room(list(rel))]
        for line, parts in _imports(path):
            target = _room(parts)
            if target in LAYERS and LAYERS[target] > own:
                upward.append(
                    f"{path.relative_to(PACKAGE.parent)}:{line} imports rolescape.{'.'.join(parts)}"
                )
    assert upward == []
