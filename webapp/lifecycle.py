"""What a closed session gives back to the server.

A session's runs, recordings and Bokeh document are reachable only from the session (the run
cache is bounded apart, webapp.runs.RUN_CACHE); once Bokeh discards the session they are
garbage. Two things still keep the memory from the operating system: reference cycles wait
for the collector's next pass, and glibc keeps freed small blocks (a recording is thousands
of ~100 kB arrays, under its mmap threshold) in the heap. After a session is destroyed the
server therefore collects and trims, once Bokeh has dropped the document (a moment later),
and again while an object of the closed session is still alive (a timer of its page, or a
callback still queued, may hold it a few seconds more: what it frees then would stay in the
heap until the next release, perhaps of nobody).
A full collection holds the event loop (every session's frames) for as long as it scans the
heap, ~0.1-1 s with twenty sessions open: sessions closing together share one release.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import logging
import threading
import weakref
from collections.abc import Callable
from typing import Any

from bokeh.document import Document
from bokeh.io.state import curstate
from tornado.ioloop import IOLoop

log = logging.getLogger(__name__)

RELEASE_DELAY_S = 2.0  # Bokeh drops the document after the destroy callbacks have run


def _load_libc() -> Any:
    """glibc, or None on a C library without malloc_trim (musl, macOS)."""
    name = ctypes.util.find_library("c") or "libc.so.6"
    try:
        libc = ctypes.CDLL(name)
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        return libc
    except (OSError, AttributeError):
        return None


_LIBC = _load_libc()
_trim_lock = threading.Lock()  # two sessions closing together trim once each, not at once


def trim_heap() -> None:
    """Collect garbage (cycles included) and hand freed heap pages back to the system."""
    with _trim_lock:
        gc.collect()
        if _LIBC is not None:
            with contextlib.suppress(OSError):
                _LIBC.malloc_trim(0)


_pending_lock = threading.Lock()
_pending = False  # a release is scheduled and has not started: later closes join it
# Objects of closed sessions not collected yet (held weakly): a release repeats while any is.
_watched: weakref.WeakSet[Any] = weakref.WeakSet()
RELEASE_RETRIES = 10  # a session's objects held longer than this many releases are held for good


def release_later(
    call_later: Callable[[float, Callable[[], None]], Any],
    watch: Any = None,
    retries: int = RELEASE_RETRIES,
) -> bool:
    """Trim once the destroyed session's document is gone: `call_later(delay_s, fn)` runs fn
    on the server's event loop (tornado's IOLoop.call_later). A session closing while a
    release is already scheduled joins it (False: nothing new scheduled); one closing after
    that release started schedules the next, so every closed session is released.

    `watch`: an object of the closed session (its controller, which holds its runs). Where
    one is still alive after a release (a timer of its page or a callback still queued
    holds it a moment longer), the release is repeated, up to `retries` times, so the
    memory it frees when it goes is given back too, not left to the allocator."""
    global _pending
    if watch is not None:
        _watched.add(watch)
    with _pending_lock:
        if _pending:
            return False
        _pending = True

    def release() -> None:
        global _pending
        with _pending_lock:
            _pending = False
        try:
            trim_heap()
        except Exception:  # never let giving memory back break the server
            log.exception("releasing a closed session's memory failed")
        if len(_watched) > 0:
            if retries > 0:
                release_later(call_later, None, retries - 1)
            else:  # held for good: later sessions' releases do not retry for it
                _watched.clear()

    call_later(RELEASE_DELAY_S, release)
    return True


def forget_document(doc: Any) -> None:
    """Make sure Bokeh's process-wide current document is not the closed session's. Panel,
    building a session, makes the new document that one whenever Bokeh's curdoc stack holds
    a stale entry (a callback raised inside Bokeh's curdoc patch, in any session: see
    webapp.doc_timers) and never puts the old one back; left there, it holds the session's
    document, controller and runs for the server's life, from an object frozen at start
    (webapp.warmup), which the collector's referrer search does not look at."""
    state = curstate()
    if state.document is doc:
        state.document = Document()


def on_destroyed(
    *closers: Callable[[], None], watch: Any = None, document: Any = None
) -> Callable[[Any], None]:
    """The session-destroyed callback: run each closer (stop timers, runs, threads), let go
    of the session's Bokeh `document` where Bokeh's global state holds it, then release the
    memory, until `watch` (held weakly, as the document) is gone too. Defined here, not in
    the served script: Bokeh empties that script's module namespace before the callback
    runs, so its names are gone by then."""
    watch_ref = weakref.ref(watch) if watch is not None else None
    doc_ref = weakref.ref(document) if document is not None else None

    def destroyed(context: Any) -> None:
        for close in closers:
            try:
                close()
            except Exception:  # the others still run, and the memory is still released
                log.exception("closing a session failed")
        doc = doc_ref() if doc_ref is not None else None
        if doc is not None:
            forget_document(doc)
            del doc
        release_later(IOLoop.current().call_later, watch_ref() if watch_ref else None)

    return destroyed
