"""Colours: Okabe–Ito (colour-blind safe) for page states and VMs; A and B keep theirs."""

from __future__ import annotations

import colorsys

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
STATE_MEANINGS = {
    "resident": "in a host frame, same as its swap copy or never written",
    "dirty": "in a host frame, written since: must be written out before its frame is reused",
    "prefetched": "read in ahead of use and not touched yet",
    "in flight": "being read from or written to the swap device",
    "swapped": "only on the swap device: touching it is a major fault",
    "untouched": "never touched yet: its first touch is a minor fault (zero-fill, no I/O)",
}

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


# Past the muted nine, VMs take colours from a grid that keeps neighbours apart: 16 hues, then
# lightness levels, then saturation levels (each level shifts its hues by half a step),
# leaving out those close to a muted colour; 9 + 256 VMs never share a colour (a scenario
# holds at most 256).
GRID_HUES = 16
GRID_LIGHTNESS = (0.42, 0.62, 0.30, 0.74)
GRID_SATURATION = (0.65, 0.9, 0.45, 1.0, 0.55, 0.78)
MIN_RGB_DISTANCE = 40  # from any muted colour, in 0-255 RGB units


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def rgb_distance(a: str, b: str) -> float:
    return float(sum((x - y) ** 2 for x, y in zip(_rgb(a), _rgb(b), strict=True)) ** 0.5)


def _grid_colour(j: int) -> str:
    hue_step, level = j % GRID_HUES, j // GRID_HUES
    lightness = GRID_LIGHTNESS[level % len(GRID_LIGHTNESS)]
    saturation = GRID_SATURATION[(level // len(GRID_LIGHTNESS)) % len(GRID_SATURATION)]
    hue = (hue_step + 0.5 * (level % 2)) / GRID_HUES
    r, g, b = colorsys.hls_to_rgb(hue, lightness, saturation)
    return "#{:02X}{:02X}{:02X}".format(*(round(c * 255) for c in (r, g, b)))


EXTRA_VM_COLOURS = tuple(
    c
    for c in (
        _grid_colour(j) for j in range(GRID_HUES * len(GRID_LIGHTNESS) * len(GRID_SATURATION))
    )
    if min(rgb_distance(c, m) for m in VM_COLOURS) >= MIN_RGB_DISTANCE
)


def vm_colour(k: int) -> str:
    """The colour of the k-th VM: the muted scheme first, then the grid."""
    if k < len(VM_COLOURS):
        return VM_COLOURS[k]
    return EXTRA_VM_COLOURS[(k - len(VM_COLOURS)) % len(EXTRA_VM_COLOURS)]
