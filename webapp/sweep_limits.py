"""The limits of a sweep launched from the page: every run within the Compare tab's limits
(`webapp.runner.check_limits`), the sweep's references within a total, its TOML boxes within a
nesting depth. `validate_sweep` expands and checks a form's sweep; it touches no session
state, so a served session runs it on a worker thread (thousands of runs take seconds).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from engine import from_dict
from engine.errors import VmswapError
from engine.sweep import SweepError, sweep_from_dict
from webapp.runner import LIMITS, check_limits, web_references

WEB_MAX_RUNS = 5_000  # a sweep launched from the page (the CLI takes engine.sweep.MAX_RUNS)
# ... and the references all its runs may make: twenty runs at the Compare tab's limit. Each
# run also meets that tab's own limits (webapp.runner.check_limits).
WEB_MAX_SWEEP_REFS = 20 * LIMITS["references"]
MAX_TOML_DEPTH = 16  # tables and lists in a form's TOML box (a sweep needs three or four)


def nesting_depth(value: Any) -> int:
    """How deeply tables and lists nest in `value` (a scalar is 0), without recursion."""
    deepest, todo = 0, [(value, 0)]
    while todo:
        node, depth = todo.pop()
        deepest = max(deepest, depth)
        if isinstance(node, dict):
            todo.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            todo.extend((v, depth + 1) for v in node)
    return deepest


def check_web_runs(runs: list[Any]) -> None:
    """Every run within the Compare tab's limits, and all of them within WEB_MAX_SWEEP_REFS
    (SweepError naming the first run over a limit, or the total)."""
    if len(runs) > WEB_MAX_RUNS:
        raise SweepError(
            f"{len(runs):,} runs is more than the {WEB_MAX_RUNS:,} a sweep launched here may "
            "hold; save it as a sweep file and run `vmswap sweep`"
        )
    seen: dict[str, float] = {}  # seeds and policies do not change the limits: check once
    total = 0.0
    for run in runs:
        shape = {k: v for k, v in run.scenario.items() if k not in ("seed", "policy")}
        key = json.dumps(shape, sort_keys=True, default=str)
        if key not in seen:
            scenario = from_dict(run.scenario)
            try:
                check_limits(scenario)
            except VmswapError as exc:
                raise SweepError(f"run {run.describe()}: {exc}") from None
            seen[key] = web_references(scenario)
        total += seen[key]
    if total > WEB_MAX_SWEEP_REFS:
        raise SweepError(
            f"the runs could make {total:,.0f} page references in all; a sweep launched here "
            f"may make at most {WEB_MAX_SWEEP_REFS:,}: fewer runs or a shorter duration_ms, "
            "or save it as a sweep file and run `vmswap sweep`"
        )


@dataclass(frozen=True)
class Form:
    """The form as read on the session's event loop: the sweep table and where to run it."""

    table: dict[str, Any]
    address: str | None
    workers: int


@dataclass(frozen=True)
class Plan:
    """A sweep checked against the web limits, ready to start."""

    form: Form
    sweep: Any
    runs: list[Any]


def validate_sweep(form: Form) -> Plan | str:
    """Expand and check every run (seconds for thousands of runs: a served session calls this
    on a worker thread); a readable message when the sweep is refused."""
    try:
        sweep = sweep_from_dict(form.table, source="sweep")
        runs = sweep.runs()
        check_web_runs(runs)
    except VmswapError as exc:
        return str(exc)
    except RecursionError:  # a form nested too deeply for a check we did not foresee
        return "the form's settings nest too deeply; a sweep needs a few levels"
    return Plan(form, sweep, runs)
