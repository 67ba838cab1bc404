"""Reading a settings table (a scenario section or a policy's switches) into its Section.

Every value is checked against its parameter, and the one error raised names the field, the
value and what is allowed; an unknown key gets a "did you mean". Nothing is half-applied:
the Section is built only once every value has passed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import param

from engine.errors import ScenarioError, did_you_mean, show_range, show_value, unknown_name
from engine.limits import quote
from engine.settings import Section

# Readers for keys whose value is itself a table (or a list of them): (value, path, source).
NestedReader = Callable[[Any, str, "str | None"], Any]


def allowed(p: param.Parameter) -> str:
    """What a parameter accepts, in words, for error messages."""
    if isinstance(p, param.Selector):
        return "one of " + ", ".join(repr(o) for o in p.objects)
    if isinstance(p, param.Boolean):
        return "true or false"
    if isinstance(p, param.Integer | param.Number):
        lo, hi = p.bounds or (None, None)
        kind = "an integer" if isinstance(p, param.Integer) else "a number"
        if lo is not None and hi is not None:
            return f"{kind} from {show_range(lo, hi, p.name or '')}"
        return kind
    if isinstance(p, param.String):
        return "a string"
    return type(p).__name__


def coerce(p: param.Parameter, value: Any, where: str, source: str | None) -> Any:
    """Check one scalar against its parameter; the message names field, value and range."""

    def fail(why: str = "") -> ScenarioError:
        return ScenarioError(
            f"{show_value(value)} is not allowed{why}; expected {allowed(p)}",
            source=source,
            field=where,
        )

    if value is None and p.allow_None:
        return None
    if isinstance(p, param.Selector):
        if value not in p.objects:
            if isinstance(value, str):
                msg = unknown_name("value", value, [str(o) for o in p.objects])
                raise ScenarioError(msg, source=source, field=where)
            raise fail()
        return value
    if isinstance(p, param.Boolean):
        if not isinstance(value, bool):
            raise fail()
        return value
    if isinstance(p, param.Integer):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise fail()
        if isinstance(value, float):
            if not value.is_integer():
                raise fail()
            value = int(value)
    elif isinstance(p, param.Number):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise fail()
        if not math.isfinite(value):
            raise fail()
        value = float(value)
    if isinstance(p, param.Integer | param.Number) and p.bounds:
        lo, hi = p.bounds
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise fail()
    if isinstance(p, param.String) and not isinstance(value, str):
        raise fail()
    if isinstance(p, param.String) and len(value) > 4096:  # quoted short: it may be 10 MB
        raise ScenarioError(
            f"{quote(value)} is not allowed; expected a string of at most 4096 characters",
            source=source,
            field=where,
        )
    return value


def read_section(
    cls: type[Section],
    data: Any,
    where: str,
    source: str | None,
    nested: Mapping[str, NestedReader] | None = None,
) -> Section:
    """Build cls from a table (or a Section of the same fields), checking every value."""
    if isinstance(data, Section):
        data = data.plain()
    if not isinstance(data, Mapping):
        raise ScenarioError(
            f"expected a table, found {type(data).__name__}", source=source, field=where
        )
    nested = nested or {}
    kwargs: dict[str, Any] = {}
    fields = cls().fields()
    for key, value in data.items():
        path = f"{where}.{key}" if where else str(key)
        if key not in fields:
            raise ScenarioError(
                f"unknown key{did_you_mean(str(key), fields)}; allowed: {', '.join(fields)}",
                source=source,
                field=path,
            )
        if key in nested:
            kwargs[key] = nested[key](value, path, source)
        else:
            kwargs[key] = coerce(cls.param[key], value, path, source)
    try:
        return cls(**kwargs)
    except ValueError as exc:  # a cross-field rule param itself enforces
        raise ScenarioError(str(exc), source=source, field=where or None) from exc
