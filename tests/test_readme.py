"""The README's engine example and the engine package docstring run as doctests."""

from __future__ import annotations

import doctest
import os

import engine
from tests.conftest import ROOT


def test_readme_examples_run():
    """Every >>> example in README.md gives the output shown."""
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        result = doctest.testfile(
            str(ROOT / "README.md"),
            module_relative=False,
            optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        )
    finally:
        os.chdir(cwd)
    assert result.attempted > 0 and result.failed == 0


def test_engine_docstring_example_runs():
    """The example in engine/__init__.py runs."""
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        result = doctest.testmod(engine)
    finally:
        os.chdir(cwd)
    assert result.attempted > 0 and result.failed == 0
