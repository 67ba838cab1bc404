"""Layering: the engine imports numpy, param and the standard library only; nothing imports
the web app. Checked on the source (every import statement) and at run time."""

from __future__ import annotations

import ast
import subprocess
import sys

from tests.conftest import ROOT

ALLOWED = {
    "numpy",
    "param",
    "engine",
    "zstandard",
    "distributed",
    "dask",
    "pandas",
    "pyarrow",
    "numba",
}
WEB = {"panel", "bokeh", "webapp", "tornado"}


def _imports(path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_engine_never_imports_the_web_stack():
    """No module under engine/ names panel, bokeh, tornado or webapp in an import."""
    stdlib = set(sys.stdlib_module_names)
    for path in sorted((ROOT / "engine").rglob("*.py")):
        found = _imports(path) - stdlib
        assert not (found & WEB), f"{path} imports {found & WEB}"
        assert found <= ALLOWED, f"{path} imports {found - ALLOWED}"


def test_running_the_engine_loads_no_web_module():
    """Simulating a scenario leaves panel and bokeh unimported."""
    code = (
        "import sys; from engine import load_scenario, simulate;"
        "simulate(load_scenario('scenarios/quickstart.toml'), record=True);"
        "bad = [m for m in ('panel', 'bokeh', 'webapp') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_nothing_imports_webapp_outside_it():
    """engine/, benchmarks/ and scenarios/ never import webapp."""
    for folder in ("engine",):
        for path in (ROOT / folder).rglob("*.py"):
            assert "webapp" not in _imports(path), path
