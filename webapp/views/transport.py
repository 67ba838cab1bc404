"""Transport and share bar: play/pause, steps, scrubber, speed, loop; copy link, downloads."""

from __future__ import annotations

import io
from typing import Any

import panel as pn
from bokeh.models import Tooltip

from webapp.controller import Controller
from webapp.state import SessionState

COPY_JS = """
const text = url.value;
const done = (ok) => {
  const old = btn.label;
  btn.label = ok ? 'Copied ✓' : 'Select the link and copy it';
  setTimeout(() => { btn.label = 'Copy link'; }, 1600);
};
if (navigator.clipboard && window.isSecureContext) {
  navigator.clipboard.writeText(text).then(() => done(true), () => done(false));
} else {
  done(false);
}
"""


SPEED_WIDTH_PX = 180  # "max (every frame)" in full, with the select's arrow


def below(text: str) -> Tooltip:
    """A button's tooltip shown under it: to its right (Panel's default) it would cover the
    next buttons of the transport row (+1 and +N beside Play)."""
    return Tooltip(content=text, position="bottom")


def _speed_options(speeds: list[int]) -> dict[str, int]:
    return {("max (every frame)" if s == 0 else f"{s:g} ms/s"): s for s in speeds}


class Transport:
    """Widgets bound to the session state; buttons call the controller."""

    def __init__(self, state: SessionState, controller: Controller):
        self.state = state
        c = controller

        def button(
            label: str, action: Any, name: str, width: int = 44, **kw: Any
        ) -> pn.widgets.Button:
            if "description" in kw:
                kw["description"] = below(kw["description"])
            b = pn.widgets.Button(label=label, width=width, margin=(4, 2), **kw)
            b.css_classes = [f"vm-btn-{name}"]
            b.on_click(lambda e: action())
            return b

        self.play = button(
            "▶ Play", c.toggle, "play", 86, color="primary", description="play / pause (space)"
        )
        self.first = button("|◀", lambda: c.goto(0), "first", description="first frame (Home)")
        self.back_n = button(
            "−N", lambda: c.step(-state.step_n), "back-n", description="N frames back (shift+←)"
        )
        self.back = button("−1", lambda: c.step(-1), "back", description="one frame back (←)")
        self.fwd = button("+1", lambda: c.step(1), "forward", description="one frame on (→)")
        self.fwd_n = button(
            "+N", lambda: c.step(state.step_n), "forward-n", description="N frames on (shift+→)"
        )
        self.last = button("▶|", lambda: c.goto(10**9), "last", description="last frame (End)")
        # The scrubber drives state.frame; the dashboard moves it back (a few times a second
        # while playing: every DOM change makes the browser recompute styles before a paint).
        self.slider = pn.widgets.IntSlider(
            start=0,
            end=1,
            value=0,
            label="frame",
            show_value=False,
            sizing_mode="stretch_width",
            margin=(4, 12),
            css_classes=["vm-scrubber"],
        )
        self.slider.param.watch(lambda e: setattr(state, "frame", int(e.new)), "value")
        self.speed = pn.widgets.Select.from_param(
            state.param.speed,
            label="",
            options=_speed_options(list(state.param.speed.objects)),
            width=SPEED_WIDTH_PX,
            margin=(4, 4),
            css_classes=["vm-speed"],
        )
        self.loop = pn.widgets.Checkbox.from_param(
            state.param.loop, name="loop", margin=(12, 6), css_classes=["vm-loop"]
        )
        self.follow = pn.widgets.Checkbox.from_param(
            state.param.follow,
            label="follow now",
            margin=(12, 6),
            css_classes=["vm-follow"],
        )  # zooms the timelines on the now-cursor; moving axes cost some frame rate
        self.step_n = pn.widgets.IntInput.from_param(
            state.param.step_n, label="", width=64, margin=(4, 4), start=2, end=1000
        )
        self.link = pn.widgets.TextInput(
            value="",
            sizing_mode="stretch_width",
            margin=(4, 4),
            css_classes=["vm-share-url"],
            label="",
        )
        self.copy = pn.widgets.Button(
            label="Copy link",
            width=110,
            margin=(4, 4),
            color="default",
            css_classes=["vm-btn-copy"],
        )
        self.copy.js_on_click(args=dict(url=self.link, btn=self.copy), code=COPY_JS)
        controller.on_close.append(self.close)
        self.downloads = [
            pn.widgets.FileDownload(
                callback=lambda make=make: io.StringIO(make()),
                filename=filename,
                label=label,
                color="light",
                width=width,
                margin=(4, 2),
            )
            for make, filename, label, width in (
                (c.download_toml, "scenario.toml", "Scenario TOML", 130),
                (c.download_csv, "results.csv", "Results CSV", 120),
                (c.download_json, "results.json", "Results JSON", 125),
            )
        ]
        state.param.watch(self._playing, "playing")
        state.param.watch(self._runs, "runs")
        state.param.watch(lambda e: setattr(self.link, "value", e.new), "share_url")
        self._runs(None)

    def close(self) -> None:
        """The session ended: drop the copy button's JavaScript link. Panel keeps such links
        in a class-level WeakKeyDictionary whose entry refers to its own key (the button),
        so without this every session's button and link field live on."""
        from panel.links import Callback

        Callback.registry.pop(self.copy, None)

    def _playing(self, event: Any) -> None:
        self.play.label = "❚❚ Pause" if event.new else "▶ Play"

    def _runs(self, event: Any) -> None:
        runs = self.state.runs
        n = runs.n_frames if runs is not None else 2
        self.slider.end = max(1, n - 1)
        name = (runs.scenario_dict.get("name") if runs is not None else None) or "scenario"
        for d, ext in zip(self.downloads, ("toml", "csv", "json"), strict=True):
            stem = name if ext == "toml" else f"{name}-results"
            d.filename = f"{stem}.{ext}"

    def bar(self, frame_label: Any) -> pn.Column:
        keys = pn.pane.HTML(
            '<span class="vm-keys">space play/pause · ←/→ one frame · shift+←/→ N frames · '
            "Home/End</span>",
            margin=(10, 8),
        )
        row1 = pn.Row(
            self.first,
            self.back_n,
            self.back,
            self.play,
            self.fwd,
            self.fwd_n,
            self.last,
            self.slider,
            frame_label,
            sizing_mode="stretch_width",
            css_classes=["vm-transport"],
        )
        row2 = pn.Row(
            pn.pane.HTML('<span class="vm-lbl">speed</span>', margin=(10, 2, 0, 8)),
            self.speed,
            pn.pane.HTML('<span class="vm-lbl">N</span>', margin=(10, 2, 0, 8)),
            self.step_n,
            self.loop,
            self.follow,
            keys,
            sizing_mode="stretch_width",
        )
        row3 = pn.Row(self.copy, self.link, *self.downloads, sizing_mode="stretch_width")
        return pn.Column(row1, row2, row3, sizing_mode="stretch_width", css_classes=["vm-bar"])
