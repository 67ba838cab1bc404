"""Calls into a session's Bokeh document: the player's and controller's timers, and posts from
worker threads, all made on the server's event loop and never on a destroyed document.

Why both rules: Bokeh runs a document's change callbacks inside `patch_curdoc`, which pushes
the document on a process-wide stack (`bokeh.io.doc._PATCHED_CURDOCS`) and pops it only when
the callbacks return. Adding or removing a callback of a destroyed document (its callback
tables deleted) raises inside that push, so the stack keeps a stale entry; a worker thread
pushing and popping beside the event loop mixes two threads' entries. Either way Panel, building
the next session, finds no live current document, makes the new one Bokeh's process-wide
document and never puts the old one back: that session's document, controller and runs
(~0.9 GB for the heaviest link) stayed in the server after it closed.

They live in a module of their own, not in the served script: Panel clears the script's
module (`bokeh_app_<uuid>`) when it destroys the session, and the session's close callbacks,
which cancel these timers, run after that (and after Bokeh destroyed the document).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

from panel.io.state import set_curdoc
from tornado.ioloop import IOLoop


def destroyed(doc: Any) -> bool:
    """Whether Bokeh has destroyed this served session's document (it clears the document's
    session context first): its callbacks went with it, and none may be added or removed."""
    return doc.session_context is None


class DocTimers:
    """Timers on the session's Bokeh document (callbacks run with the document locked)."""

    def __init__(self, doc: Any):
        self.doc = doc

    def call_later(self, delay_s: float, fn: Callable[[], None]) -> Any:
        """fn after delay_s, on the session's loop; None (never run) once the session is gone."""
        if destroyed(self.doc):
            return None

        def run() -> None:
            with set_curdoc(self.doc):
                fn()

        return self.doc.add_timeout_callback(run, max(0, int(delay_s * 1000)))

    def cancel(self, handle: Any) -> None:
        """Cancel a timer, unless it ran already or its document was destroyed with it."""
        if handle is None or destroyed(self.doc):
            return
        with contextlib.suppress(ValueError):  # it already ran
            self.doc.remove_timeout_callback(handle)

    def now(self) -> float:
        return time.monotonic()


class LoopPoster:
    """`post(fn)` from any thread: fn runs on the server's event loop, in a next-tick callback
    of the session's document (with the document locked), or not at all once the document is
    destroyed (the session is gone). The worker thread only hands fn to the loop (tornado's
    add_callback, its one thread-safe call); everything that touches the document happens on
    the loop. Made on the loop (while the session is built), whose IOLoop it keeps."""

    def __init__(self, doc: Any, loop: IOLoop | None = None):
        self.doc = doc
        self.loop = loop if loop is not None else IOLoop.current()

    def __call__(self, fn: Callable[[], None]) -> None:
        self.loop.add_callback(self._schedule, fn)

    def _schedule(self, fn: Callable[[], None]) -> None:
        if destroyed(self.doc):
            return
        doc = self.doc

        def run() -> None:
            with set_curdoc(doc):
                fn()

        doc.add_next_tick_callback(run)
