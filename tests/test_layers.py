"""Imports go down only: cli -> daemon -> engine -> {...} -> net -> foundation."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "mailflow"

# rank: a module may import modules of a lower or equal rank only within its own layer group
RANKS = {
    "cli": 6,
    "daemon": 5,
    "demo": 5,
    "engine": 4,
    "owners": 4,  # the owner as a record: the store and the settings, seen per owner
    "sources": 3,
    "sinks": 3,
    "store": 3,
    "understand": 3,
    "playbook": 3,
    "compose": 3,
    "net": 2,
    "config": 1,
    "passwords": 1,
    "resources": 1,
    "model": 0,
    "steps": 0,
    "clock": 0,
    "errors": 0,
    "text": 0,
}
# modules in the same middle layer must not import each other (they are independent parts)
INDEPENDENT = {"sources", "sinks", "store", "understand", "playbook", "compose"}


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "mailflow" or len(parts) < 2:
        return None
    return parts[1]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def _violations() -> list[str]:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        own = relative.parts[1] if len(relative.parts) > 1 else None
        if own in (None, "__init__", "__main__"):
            continue
        if own not in RANKS:
            problems.append(f"{relative}: layer {own!r} is not in the layer table of tests/test_layers.py")
            continue
        for imported in _imports(path):
            other = _layer(imported)
            if other is None or other == own or other not in RANKS:
                continue
            if RANKS[other] > RANKS[own] or (RANKS[other] == RANKS[own] and {own, other} <= INDEPENDENT):
                problems.append(f"{relative} imports {imported}")
    return problems


def test_imports_flow_one_way() -> None:
    assert _violations() == []


def test_the_check_can_fail(tmp_path: Path) -> None:
    tree = ast.parse("from mailflow.cli.app import app\n")
    assert "mailflow.cli.app" in {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert RANKS["cli"] > RANKS["store"]
