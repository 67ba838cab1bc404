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
heap, ~0.1-1 s with twenty sessions open: sessions closing together share one release. It
stays where it is called: the collector keeps the GIL throughout, so on a worker thread it
held the loop as long (measured: a 262 ms collection left a 293 ms gap in the loop's ticks,
on a thread 317 and 351 ms). The trim is the part that can move: glibc's malloc_trim runs
without the GIL (ctypes lets go of it) and takes ~0.1 s after a heavy session (measured
93 ms), so it runs on a thread of its own while the loop goes on serving frames.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import logging
import sys
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from bokeh.document import Document
from bokeh.io.state import curstate
from tornado.ioloop import IOLoop

log = logging.getLogger(__name__)
# The server's log tells how long each release held its thread (Bokeh sets only its own
# loggers to INFO).
log.setLevel(logging.INFO)

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
_trim_lock = threading.Lock()  # two trims never run at once
_queue_lock = threading.Lock()
_trim_queued = False  # a trim is waiting to start: a later release's freed pages join it


def trim_heap() -> None:
    """Collect garbage (cycles included) here, then hand the freed heap pages back to the
    system on a thread of its own (the caller, often the event loop, does not wait for it);
    the collection's and the trim's times go to the server's log."""
    started = time.perf_counter()
    freed = gc.collect()
    collect_ms = (time.perf_counter() - started) * 1e3
    said = f"full collection {collect_ms:.0f} ms on {threading.current_thread().name}"
    said += f" ({freed} objects freed)"

    def trimmed(trim_ms: float | None) -> None:
        trim = "no heap trim (no glibc)" if trim_ms is None else f"heap trim {trim_ms:.0f} ms"
        log.info("released memory: %s, %s on a worker", said, trim)

    if not trim_later(trimmed):
        log.info("released memory: %s, the heap trim waiting to start trims it too", said)


def trim_later(done: Callable[[float | None], None] = lambda trim_ms: None) -> bool:
    """Trim the heap (malloc_trim) on a new daemon thread; `done(trim_ms)` hears how long it
    took (None without glibc). A trim already waiting to start serves this request too
    (False: nothing new started): it hands back whatever is free when it runs."""
    global _trim_queued
    with _queue_lock:
        if _trim_queued:
            return False
        _trim_queued = True

    def trim() -> None:
        global _trim_queued
        with _trim_lock:
            with _queue_lock:
                _trim_queued = False
            started = time.perf_counter()
            trimmed = _LIBC is not None
            if _LIBC is not None:
                with contextlib.suppress(OSError):
                    _LIBC.malloc_trim(0)
            trim_ms = (time.perf_counter() - started) * 1e3 if trimmed else None
        try:
            done(trim_ms)
        except Exception:  # a log line must not end the thread with a traceback
            log.exception("reporting a heap trim failed")

    threading.Thread(target=trim, name="vmswap-trim", daemon=True).start()
    return True


def collect_young() -> None:
    """Collect the young generations only (~1 ms, where a full collection takes ~0.1-1 s),
    and trim on a worker: a release that a full collection would not help."""
    started = time.perf_counter()
    freed = gc.collect(1)
    young_ms = (time.perf_counter() - started) * 1e3
    trim_later()
    log.info(
        "released memory: young collection only, %.1f ms (%d objects freed): the closed "
        "sessions' objects are held as at the last full collection",
        young_ms,
        freed,
    )


_pending_lock = threading.Lock()
_pending = False  # a release is scheduled and has not started: later closes join it
# Objects of closed sessions not collected yet (held weakly): a release repeats while any is.
# Each maps to its reference count after the last full collection found it alive (-1: none
# has since it was watched).
_watched: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
_alive_after_full = 0  # how many of them that collection found alive
_young_only = 0  # releases in a row that collected the young generations only
_full_due = False  # a session closed since the last full collection: the next one is full
_repeats_left = 0  # repeats still due to the sessions watched now (each close resets it)
RELEASE_RETRIES = 10  # a session's objects held longer than this many releases are held for good
FULL_AT_LEAST_EVERY = 4  # releases: however still they look, one in this many collects in full


def _ref_count(ref: weakref.ref[Any]) -> int | None:
    """The reference count of a watched object, None once it is gone (counted the same way
    wherever it is compared: the temporary references here are always the same)."""
    obj = ref()
    return None if obj is None else sys.getrefcount(obj)


def needs_full_collection(last: bool = False) -> bool:
    """Whether a release must collect in full: a session closed since the last full
    collection, or one of the closed sessions' watched objects has gone or its reference
    count moved since then (a holder let go of it, or of something of its session: cycles
    only a full collection frees). When each is held exactly as then, a full collection
    (which holds the event loop) would free nothing of theirs; still, one release in
    FULL_AT_LEAST_EVERY collects in full, for a holder that became garbage itself without
    letting go, and so does the `last` repeat (what it leaves is left to Python's own
    collections)."""
    if last or _full_due or _young_only >= FULL_AT_LEAST_EVERY - 1:
        return True
    if len(_watched) < _alive_after_full:
        return True
    seen = {id(obj): count for obj, count in _watched.items()}  # holds none of them
    return any(_ref_count(ref) != seen.get(id(ref()), -1) for ref in _watched.keyrefs())


def _note_survivors() -> None:
    """After a full collection: what of the closed sessions it found alive, and how held."""
    global _alive_after_full
    for ref in _watched.keyrefs():
        count = _ref_count(ref)
        obj = ref()
        if count is not None and obj is not None:
            _watched[obj] = count
        del obj
    _alive_after_full = len(_watched)


def release_now(last: bool = False) -> None:
    """A closed session's release: a full collection and a trim (trim_heap), or the young
    generations alone when that is all that could help (needs_full_collection; `last`: the
    last repeat for the sessions watched now)."""
    global _young_only, _full_due
    if not needs_full_collection(last):
        _young_only += 1
        collect_young()
        return
    trim_heap()
    _young_only = 0
    _full_due = False  # (not before: a release that failed leaves the next one full)
    _note_survivors()


def release_later(
    call_later: Callable[[float, Callable[[], None]], Any],
    watch: Any = None,
    retries: int = RELEASE_RETRIES,
    retry: bool = False,
) -> bool:
    """Trim once the destroyed session's document is gone: `call_later(delay_s, fn)` runs fn
    on the server's event loop (tornado's IOLoop.call_later). A session closing while a
    release is already scheduled joins it (False: nothing new scheduled); one closing after
    that release started schedules the next, so every closed session is released.

    The release's collection runs on the loop and its heap trim on a worker (trim_heap).

    `watch`: an object of the closed session (its controller, which holds its runs). Where
    one is still alive after a release (a timer of its page or a callback still queued
    holds it a moment longer), the release is repeated, up to `retries` times after the
    last close (a close joining a release already scheduled gets its full count too), so
    the memory it frees when it goes is given back too, not left to the allocator. A `retry`
    (such a repeat) collects in full only when that can free something of theirs
    (needs_full_collection); a close's release always does."""
    global _pending, _full_due, _repeats_left
    if watch is not None:
        _watched[watch] = -1
    if not retry:
        _full_due = True
        _repeats_left = retries
    with _pending_lock:
        if _pending:
            return False
        _pending = True

    def release() -> None:
        global _pending, _alive_after_full, _repeats_left
        with _pending_lock:
            _pending = False
        try:
            release_now(last=_repeats_left == 0)
        except Exception:  # never let giving memory back break the server
            log.exception("releasing a closed session's memory failed")
        if len(_watched) > 0:
            if _repeats_left > 0:
                _repeats_left -= 1
                release_later(call_later, None, retry=True)
            else:  # held for good: later sessions' releases do not retry for it
                _watched.clear()
                _alive_after_full = 0

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
