"""Overrides: `--set path=value` assignments applied to a scenario dict, then validated."""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from typing import Any

from engine.errors import ScenarioError
from engine.limits import toml_too_deep
from engine.scenario.schema import Scenario
from engine.scenario.validation import from_dict


def parse_value(text: str) -> Any:
    """A TOML value (`3`, `2.5`, `true`, `"x"`, `[1, 2]`), or the bare text as a string.

    ScenarioError for a value nested deeper than MAX_TOML_DEPTH (refused before parsing)."""
    too_deep = toml_too_deep(text)
    if too_deep:
        raise ScenarioError(f"cannot read the value: {too_deep}")
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _split_path(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for raw in path.split("."):
        name, _, rest = raw.partition("[")
        if name:
            parts.append(name)
        while rest:
            idx, _, rest = rest.partition("]")
            if not idx.isdigit():
                raise ScenarioError(f"bad index [{idx}] in {path!r}", field=path)
            parts.append(int(idx))
            rest = rest.lstrip("[")
    if not parts:
        raise ScenarioError("empty path in --set", field=path)
    return parts


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Set `vms[2].memory_mib`-style path in a scenario dict (validated later, as a whole)."""
    parts = _split_path(path)
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        nxt = parts[i + 1]
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                n = len(node) if isinstance(node, list) else 0
                raise ScenarioError(f"index {part} is out of range (there are {n})", field=path)
            node = node[part]
        else:
            if not isinstance(node, dict):
                raise ScenarioError(f"{part!r} is not a table", field=path)
            if part not in node:
                node[part] = [] if isinstance(nxt, int) else {}
            node = node[part]
    last = parts[-1]
    if isinstance(last, int):
        if not isinstance(node, list) or last >= len(node):
            raise ScenarioError(f"index {last} is out of range", field=path)
        node[last] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise ScenarioError(f"cannot set {last!r} here", field=path)


def with_overrides(scenario: Scenario, assignments: Sequence[str]) -> Scenario:
    """A new Scenario with `path=value` assignments applied; the original is untouched.

    `policy.name` naming another policy drops the scenario's switches of its own policy (they
    are another policy's, often not this one's): the new policy starts from its defaults plus
    the `policy.X` switches assigned here, in any order."""
    data = scenario.to_dict()
    set_here: set[str] = set()
    for a in assignments:
        path, sep, text = a.partition("=")
        if not sep or not path.strip():
            raise ScenarioError(f"--set expects path=value, got {a!r}")
        parts = _split_path(path.strip())
        if parts[0] == "policy" and len(parts) > 1:
            set_here.add(str(parts[1]))
        set_path(data, path.strip(), parse_value(text.strip()))
    policy = data.get("policy")
    if isinstance(policy, dict) and policy.get("name") != scenario.policy_name:
        data["policy"] = {k: v for k, v in policy.items() if k in set_here}
    return from_dict(data, source="--set")
