"""The base of every settings table (scenario sections and each policy's switches).

A leaf module: it imports nothing of the engine, so the scenario schema and the policies can
both build on it without importing each other.
"""

from __future__ import annotations

import copy
from typing import Any

import param


class Section(param.Parameterized):
    """A table of the scenario file; `name` (param's own) is never part of the schema."""

    def fields(self) -> list[str]:
        return [n for n in self.param if n != "name"]

    def plain(self) -> dict[str, Any]:
        """A plain nested dict (TOML- and JSON-ready) of the table, None values left out."""
        out: dict[str, Any] = {}
        for key in self.fields():
            value = getattr(self, key)
            if value is None:
                continue
            if isinstance(value, Section):
                out[key] = value.plain()
            elif isinstance(value, list):
                out[key] = [
                    v.plain() if isinstance(v, Section) else copy.deepcopy(v) for v in value
                ]
            elif isinstance(value, dict):
                out[key] = copy.deepcopy(value)
            else:
                out[key] = value
        return out
