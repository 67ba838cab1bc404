"""The guided first visit, as data: the scenario it runs on and one step per view of the page.

Each step names the CSS class its view carries (the tour guide puts it there and highlights
whatever has it), so a test can check that every step points at something the layout builds.
Texts are plain text: the browser shows them as characters, never as HTML or Markdown.
No Panel import: this module is read by the guide and by tests alike.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

TOUR_SCENARIO = "patent_demo"  # the shipped scenario the tour loads and talks about
OPT_OUT_QUERY = "tour=off"  # in a link: no offer to take the tour on that visit
DISMISSED_KEY = "vmswap-tour"  # browser localStorage key: 'off' once offered and answered


@dataclass(frozen=True)
class TourStep:
    """One view: the CSS class the view carries, a title, and what to look for in it."""

    target: str
    title: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


STEPS: tuple[TourStep, ...] = (
    TourStep(
        target="vm-tour-heatmaps",
        title="Residency heatmaps, A and B",
        text=(
            "One strip per VM (web, db, app, cache) along its guest memory, coloured by what"
            " its pages are doing: sky blue resident, blue dirty, green prefetched, yellow in"
            " flight, vermillion swapped out. In patent_demo memory holds only the two VMs"
            " that run plus a little. Press Play (the tour stays open) and follow one VM in"
            " B (predictive): its strip turns green"
            " during its inactive time, just before its slice, and vermillion right after it"
            " stops. In A (demand paging) pages come back only when touched (plus a"
            " little readahead)."
        ),
    ),
    TourStep(
        target="vm-tour-timelines",
        title="CPU slices and the swap device",
        text=(
            "The scheduler's view on one time axis: a row per pCPU (2 here) with the slices"
            " that ran in each VM's colour, the planned slices ghosted, the stalled share of a"
            " slice darkened. Below, the hatched prefetch windows and the swap device's"
            " traffic: red demand reads, green prefetch reads, grey writes, the line is queue"
            " depth. In patent_demo B's green reads come before a VM's slice; A's red reads"
            " sit inside the slices while the VM waits."
        ),
    ),
    TourStep(
        target="vm-tour-cards",
        title="Metric cards",
        text=(
            "The figures to read first, for A, for B and B minus A: major faults, lost time"
            " (stall plus any wait at dispatch), prefetch accuracy and coverage, slowdown."
            " The big number counts up to the frame on display; the whole-run figure stands"
            " beside it. In patent_demo B ends the run with far fewer major faults and a"
            " lower slowdown than A; a green difference means B is better."
        ),
    ),
    TourStep(
        target="vm-tour-cumulative",
        title="Cumulative faults and stall",
        text=(
            "Major faults and stall time added up over the run, A solid, B dashed. The gap"
            " between the lines is what predictive paging saves. In patent_demo watch when"
            " the gap grows: as the VMs take turns, demand paging faults each newcomer's"
            " pages back in, while predictive restored them before the slice began."
        ),
    ),
    TourStep(
        target="vm-tour-per-vm",
        title="Slowdown per VM",
        text=(
            "Each VM's whole-run time against the same VM with unlimited memory (1 means no"
            " loss), A and B side by side, on a log scale so one badly hit VM does not hide"
            " the rest. In patent_demo compare the pairs: under B a VM that A left many times"
            " slower can come close to 1, while others pay a little for the pages restored"
            " ahead of them. The tour ends here: Esc or the cross closes it at any step, and"
            " the Tour button in the header brings it back."
        ),
    ),
)


def steps_data() -> list[dict[str, Any]]:
    """The steps as the browser receives them (JSON-ready dicts)."""
    return [s.to_dict() for s in STEPS]
