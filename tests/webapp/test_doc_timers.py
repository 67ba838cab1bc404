"""Calls into a session's Bokeh document (webapp.doc_timers) leave Bokeh's process-wide curdoc
stack as they found it: none is made on a destroyed document, and a worker thread's post
touches the document only from the event loop. A stale entry there made Panel keep the next
session's document, controller and runs for the server's life."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import bokeh.io.doc
import pytest
from bokeh.document import Document
from bokeh.io.doc import curdoc
from bokeh.io.state import curstate
from tornado.ioloop import IOLoop

from webapp.doc_timers import DocTimers, LoopPoster, destroyed


class FakeSession:
    """What a Bokeh server session is to its document: its session context and the consumer
    of its changes (so that Document.destroy(session) runs as on a server)."""

    def __init__(self, doc: Document):
        self.doc = doc
        doc._session_context = weakref.ref(self)  # type: ignore[assignment]
        doc.callbacks.on_change_dispatch_to(self)

    def _document_patched(self, event: Any) -> None:
        """Bokeh dispatches document changes to the session by this name."""

    def _session_callback_added(self, event: Any) -> None:
        """... and the callbacks added, to be scheduled on the loop."""

    def _session_callback_removed(self, event: Any) -> None:
        """... and removed."""

    def destroy(self) -> None:
        self.doc.destroy(self)


@pytest.fixture
def curdoc_stack() -> Iterator[list[Any]]:
    """Bokeh's curdoc stack, emptied again after the test (a failing test must not leave an
    entry that changes what the next ones see)."""
    stack = bokeh.io.doc._PATCHED_CURDOCS
    before = list(stack)
    yield stack
    stack[:] = before


@pytest.fixture
def session() -> FakeSession:
    return FakeSession(Document())


def test_a_timer_cancelled_after_its_document_was_destroyed_leaves_no_curdoc(
    curdoc_stack: list[Any], session: FakeSession
) -> None:
    """A session's close cancels its timers after Bokeh destroyed the document: the cancel
    leaves Bokeh's curdoc stack empty, so curdoc() is the global document again."""
    timers = DocTimers(session.doc)
    handle = timers.call_later(4.0, lambda: None)
    assert handle is not None
    session.destroy()
    assert destroyed(session.doc)
    timers.cancel(handle)
    assert curdoc_stack == []
    assert curdoc() is curstate().document


def test_no_timer_is_set_on_a_destroyed_document(
    curdoc_stack: list[Any], session: FakeSession
) -> None:
    """A timer asked for once the document is destroyed is not set (None) and leaves Bokeh's
    curdoc stack empty; cancelling None does nothing."""
    session.destroy()
    timers = DocTimers(session.doc)
    handle = timers.call_later(0.0, lambda: None)
    assert handle is None
    timers.cancel(handle)
    assert curdoc_stack == []


def test_a_live_documents_timer_is_set_and_cancelled(session: FakeSession) -> None:
    """Before the document is destroyed a timer is set on it and cancelled again."""
    timers = DocTimers(session.doc)
    handle = timers.call_later(1.0, lambda: None)
    assert handle in session.doc.session_callbacks
    timers.cancel(handle)
    assert handle not in session.doc.session_callbacks
    timers.cancel(handle)  # already gone: no error


@contextlib.contextmanager
def loop_thread() -> Iterator[tuple[IOLoop, threading.Thread]]:
    """A tornado IOLoop running on a thread of its own (the server's event loop)."""
    ready = threading.Event()
    box: list[Any] = []

    async def serve() -> None:
        stop = asyncio.Event()
        box.extend([IOLoop.current(), stop])
        ready.set()
        await stop.wait()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    assert ready.wait(30)
    loop, stop = box
    try:
        yield loop, thread
    finally:
        loop.add_callback(stop.set)
        thread.join(30)


def on_loop(loop: IOLoop, fn: Callable[[], Any]) -> Any:
    """fn's value, computed on the loop's thread."""
    done = threading.Event()
    out: list[Any] = []
    loop.add_callback(lambda: (out.append(fn()), done.set()))
    assert done.wait(30)
    return out[0]


def test_a_worker_threads_post_touches_the_document_only_on_the_loop(
    monkeypatch: pytest.MonkeyPatch, curdoc_stack: list[Any], session: FakeSession
) -> None:
    """post(fn) from a worker thread adds fn's callback to the document on the event loop's
    thread, and Bokeh's curdoc patches it makes all happen there (a worker thread pushing
    and popping beside the loop mixes the two threads' entries)."""
    patched_on: list[str] = []
    real_patch = bokeh.io.doc.patch_curdoc

    @contextlib.contextmanager
    def patch_curdoc(doc: Any) -> Iterator[None]:
        patched_on.append(threading.current_thread().name)
        with real_patch(doc):
            yield

    monkeypatch.setattr(bokeh.io.doc, "patch_curdoc", patch_curdoc)
    added = threading.Event()
    with loop_thread() as (loop, thread):
        post = on_loop(loop, lambda: LoopPoster(session.doc))
        worker = threading.Thread(target=post, args=(lambda: None,), name="worker")
        worker.start()
        worker.join(30)
        on_loop(loop, lambda: added.set() if session.doc.session_callbacks else None)
    assert added.is_set(), "the post added no callback to the document"
    assert patched_on and set(patched_on) == {thread.name}
    assert curdoc_stack == []


def test_a_post_after_the_document_was_destroyed_is_dropped(
    curdoc_stack: list[Any], session: FakeSession
) -> None:
    """A worker's post that reaches the loop after Bokeh destroyed the document adds nothing
    and leaves Bokeh's curdoc stack empty."""
    with loop_thread() as (loop, _):
        post = on_loop(loop, lambda: LoopPoster(session.doc))
        session.destroy()
        post(lambda: None)
        on_loop(loop, lambda: None)  # the post's turn on the loop has come and gone
    assert session.doc.session_callbacks == []
    assert curdoc_stack == []
