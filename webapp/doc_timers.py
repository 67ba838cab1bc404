"""Calls into a session's Bokeh document: the player's and controller's timers, and posts from
worker threads, all made on the server's event loop and never on a destroyed document, and
none letting an exception out through Bokeh's curdoc patch.

Why these rules: Bokeh runs a document's change callbacks inside `patch_curdoc`, which pushes
the document on a process-wide stack (`bokeh.io.doc._PATCHED_CURDOCS`) and pops it only when
the callbacks return. Adding or removing a callback of a destroyed document (its callback
tables deleted) raises inside that push, so the stack keeps a stale entry; a worker thread
pushing and popping beside the event loop mixes two threads' entries; an exception escaping
through the push skips its pop. Any way Panel, building the next session, finds no live
current document, makes the new one Bokeh's process-wide document and never puts the old one
back: that session's document, controller and runs (~0.9 GB for the heaviest link) stayed in
the server after it closed.

They live in a module of their own, not in the served script: Panel clears the script's
module (`bokeh_app_<uuid>`) when it destroys the session, and the session's close callbacks,
which cancel these timers, run after that (and after Bokeh destroyed the document).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from bokeh.io.doc import patch_curdoc
from panel.io.state import set_curdoc
from tornado.ioloop import IOLoop

log = logging.getLogger(__name__)


def _call_as_curdoc(doc: Any, fn: Callable[[], None]) -> None:
    """fn with doc as Panel's and Bokeh's current document. An exception fn raises is logged
    here, inside Bokeh's `patch_curdoc`, whose pop is not in a `finally`: one escaping through
    it would leave doc on Bokeh's process-wide stack, as a stale entry."""
    with set_curdoc(doc), patch_curdoc(doc):
        try:
            fn()
        except Exception:
            log.exception("a call into session %s failed", getattr(doc.session_context, "id", "?"))


def destroyed(doc: Any) -> bool:
    """Whether Bokeh has destroyed this served session's document (it clears the document's
    session context first): its callbacks went with it, and none may be added or removed."""
    return doc.session_context is None


def page_open(doc: Any) -> bool:
    """Whether a page is connected to this served session now (its websocket open). Bokeh
    keeps a session whose page closed until its unused lifetime is up (15 s by default), so
    work that only a page would show can wait for one. True where Bokeh's session is not
    where this looks (then nothing waits); False once the document is destroyed."""
    context = doc.session_context
    if context is None:
        return False
    count = getattr(getattr(context, "session", None), "connection_count", None)
    return True if count is None else count > 0


class DocTimers:
    """Timers on the session's Bokeh document (callbacks run with the document locked)."""

    def __init__(self, doc: Any):
        self.doc = doc

    def call_later(self, delay_s: float, fn: Callable[[], None]) -> Any:
        """fn after delay_s, on the session's loop; None (never run) once the session is gone."""
        if destroyed(self.doc):
            return None

        doc = self.doc
        return doc.add_timeout_callback(
            lambda: _call_as_curdoc(doc, fn), max(0, int(delay_s * 1000))
        )

    def cancel(self, handle: Any) -> None:
        """Cancel a timer, unless it ran already or its document was destroyed with it."""
        if handle is None or destroyed(self.doc):
            return
        with contextlib.suppress(ValueError):  # it already ran
            self.doc.remove_timeout_callback(handle)

    def now(self) -> float:
        return time.monotonic()


class LoopPoster:
    """`post(fn)` from any thread: fn runs on the server's event loop, with the session's
    document locked and as the current document, or not at all once the document is destroyed
    (the session is gone). Posts run in the order they were made.

    One callback on the loop, not two: the worker thread only hands the post to the loop
    (tornado's add_callback, its one thread-safe call), and there the post's coroutine waits
    for the session's document lock itself (`with_locked_document`, the lock Bokeh's own
    next-tick callbacks take) instead of adding a next-tick callback that the loop would queue
    again. With 20 sessions playing the loop's queue is long, and that second wait in it cost
    each session frames.
    Holding the lock is what lets the session send fn's document changes to the browser
    (Bokeh's ServerSession refuses a change made without it). Made on the loop (while the
    session is built), whose IOLoop it keeps."""

    def __init__(self, doc: Any, loop: IOLoop | None = None):
        self.doc = doc
        self.loop = loop if loop is not None else IOLoop.current()

    def __call__(self, fn: Callable[[], None]) -> None:
        self.loop.add_callback(self._run, fn)

    async def _run(self, fn: Callable[[], None]) -> None:
        if destroyed(self.doc):
            return
        doc = self.doc

        async def locked(_: Any) -> None:
            # The lock may have been waited for while the session closed.
            if not destroyed(doc):
                _call_as_curdoc(doc, fn)

        await doc.session_context.with_locked_document(locked)
