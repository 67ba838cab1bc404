"""What `run`, `compare` and `ablate` share, written once so that they read and behave the
same in each: the scenario arguments, loading the scenario with its overrides, and the
pieces of their output (one JSON object, the scenario's header line, a table cell)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from typing import Any

from engine.figure_text import shown_in
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
    return "-" if value is None else shown_in(value, pattern)


MAX_SEEDS = 100


def _seed_count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if not 1 <= n <= MAX_SEEDS:
        raise argparse.ArgumentTypeError(
            f"--seeds takes a whole number from 1 to {MAX_SEEDS}, got {text!r}"
        )
    return n


def _warmup_share(text: str) -> float:
    try:
        share = float(text)
    except ValueError:
        share = -1.0
    if not 0.0 <= share <= 0.9:
        raise argparse.ArgumentTypeError(
            f"--warmup-share takes a share of the run from 0 to 0.9, got {text!r}"
        )
    return share


def add_seed_arguments(parser: argparse.ArgumentParser, warmup_share: float) -> None:
    """`--seeds N` (the scenario's seed and the N − 1 after it) and `--warmup-share`."""
    parser.add_argument(
        "--seeds",
        type=_seed_count,
        default=5,
        metavar="N",
        help="run the scenario's seed and the N-1 seeds after it; report mean and 95%% "
        "interval over them (5)",
    )
    parser.add_argument(
        "--warmup-share",
        type=_warmup_share,
        default=warmup_share,
        metavar="SHARE",
        help=f"the share of simulated time counted as warm-up ({warmup_share:g})",
    )


def seed_list(scenario: Scenario, n: int) -> list[int]:
    """The seeds a verdict is stated over: the scenario's own, then the next n − 1 in turn.
    Deterministic, and the first run is the one `vmswap run` shows for the same file."""
    return [scenario.seed + i for i in range(n)]


def with_seed(scenario: Scenario, seed: int) -> Scenario:
    """The scenario with another seed (every random stream changes, nothing else)."""
    return scenario if seed == scenario.seed else with_overrides(scenario, [f"seed={seed}"])


def interval_cell(i: dict[str, Any] | None, pattern: str) -> str:
    """`mean ± half-width` (or the mean alone for one seed), each in `pattern`."""
    if i is None:
        return "-"
    mean = shown_in(i["mean"], pattern)
    return mean if i["half_width"] is None else f"{mean} ± {shown_in(i['half_width'], pattern)}"


def range_cell(i: dict[str, Any] | None, pattern: str, *, signed: bool = True) -> str:
    """`mean [lo, hi]`, signed for a difference (or the mean alone for one seed)."""
    if i is None:
        return "-"
    if signed:
        pattern = pattern.replace("{:", "{:+")
    mean = shown_in(i["mean"], pattern)
    if i["lo"] is None:
        return mean
    return f"{mean} [{shown_in(i['lo'], pattern)}, {shown_in(i['hi'], pattern)}]"


def verdict_rows(
    intervals: dict[str, Any], rows: Iterable[tuple[str, str, str]]
) -> list[list[str]]:
    """One table row per (summary key, label, pattern) that has intervals: label, A's mean
    ± half-width, B's, and the paired B − A mean [95 % interval]."""
    return [
        [
            label,
            interval_cell(intervals[k]["a"], p),
            interval_cell(intervals[k]["b"], p),
            range_cell(intervals[k]["delta"], p),
        ]
        for k, label, p in rows
        if k in intervals
    ]


def print_aligned(rows: list[list[str]]) -> None:
    """Rows of cells as columns: the first left-aligned, the others right-aligned."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        cells = "  ".join(f"{c:>{w}}" for c, w in zip(r[1:], widths[1:], strict=True))
        print(f"{r[0]:<{widths[0]}}  {cells}")
