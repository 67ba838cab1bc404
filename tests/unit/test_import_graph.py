"""The engine's import graph (engine.tools.imports): no cycle, and the checker sees one."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

from engine.tools.imports import ENGINE_DIR, find_cycles, import_graph
from tests.conftest import ROOT


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "engine"
    root.mkdir()
    (root / "__init__.py").write_text("")
    for name, text in files.items():
        (root / name).write_text(textwrap.dedent(text))
    return root


def test_engine_has_no_import_cycle():
    """No group of engine modules imports each other, at module or function level."""
    assert find_cycles(import_graph()) == []


def test_annotations_make_no_cycle_either():
    """Counting TYPE_CHECKING imports too, the engine's modules still form no circle."""
    assert find_cycles(import_graph(type_checking=True)) == []


def test_a_cycle_through_a_function_level_import_is_found(tmp_path):
    """An import hidden inside a function still closes a cycle."""
    root = _package(
        tmp_path,
        {
            "a.py": "from engine.b import thing\n",
            "b.py": "def thing():\n    from engine import a\n    return a\n",
        },
    )
    assert find_cycles(import_graph(root)) == [["engine.a", "engine.b"]]


def test_type_checking_imports_are_not_edges(tmp_path):
    """An import under `if TYPE_CHECKING:` never runs, so it makes no cycle."""
    root = _package(
        tmp_path,
        {
            "a.py": "from engine.b import thing\n",
            "b.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from engine.a import x\n"
                "thing = 1\n"
            ),
        },
    )
    assert import_graph(root)["engine.b"] == set()
    assert find_cycles(import_graph(root)) == []
    assert import_graph(root, type_checking=True)["engine.b"] == {"engine.a"}


def test_settings_is_a_leaf():
    """engine.settings (the Section base) imports nothing of the engine."""
    assert import_graph()["engine.settings"] == set()


def test_no_engine_import_inside_a_function():
    """Engine modules import engine modules at the top, never inside a function."""
    for path in sorted(ENGINE_DIR.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("engine"):
                    raise AssertionError(f"{path.name}:{node.lineno} imports inside {fn.name}")
                if isinstance(node, ast.Import) and any(
                    a.name.startswith("engine") for a in node.names
                ):
                    raise AssertionError(f"{path.name}:{node.lineno} imports inside {fn.name}")


def test_the_tool_prints_the_graph_and_no_cycle():
    """`python -m engine.tools.imports` lists every module and ends with "no import cycle"."""
    proc = subprocess.run(
        [sys.executable, "-m", "engine.tools.imports"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "engine.simulator -> " in proc.stdout
    assert proc.stdout.rstrip().endswith("no import cycle")
