"""The best demand paging for a scenario: demand paging under each swap-readahead setting, and
the one that loses the least time. A verdict against demand paging should be against this
tuned Linux, not one setting that may suit the scenario badly.

Lost time is stall plus time held at dispatch (demand paging holds none, so it is its stall).
Only readahead varies; the victims and every other switch stay those of the given config.
The CLI (`vmswap compare --best-demand`), benchmarks/results_table.py and the web app's
Compare tab all choose through `candidate_configs` and `choose`, so they agree on the rule;
a ratio sweep's "best-demand" baseline (engine.sweep.ratio) runs the same `candidate_configs`.
"""

from __future__ import annotations

from typing import Any

from engine.metrics import lost_time_ns
from engine.policies import validate_policy
from engine.scenario import Scenario
from engine.simulator import simulate

# (readahead, page_cluster): off; the fixed aligned block of 2, 4, 8 and 16 pages; Linux's
# adaptive window up to its default 8 pages and up to 16.
READAHEAD_SETTINGS: tuple[tuple[str, int], ...] = (
    ("off", 3),
    ("fixed", 1),
    ("fixed", 2),
    ("fixed", 3),
    ("fixed", 4),
    ("adaptive", 3),
    ("adaptive", 4),
)


# The switches a readahead setting consists of: best demand tries its own values for these, and
# keeps the given config's other switches (the victims).
TUNED_SWITCHES = ("readahead", "page_cluster")


def setting_label(cfg: dict[str, Any]) -> str:
    """A readahead setting in words: 'off', 'fixed 8 pages', 'adaptive up to 8 pages'."""
    if cfg["readahead"] == "off":
        return "off"
    pages = 1 << int(cfg["page_cluster"])
    if cfg["readahead"] == "fixed":
        return f"fixed {pages} pages"
    return f"adaptive up to {pages} pages"


def candidate_configs(demand_cfg: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The validated demand configs to try, in READAHEAD_SETTINGS order: `demand_cfg` (demand
    paging's defaults when None) with each readahead setting in turn."""
    base = dict(demand_cfg or {"name": "demand"})
    return [
        validate_policy({**base, "readahead": readahead, "page_cluster": cluster})
        for readahead, cluster in READAHEAD_SETTINGS
    ]


def candidate(cfg: dict[str, Any], summary: dict[str, Any]) -> dict[str, Any]:
    """One tried setting as the choice reports it: its config, label and lost time in ms."""
    return {"config": cfg, "label": setting_label(cfg), "lost_time_ms": lost_time_ns(summary) / 1e6}


def choose(candidates: list[dict[str, Any]]) -> dict[str, Any]:
    """The candidate that loses the least time; a tie goes to the earlier one."""
    return min(candidates, key=lambda c: c["lost_time_ms"])


def best_demand(
    scenario: Scenario, demand_cfg: dict[str, Any] | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the demand config that loses the least time, every candidate with its lost time in ms),
    candidates in READAHEAD_SETTINGS order; a tie goes to the earlier one."""
    candidates = [
        candidate(cfg, simulate(scenario, cfg, record=False).summary)
        for cfg in candidate_configs(demand_cfg)
    ]
    return choose(candidates)["config"], candidates
