"""Paging policies, registered by a lowercase name shared by TOML, the CLI and links.

A policy decides victims and fetches; it only reads engine state and asks the engine to act,
so the invariants stay in the engine. Importing this package registers the built-in ones.
"""

from __future__ import annotations

from typing import Any

from engine.errors import ScenarioError, unknown_name
from engine.policies.base import Policy

REGISTRY: dict[str, type[Policy]] = {}


def register(cls: type[Policy]) -> type[Policy]:
    """Class decorator: make a policy available under cls.name."""
    REGISTRY[cls.name] = cls
    return cls


def get_policy(name: str) -> type[Policy]:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ScenarioError(unknown_name("policy", name, REGISTRY), field="policy.name") from None


def validate_policy(data: dict[str, Any], source: str | None = None) -> dict[str, Any]:
    """Check a policy table (name and switches) against the policy's own param class."""
    from engine.scenario import _section

    data = dict(data)
    name = data.pop("name", "demand")
    if not isinstance(name, str) or name not in REGISTRY:
        raise ScenarioError(
            unknown_name("policy", str(name), REGISTRY), source=source, field="policy.name"
        )
    params = _section(REGISTRY[name].Params, data, "policy", source)
    return {"name": name, **{k: getattr(params, k) for k in params.fields()}}


def policy_params(name: str) -> list[str]:
    """The switches a policy takes, for help texts and widgets."""
    return get_policy(name).Params().fields()


def _load_builtins() -> None:
    import importlib

    for module in ("demand", "predictive", "leap", "oracle", "schedule_oracle"):
        try:
            importlib.import_module(f"engine.policies.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"engine.policies.{module}":
                raise


_load_builtins()
