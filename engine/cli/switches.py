"""Policy switches on the command line: `--set policy.X=V` for commands that name policies.

`run --policy`, `compare` and `ablate` choose their policies by name, so a `policy.X` path is
not a scenario field there but a switch of each chosen policy that has it. A chosen policy
takes the scenario's own `[policy]` table only when it is the policy that table names (as
sweeps and `simulate` do): another policy's switches would not fit it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.errors import ScenarioError, did_you_mean
from engine.policies import REGISTRY, policy_params, validate_policy
from engine.scenario import Scenario, parse_value


def split_overrides(
    overrides: Sequence[str], policies: Sequence[str], name_error: str
) -> tuple[list[str], dict[str, Any]]:
    """(scenario assignments, policy switches) from `--set` texts. A switch no chosen policy
    takes is an error that lists the switches they do take; `policy.name` is an error,
    `name_error`, that says how this command chooses its policies."""
    for name in policies:
        _require_registered(name)
    scenario_sets: list[str] = []
    switches: dict[str, Any] = {}
    for text in overrides:
        path, sep, value = text.partition("=")
        path = path.strip()
        if sep and path.startswith("policy."):
            key = path[len("policy.") :]
            if key == "name":
                raise ScenarioError(name_error, field=path)
            allowed = sorted({k for name in policies for k in policy_params(name)})
            if key not in allowed:
                chosen = ", ".join(dict.fromkeys(policies))
                raise ScenarioError(
                    f"no chosen policy ({chosen}) has this switch{did_you_mean(key, allowed)}; "
                    f"allowed: {', '.join(allowed)}",
                    field=path,
                )
            switches[key] = parse_value(value.strip())
        else:
            scenario_sets.append(text)
    return scenario_sets, switches


def policy_config(scenario: Scenario, name: str, switches: dict[str, Any]) -> dict[str, Any]:
    """The scenario's own table when it names this policy, plus the switches it takes."""
    _require_registered(name)
    base = {k: v for k, v in scenario.policy.items() if scenario.policy_name == name}
    own = set(policy_params(name))
    cfg = {**base, **{k: v for k, v in switches.items() if k in own}, "name": name}
    return validate_policy(cfg, source="--set")


def _require_registered(name: str) -> None:
    """A policy name not registered is the "did you mean" error that validation raises."""
    if name not in REGISTRY:
        validate_policy({"name": name})
