"""What `run`, `compare` and `ablate` share, written once so that they read and behave the
same in each: the scenario arguments, loading the scenario with its overrides, and the
pieces of their output (one JSON object, the scenario's header line, a table cell)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from engine.scenario import Scenario, load_scenario, with_overrides


def add_scenario_arguments(parser: argparse.ArgumentParser, *, set_help: str) -> None:
    """The scenario file, `--set PATH=VALUE` (repeatable, into `args.overrides`) and `--json`.

    Only `--set`'s help differs by command: what a PATH may name. Call this after the
    command's own options, so that `--help` lists those first."""
    parser.add_argument("scenario", help="a scenario TOML file")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        dest="overrides",
        help=set_help,
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def load_with_overrides(path: str, overrides: list[str]) -> Scenario:
    """The scenario file with `path=value` assignments applied (none: as it is)."""
    scenario = load_scenario(path)
    return with_overrides(scenario, overrides) if overrides else scenario


def print_json(doc: Any) -> None:
    """One JSON object on one line, keys sorted: byte-identical for the same results."""
    json.dump(doc, sys.stdout, sort_keys=True)
    sys.stdout.write("\n")


def header(scenario: Scenario) -> str:
    return (
        f"{scenario.name}: {len(scenario.vms)} VMs, {scenario.host.pcpus} pCPUs, "
        f"{scenario.duration_ms:g} ms simulated"
    )


def fmt(value: Any, pattern: str) -> str:
    """A table cell: the value in its pattern, or "-" where a run has no such figure."""
    return "-" if value is None else pattern.format(value)
