"""The demo generator (scripts/demo/make_demo.py, outside the package) rewrites the packaged demo release
byte for byte: regenerated into a tmp folder, every file equals rolescape/demo/release."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from rolescape._paths import demo_release_root
from rolescape.demo import release_root

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "demo" / "make_demo.py"


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_regenerated_release_equals_the_packaged_one(tmp_path: Path) -> None:
    out = tmp_path / "release"
    env = {**os.environ, "PYTHONPATH": str(REPO)}  # this checkout's rolescape (the template helpers)
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out)], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    packaged, regenerated = _tree(release_root()), _tree(out)
    assert sorted(regenerated) == sorted(packaged)
    changed = [rel for rel in packaged if packaged[rel] != regenerated[rel]]
    assert changed == []
    assert f"wrote {len(packaged)} files" in proc.stdout


def test_the_package_finds_the_demo_without_importing_rolescape_demo() -> None:
    """The demo is data: the builders resolve it through rolescape._paths (the lowest layer), and no
    module of the package imports rolescape.demo (the import that used to run up from builders/)."""
    import ast

    root = demo_release_root()
    assert root == release_root()
    assert (root / "data" / "personalized_data" / "train").is_dir()
    assert (root / "flow_grpo" / "dataset" / "personalized_t2i").is_dir()
    package = REPO / "rolescape"
    importers = []
    for path in sorted(package.rglob("*.py")):
        if path.is_relative_to(package / "demo"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            if any(n == "rolescape.demo" or n.startswith("rolescape.demo.") for n in names):
                importers.append(path.relative_to(REPO).as_posix())
    assert importers == []
    # the generator and its data live beside the repository's scripts, not in the package
    assert [p.name for p in (package / "demo").glob("*.py")] == ["__init__.py"]
    assert sorted(p.name for p in (SCRIPT.parent / "characters").glob("*.yaml")) == [
        "keeper_nine.yaml",
        "maple_crumb.yaml",
        "thistlebrood.yaml",
    ]
