"""The README's "Adding a policy" file is a whole policy: dropped into the package, it runs."""

from __future__ import annotations

import re
import sys

import pytest

import engine.policies
from engine import load_scenario, simulate
from engine.policies import REGISTRY, load_policies
from tests.conftest import ROOT, SCENARIOS

MODULE = "prefetch_next"


def readme_policy_source() -> str:
    """The first python block of the README's "Adding a policy" section."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Adding a policy", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the section has no python block"
    return match.group(1)


@pytest.fixture
def readme_policy(tmp_path):
    """The README's file saved as a module of engine.policies (from a temp folder)."""
    (tmp_path / f"{MODULE}.py").write_text(readme_policy_source(), encoding="utf-8")
    engine.policies.__path__.append(str(tmp_path))
    try:
        load_policies()
        yield REGISTRY["prefetch-next"]
    finally:
        engine.policies.__path__.remove(str(tmp_path))
        REGISTRY.pop("prefetch-next", None)
        sys.modules.pop(f"engine.policies.{MODULE}", None)


def test_the_readme_names_the_file_it_shows():
    """The section says where the file goes and the name it registers."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"engine/policies/{MODULE}.py" in text
    assert 'name = "prefetch-next"' in readme_policy_source()


def test_the_readme_policy_registers_and_runs(readme_policy):
    """Saved as one file, the README's policy is listed by name, validated and simulated."""
    assert list(REGISTRY)[-1] == "prefetch-next"  # new policies go last in menus
    scenario = load_scenario(SCENARIOS / "quickstart.toml")
    result = simulate(scenario, {"name": "prefetch-next", "batch": 8}, record=False)
    assert result.policy == "prefetch-next"
    assert result.summary["prefetch_issued"] > 0
    assert result.summary["slowdown"] >= 1.0
