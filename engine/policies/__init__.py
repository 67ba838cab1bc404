"""Paging policies, registered by a lowercase name shared by TOML, the CLI and links.

A policy decides victims and fetches; it only reads engine state and asks the engine to act,
so the invariants stay in the engine. Importing this package imports every module in it, and
each policy module registers its class with `@register`: a new policy is one new file.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from engine.errors import ScenarioError, show_value, unknown_name
from engine.policies.registry import REGISTRY as REGISTRY
from engine.policies.registry import get_policy as get_policy
from engine.policies.registry import register as register
from engine.policies.registry import sort_registry
from engine.settings_check import read_section


def validate_policy(data: dict[str, Any], source: str | None = None) -> dict[str, Any]:
    """Check a policy table (name and switches) against the policy's own param class."""
    data = dict(data)
    name = data.pop("name", "demand")
    if not isinstance(name, str) or name not in REGISTRY:
        raise ScenarioError(
            unknown_name("policy", str(name), REGISTRY), source=source, field="policy.name"
        )
    _drop_retired(REGISTRY[name].retired, data, source)
    params = read_section(REGISTRY[name].Params, data, "policy", source)
    return {"name": name, **{k: getattr(params, k) for k in params.fields()}}


def _drop_retired(
    retired: dict[str, tuple[object, str]], data: dict[str, Any], source: str | None
) -> None:
    """Take the retired switches out of a policy table: the value they still meant is ignored
    (the policy now always does that), any other is refused, saying why the switch went."""
    for key, (kept, why) in retired.items():
        if key not in data:
            continue
        value = data.pop(key)
        if type(value) is not type(kept) or value != kept:
            raise ScenarioError(
                f"{why}; only {show_value(kept)} (what the policy always does now) is still "
                f"accepted, got {show_value(value)}",
                source=source,
                field=f"policy.{key}",
            )


def policy_params(name: str) -> list[str]:
    """The switches a policy takes, for help texts and widgets."""
    return get_policy(name).Params().fields()


def load_policies() -> None:
    """Import every module of this package (every folder on its `__path__`), so each policy
    registers itself. Runs on import; run it again after adding a folder to `__path__`."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    sort_registry()


load_policies()
