"""The seed picker and the seeds' progress: which seed the animation shows, chosen among the
seeds done so far, and how many of them are in ('seeds: 3 of 5')."""

from __future__ import annotations

import html
from typing import Any

import panel as pn

from webapp.controller import Controller
from webapp.state import SessionState


def seed_options(done: list[int], first: int | None) -> dict[str, int]:
    """Picker labels for the seeds done: 'seed 5 (the scenario's own)', 'seed 6', …"""
    return {f"seed {s} (the scenario's own)" if s == first else f"seed {s}": s for s in done}


class SeedsBar:
    """A row above the cards: the seed on display (a picker) and the count of seeds done."""

    def __init__(
        self, state: SessionState, controller: Controller, stylesheets: list[str] | None = None
    ):
        self.state = state
        self.controller = controller
        self.picker = pn.widgets.Select(
            label="seed shown",
            options={},
            # wide enough for "seed 1000 (the scenario's own)" beside the select's arrow
            width=290,
            margin=(0, 10),
            css_classes=["vm-seed-picker"],
            description="The animation shows one seed; the cards and the per-VM chart add the"
            " mean and 95 % interval over the seeds done.",
        )
        self.count = pn.pane.HTML(
            "", margin=(22, 4, 0, 4), css_classes=["vm-seeds-count"], stylesheets=stylesheets or []
        )
        self.panel = pn.Row(self.picker, self.count, sizing_mode="stretch_width")
        self._syncing = False
        self.picker.param.watch(self._picked, "value")
        state.param.watch(lambda e: self.sync(), ["seeds_done", "shown_seed", "seeds_progress"])
        self.sync()

    def sync(self) -> None:
        """Follow the state: the seeds done as options, the seed on display as the value."""
        st = self.state
        first = seeds[0] if (seeds := self.controller.seed_set.seeds()) else None
        self._syncing = True
        try:
            self.picker.options = seed_options(list(st.seeds_done), first)
            wanted = self.controller.requested_seed
            shown = wanted if wanted is not None else st.shown_seed
            self.picker.value = shown if shown in st.seeds_done else None
            self.picker.disabled = len(st.seeds_done) < 2
        finally:
            self._syncing = False
        # The controller's own words and numbers: no visitor text.
        said = html.escape(st.seeds_progress)
        self.count.object = f'<span class="vm-seeds-progress">{said}</span>' if said else ""

    def _picked(self, event: Any) -> None:
        if self._syncing or event.new is None:
            return
        self.controller.show_seed(int(event.new))
