"""The player's and controller's timers on a session's Bokeh document.

They live in a module of their own, not in the served script: Panel clears the script's
module (`bokeh_app_<uuid>`) when it destroys the session, and the session's close callbacks,
which cancel these timers, run after that. Defined there, `cancel` found its own module's
names gone (`NameError: name 'contextlib' is not defined` in the server log, once per page
closed while playing); by then the document may be destroyed as well.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

from panel.io.state import set_curdoc


class DocTimers:
    """Timers on the session's Bokeh document (callbacks run with the document locked)."""

    def __init__(self, doc: Any):
        self.doc = doc

    def call_later(self, delay_s: float, fn: Callable[[], None]) -> Any:
        def run() -> None:
            with set_curdoc(self.doc):
                fn()

        return self.doc.add_timeout_callback(run, max(0, int(delay_s * 1000)))

    def cancel(self, handle: Any) -> None:
        # ValueError: it already ran. AttributeError: the document was destroyed before the
        # session's close callbacks ran (Bokeh deletes its callback tables), and its timers
        # with it.
        with contextlib.suppress(ValueError, AttributeError):
            self.doc.remove_timeout_callback(handle)

    def now(self) -> float:
        return time.monotonic()
