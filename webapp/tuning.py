"""Best demand in the Compare tab: a side that is demand paging may have its readahead tuned
for the scenario. Each of engine.best_demand's settings runs (figures only, no recording),
the one that loses the least time is chosen by the engine's own rule, and the side is shown
as demand paging with that setting.

The choice is made on the scenario's own seed and kept for the other seeds, as
`vmswap compare --best-demand` and benchmarks/results_table.py do: every seed then compares
the same two policies. Every candidate meets the limits of any run here (`check_limits`), and
all of them together stay within what a sweep launched from the page may ask (a test checks
it). A choice is a pure function of (scenario, the side's demand switches), so sessions share
it; the candidates' runs are cached like any other run.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

from engine import from_dict
from engine.best_demand import (
    READAHEAD_SETTINGS,
    TUNED_SWITCHES,
    candidate,
    candidate_configs,
    choose,
    setting_label,
)
from engine.bounded_cache import BoundedCache
from webapp.runner import Progress, check_limits, compute_pair, run_one
from webapp.runs import RunPair

N_CANDIDATES = len(READAHEAD_SETTINGS)


@dataclass(frozen=True)
class Tuning:
    """Demand paging's readahead chosen for one scenario: what was tried and what won."""

    base: dict[str, Any]  # the side's demand switches as the page holds them (links carry it)
    chosen: dict[str, Any]  # the winner's validated config (what the side runs)
    candidates: tuple[dict[str, Any], ...]  # engine.best_demand.candidate dicts, tried order
    seed: int  # the seed it was chosen on: the scenario's own

    def lost_range_ms(self) -> tuple[float, float]:
        """The least and the most time lost among the candidates, in ms."""
        lost = [c["lost_time_ms"] for c in self.candidates]
        return min(lost), max(lost)

    def label(self) -> str:
        """The side's label, short enough for a card: 'best demand: adaptive up to 8 pages'."""
        return f"best demand: {setting_label(self.chosen)}"

    def note(self) -> str:
        """How it was chosen, beside the side's title: 'the least lost time of 7 readahead
        settings (412–655 ms on seed 1); the other seeds keep this setting'."""
        lo, hi = self.lost_range_ms()
        spread = f"{lo:,.0f} ms" if round(lo) == round(hi) else f"{lo:,.0f}–{hi:,.0f} ms"
        return (
            f"the least lost time of {len(self.candidates)} readahead settings "
            f"({spread} on seed {self.seed}); the other seeds keep this setting"
        )

    def to_json(self) -> dict[str, Any]:
        """The choice for a download: the setting, its seed and every candidate's lost time."""
        return {
            "chosen": self.chosen,
            "setting": setting_label(self.chosen),
            "chosen_on_seed": self.seed,
            "rule": "least lost time on the scenario's own seed (a tie goes to the earlier "
            "setting), kept for the other seeds",
            "candidates": [
                {"setting": c["label"], "config": c["config"], "lost_time_ms": c["lost_time_ms"]}
                for c in self.candidates
            ],
        }


# Choices made, keyed by scenario and the side's switches: a few hundred bytes each besides
# the key (the scenario's JSON), so switching best demand off and on again never runs the
# candidates again, even after their runs have left the run cache.
TUNING_CACHE_BYTES = 2 * 1024 * 1024
TUNINGS: BoundedCache[Tuning] = BoundedCache(TUNING_CACHE_BYTES)


def tuning_key(scenario: dict[str, Any], base: dict[str, Any]) -> str:
    """What a choice depends on: the scenario (its own seed) and the side's demand switches
    other than readahead (every candidate replaces those)."""
    rest = {k: v for k, v in base.items() if k not in TUNED_SWITCHES}
    return json.dumps(["best demand", scenario, rest], sort_keys=True)


def cached(scenario: dict[str, Any], base: dict[str, Any]) -> Tuning | None:
    """The choice for (scenario, base) if it was made already, else None."""
    hit = TUNINGS.get(tuning_key(scenario, base))
    return None if hit is None else _with_base(hit, base)


def tune(
    scenario: dict[str, Any],
    base: dict[str, Any],
    cancel: threading.Event,
    progress: Progress | None = None,
    pane: str = "A",
) -> Tuning:
    """Run every readahead setting of demand paging `base` on `scenario` (a validated dict,
    its own seed) and choose the one that loses the least time. Stops (Cancelled) when
    `cancel` is set; `progress` names the candidate and its simulated clock."""
    hit = cached(scenario, base)
    if hit is not None:
        return hit
    s = from_dict(scenario)
    check_limits(s)  # each candidate is a run like any other here
    tried = []
    for i, cfg in enumerate(candidate_configs(base), start=1):
        what = f"best demand for {pane}: setting {i} of {N_CANDIDATES} ({setting_label(cfg)})"
        run = run_one(s, scenario, cfg, cancel, progress, what, record=False)
        tried.append(candidate(cfg, run.summary))
    out = Tuning(dict(base), choose(tried)["config"], tuple(tried), int(scenario["seed"]))
    TUNINGS.put(tuning_key(scenario, base), out)
    return out


def _with_base(tuning: Tuning, base: dict[str, Any]) -> Tuning:
    """The same choice for a side whose readahead switches differ (they are not tried)."""
    if tuning.base == base:
        return tuning
    return Tuning(dict(base), tuning.chosen, tuning.candidates, tuning.seed)


def resolved(
    scenario: dict[str, Any], a: dict[str, Any], b: dict[str, Any], tuned: tuple[str, ...]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Tuning]] | None:
    """(A, B, tunings) with each best-demand side ("A", "B" in `tuned`) replaced by its
    chosen config, when every choice was made already (`scenario`: its own seed); else None."""
    configs = {"A": a, "B": b}
    tunings: dict[str, Tuning] = {}
    for pane in tuned:
        hit = cached(scenario, configs[pane])
        if hit is None:
            return None
        tunings[pane], configs[pane] = hit, hit.chosen
    return configs["A"], configs["B"], tunings


def tuned_pair(
    own: dict[str, Any],
    scenario: dict[str, Any],
    a: dict[str, Any],
    b: dict[str, Any],
    tuned: tuple[str, ...],
    cancel: threading.Event,
    progress: Progress | None = None,
) -> RunPair:
    """The pair of `scenario` (the seed to show) with each side in `tuned` as best demand,
    chosen on `own` (the scenario with its own seed): the candidates first (progress names
    each), then A and B as any pair (the winner's run recorded for display)."""
    configs = {"A": a, "B": b}
    tunings: dict[str, Tuning] = {}
    for pane in tuned:
        tunings[pane] = tune(own, configs[pane], cancel, progress, pane)
        configs[pane] = tunings[pane].chosen
    pair = compute_pair(scenario, configs["A"], configs["B"], cancel, progress)
    pair.tunings = tunings
    return pair
