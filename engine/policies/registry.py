"""Where policies are listed: `@register` puts a class under its lowercase name.

Kept apart from the package's `__init__` so that a policy module can register itself without
importing the package that imports it.
"""

from __future__ import annotations

from engine.errors import ScenarioError, unknown_name
from engine.policies.base import Policy

REGISTRY: dict[str, type[Policy]] = {}


def register(cls: type[Policy]) -> type[Policy]:
    """Class decorator: make a policy available under cls.name."""
    REGISTRY[cls.name] = cls
    return cls


def get_policy(name: str) -> type[Policy]:
    """The policy class registered under name; unknown names get a "did you mean"."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ScenarioError(unknown_name("policy", name, REGISTRY), field="policy.name") from None


def sort_registry() -> None:
    """Put the registry in menu order (Policy.menu_rank, then name), the order users see."""
    ordered = sorted(REGISTRY.values(), key=lambda cls: (cls.menu_rank, cls.name))
    REGISTRY.clear()
    REGISTRY.update((cls.name, cls) for cls in ordered)
