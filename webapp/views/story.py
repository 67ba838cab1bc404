"""The story beside the views: what the scenario's authors say to notice, and what the run
itself says when the two sides are the same, a policy stood down or nothing swapped.

Every sentence is built from the run's own figures (the summary and the policy's report), so
it cannot drift from what the views show. Everything reaches the page as escaped text: a
scenario from a share link carries its own notice, and it is never Markdown or HTML.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np

from engine.overcommit import touched_pages
from engine.scenario import Scenario, from_dict
from webapp.runs import RunPair, RunSeries


def pct(x: float) -> str:
    """A share as the page writes it: '30 %'."""
    return f"{100 * x:.0f} %"


def side_reason(label: str, series: RunSeries) -> str | None:
    """Why a policy did not act (or mostly did not), from its report; None when it acted."""
    report: dict[str, Any] = getattr(series.result, "policy_report", None) or {}
    if report.get("stood_down"):
        return f"{label} stood down: {report['stood_down']}; it ran as demand paging"
    if not report.get("backoff", False):
        return None
    accuracy = float(report.get("plan_accuracy", 1.0))
    below = float(report.get("backoff_below", 0.0))
    share = float(report.get("backed_off_share", 0.0))
    if report.get("backed_off_at_end"):
        return (
            f"{label} backed off: plan accuracy {pct(accuracy)} < {pct(below)}"
            f" (demand paging for {pct(share)} of the run)"
        )
    if share >= 0.25:
        return (
            f"{label} backed off for {pct(share)} of the run, while its plan accuracy was"
            f" under {pct(below)}; it ended at {pct(accuracy)}"
        )
    return None


def touched_and_frames(runs: RunPair) -> tuple[int, int]:
    """(pages the VMs touch, the host's frames) of the runs' scenario: their ratio is the real
    overcommit, taken from its one definition (engine.overcommit: pages touched with unlimited
    memory, whatever the policy). Not a run's minor faults: they count swap-cache hits too
    (a page rescued while being written), and a VM that stalls on swap gets less far and
    touches fewer pages, so where the runs swap that count is off either way (on the small
    test host of 3 MiB: 2,720 minor faults, 2,324 pages touched). Counted once per scenario
    (cached)."""
    scenario = from_dict(runs.scenario_dict)
    return touched_pages(scenario), scenario.host_frames


def scenario_help(scenario: Scenario, runs: RunPair | None) -> str:
    """The Scenario picker's help: what the scenario shows, its configured overcommit, and,
    once it has run, its real one (plain text)."""
    guest = sum(vm.memory_mib for vm in scenario.vms)
    host = scenario.host.memory_mib
    parts = [scenario.description or f"Scenario {scenario.name!r}."]
    parts.append(
        f"{len(scenario.vms)} VMs with {guest:,} MiB of guest memory on a host of {host:,} MiB"
        f" and {scenario.host.pcpus} pCPUs: {guest / max(host, 1):.2f}× configured overcommit."
    )
    if runs is not None and runs.scenario_dict.get("name") == scenario.name:
        touched, frames = touched_and_frames(runs)
        parts.append(
            f"Real overcommit: {touched / frames:.2f}× ({touched:,} pages touched with"
            f" unlimited memory ÷ {frames:,} frames)."
        )
    return " ".join(parts)


def nothing_swapped(runs: RunPair) -> str | None:
    """Why the heatmaps show no swapped page: the touched pages fit in the host's frames."""
    a, b = runs.a.result.summary, runs.b.result.summary
    if a.get("major_faults", 0) or b.get("major_faults", 0):
        return None
    touched, frames = touched_and_frames(runs)
    return (
        f"Nothing was read back from swap in either run: the VMs touched {touched:,} pages and"
        f" the host holds {frames:,} frames (real overcommit {touched / frames:.2f}×, touched"
        " pages ÷ frames). Add or enlarge VMs, or shrink the host's memory, to make them swap"
    )


def identical(runs: RunPair) -> bool:
    """Both runs counted exactly the same, frame by frame, for every VM."""
    a, b = runs.a, runs.b
    return a.counters.shape == b.counters.shape and bool(np.array_equal(a.counters, b.counters))


def explanations(runs: RunPair, labels: tuple[str, str]) -> list[str]:
    """Sentences from the run for the reader: why a side stood down or backed off, why A and
    B are the same, why nothing swaps. Empty when the views speak for themselves."""
    out = [
        r
        for r in (side_reason(f"B ({labels[1]})", runs.b), side_reason(f"A ({labels[0]})", runs.a))
        if r is not None
    ]
    if identical(runs):
        if runs.policy_a == runs.policy_b:
            out.insert(0, "A and B are the same run: both sides run the same policy")
        elif out:
            out[0] = f"A and B are the same run, because {out[0]}"
        elif nothing_swapped(runs) is None:
            out.insert(0, "A and B are the same run: the two policies made the same decisions")
    empty = nothing_swapped(runs)
    if empty is not None:
        out.append(f"A and B are the same run: {empty[0].lower()}{empty[1:]}" if not out else empty)
    return out


def story_html(notice: str, runs: RunPair | None, labels: tuple[str, str]) -> str:
    """The story box: the scenario's notice, then what the run says (all escaped text)."""
    parts = []
    if notice:
        parts.append(
            '<div class="vm-notice"><span class="vm-story-title">what to notice</span> '
            f"{html.escape(notice)}</div>"
        )
    lines = explanations(runs, labels) if runs is not None else []
    if lines:
        text = " ".join(f"{line}." for line in lines)
        parts.append(
            f'<div class="vm-why"><span class="vm-story-title">why</span> {html.escape(text)}</div>'
        )
    return f'<div class="vm-story">{"".join(parts)}</div>'
