"""Colours: Okabe–Ito (colour-blind safe) for page states and VMs; A and B keep theirs."""

from __future__ import annotations

from webapp.runs import DISPLAY_STATES

# Okabe & Ito (2008), "Color Universal Design": distinguishable with every common deficiency.
STATE_COLOURS = {
    "resident": "#56B4E9",  # sky blue
    "dirty": "#0072B2",  # blue: resident and must be written first
    "prefetched": "#009E73",  # bluish green: brought in ahead of use, not yet touched
    "in flight": "#F0E442",  # yellow: a read or write under way
    "swapped": "#D55E00",  # vermillion: only on the swap device
    "untouched": "#EEEEEE",  # never touched yet
}
STATE_PALETTE = [STATE_COLOURS[s] for s in DISPLAY_STATES]

# Paul Tol's "muted" scheme (colour-blind safe, and apart from the state colours above).
VM_COLOURS = (
    "#332288",
    "#88CCEE",
    "#44AA99",
    "#117733",
    "#999933",
    "#DDCC77",
    "#CC6677",
    "#882255",
    "#AA4499",
)

PANE_COLOURS = {"A": "#0072B2", "B": "#E69F00"}

DEVICE_COLOURS = {
    "demand": "#D55E00",
    "prefetch": "#009E73",
    "write": "#999999",
    "queue": "#000000",
}


def vm_colour(k: int) -> str:
    return VM_COLOURS[k % len(VM_COLOURS)]
