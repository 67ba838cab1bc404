"""Scenario files: TOML text and files read into a validated Scenario, and written back."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from engine.errors import FieldError, ScenarioError
from engine.limits import MAX_TOML_BYTES, toml_too_deep
from engine.scenario.schema import Scenario, Workload
from engine.scenario.validation import from_dict


def loads_scenario(text: str, source: str = "<string>") -> Scenario:
    """Parse TOML text into a validated Scenario."""
    return from_dict(parse_toml(text, source), source=source)


def parse_toml(
    text: str, source: str | None = None, error: type[FieldError] = ScenarioError
) -> dict[str, Any]:
    """TOML text's tables, or `error`: not TOML, or nested deeper than MAX_TOML_DEPTH (tomllib
    recurses once per level, so deep text is refused before it is parsed)."""
    too_deep = toml_too_deep(text)
    if too_deep:
        raise error(too_deep, source=source)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"not valid TOML: {exc}", source=source) from None


def read_toml_file(
    path: str | Path, what: str, error: type[FieldError] = ScenarioError
) -> dict[str, Any]:
    """A TOML file's tables, or `error` naming the file: missing, unreadable, not TOML, or
    larger than MAX_TOML_BYTES (read up to the cap, so /dev/zero is refused too)."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_TOML_BYTES + 1)
        if len(raw) > MAX_TOML_BYTES:
            raise error(
                f"larger than {MAX_TOML_BYTES // 2**20} MiB; a {what} file may be at most that",
                source=str(path),
            )
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise error(f"no such {what} file", source=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"cannot read: {exc}", source=str(path)) from None
    return parse_toml(text, str(path), error)


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; trace paths become absolute (relative to the file)."""
    scenario = from_dict(read_toml_file(path, "scenario"), source=str(path))
    for vm in scenario.vms:
        _resolve_trace_paths(vm.workload, Path(path).parent)
    return scenario


def _resolve_trace_paths(w: Workload, base: Path) -> None:
    if w.kind == "trace" and w.path and not Path(w.path).is_absolute():
        w.path = str((base / w.path).resolve())
    for c in w.components:
        if c.get("kind") == "trace" and c.get("path") and not Path(c["path"]).is_absolute():
            c["path"] = str((base / c["path"]).resolve())


def dumps_toml(scenario: Scenario) -> str:
    """The scenario as TOML text that `loads_scenario` reads back to an equal scenario."""
    d = scenario.to_dict()
    lines: list[str] = []
    for key, value in d.items():
        if not isinstance(value, dict | list):
            lines.append(f"{key} = {_toml_value(value)}")
    for key, value in d.items():
        if isinstance(value, dict):
            lines.append(f"\n[{key}]")
            lines.extend(f"{k} = {_toml_value(v)}" for k, v in value.items())
    for vm in d.get("vms", []):
        lines.append("\n[[vms]]")
        for k, v in vm.items():
            if not isinstance(v, dict):
                lines.append(f"{k} = {_toml_value(v)}")
        for k, v in vm.items():
            if isinstance(v, dict):
                lines.append(f"[vms.{k}]")
                lines.extend(f"{kk} = {_toml_value(vv)}" for kk, vv in v.items())
    return "\n".join(lines) + "\n"


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")
