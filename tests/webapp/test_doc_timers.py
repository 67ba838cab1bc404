"""Calls into a session's Bokeh document (webapp.doc_timers) leave Bokeh's process-wide curdoc
stack as they found it: none is made on a destroyed document, and a worker thread's post
touches the document only from the event loop. A stale entry there made Panel keep the next
session's document, controller and runs for the server's life."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import bokeh.io.doc
import panel as pn
import pytest
from bokeh.core.types import ID
from bokeh.document import Document
from bokeh.document.events import SessionCallbackAdded
from bokeh.io.doc import curdoc
from bokeh.io.state import curstate
from bokeh.models import Div
from bokeh.server.contexts import BokehSessionContext
from bokeh.server.session import ServerSession
from tornado.ioloop import IOLoop

from webapp.doc_timers import DocTimers, LoopPoster, destroyed, page_open


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


class Connection:
    """What a server's websocket connection is to its session: it sends the document's
    patches to the browser (here: records them, and yields to the loop as a real write may)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    async def send_patch_document(self, event: Any) -> None:
        self.sent.append((event.attr, event.new))
        await asyncio.sleep(0)


@dataclass
class Served:
    """A real Bokeh server session on the loop, with one connected client."""

    loop: IOLoop
    thread: threading.Thread
    context: BokehSessionContext  # the server keeps it: the document holds it weakly
    session: ServerSession
    connection: Connection
    div: Div

    @property
    def doc(self) -> Document:
        return self.session.document

    def post_from_worker(self, post: LoopPoster, *fns: Callable[[], None]) -> None:
        """Each fn posted in turn from one worker thread."""

        def work() -> None:
            for fn in fns:
                post(fn)

        worker = threading.Thread(target=work, name="worker")
        worker.start()
        worker.join(30)

    def settle(self, lock_free: bool = True) -> None:
        """Wait until every post made so far has had its turns on the loop, and (lock_free)
        has run or been dropped: the document's lock, in its turn, is free again."""
        done = threading.Event()

        async def after_the_posts() -> None:
            for _ in range(10):  # a post's turn, its task's first step, its writes
                await asyncio.sleep(0)
            if lock_free and not self.session.destroyed:
                await self.session.with_document_locked(lambda: None)
            done.set()

        self.loop.add_callback(after_the_posts)
        assert done.wait(30)


@contextlib.contextmanager
def served() -> Iterator[Served]:
    """A Bokeh ServerSession as the server makes one (its session context set first), on a
    loop thread of its own, with one subscribed connection."""
    with loop_thread() as (loop, thread):

        def make() -> Served:
            doc = Document()
            div = Div(text="")
            doc.add_root(div)
            session_id = ID("session")
            context = BokehSessionContext(session_id, None, doc)
            doc._session_context = weakref.ref(context)  # type: ignore[assignment]
            session = ServerSession(session_id, doc, io_loop=loop)
            context._set_session(session)
            connection = Connection()
            session.subscribe(connection)  # type: ignore[arg-type]
            return Served(loop, thread, context, session, connection, div)

        yield on_loop(loop, make)


class ThreadsPushing(list[Any]):
    """Bokeh's curdoc stack, recording which thread pushed each entry."""

    def __init__(self) -> None:
        super().__init__()
        self.pushed_on: list[str] = []

    def append(self, entry: Any) -> None:
        self.pushed_on.append(threading.current_thread().name)
        super().append(entry)


@pytest.fixture
def pushes(monkeypatch: pytest.MonkeyPatch) -> ThreadsPushing:
    """Bokeh's curdoc stack replaced, for the test, by one that records who pushes."""
    stack = ThreadsPushing()
    monkeypatch.setattr(bokeh.io.doc, "_PATCHED_CURDOCS", stack)
    return stack


def test_a_worker_threads_post_runs_on_the_loop_locked_as_the_current_document(
    pushes: ThreadsPushing,
) -> None:
    """A post from a worker thread runs fn on the loop's thread as Panel's and Bokeh's
    current document, and its change reaches the connected client (the session refuses a
    change made without the document's lock); only the loop pushes on Bokeh's curdoc stack."""
    seen: list[Any] = []
    with served() as s:
        post = on_loop(s.loop, lambda: LoopPoster(s.doc))

        def fn() -> None:
            seen.extend([threading.current_thread().name, pn.state.curdoc, curdoc()])
            s.div.text = "from the worker"

        s.post_from_worker(post, fn)
        s.settle()
        assert seen == [s.thread.name, s.doc, s.doc]
        assert s.connection.sent == [("text", "from the worker")]
    assert pushes.pushed_on and set(pushes.pushed_on) == {s.thread.name}
    assert pushes == []


def test_a_post_takes_one_trip_through_the_loops_queue(pushes: ThreadsPushing) -> None:
    """A post adds no callback to the document (Bokeh's next tick would queue it on the loop a
    second time): the worker's one add_callback is the only trip it makes."""
    added: list[Any] = []
    with served() as s:
        post = on_loop(s.loop, lambda: LoopPoster(s.doc))
        s.doc.callbacks.on_change(
            lambda event: added.append(event) if isinstance(event, SessionCallbackAdded) else None
        )
        s.post_from_worker(post, lambda: setattr(s.div, "text", "once"))
        s.settle()
        assert s.connection.sent == [("text", "once")]
    assert added == []


def test_posts_run_in_the_order_they_were_made(pushes: ThreadsPushing) -> None:
    """Posts made while the document is locked elsewhere (a browser's patch being applied, its
    writes pending) wait for the lock and then run, and send their changes, in order."""
    n_posts = 30
    with served() as s:
        post = on_loop(s.loop, lambda: LoopPoster(s.doc))
        holding, release = threading.Event(), threading.Event()

        async def hold_the_lock() -> None:
            async def held(_: Any) -> None:
                holding.set()
                while not release.is_set():
                    await asyncio.sleep(0.001)

            await s.context.with_locked_document(held)

        s.loop.add_callback(hold_the_lock)
        assert holding.wait(30)
        ran: list[int] = []

        def change(i: int) -> Callable[[], None]:
            def fn() -> None:
                ran.append(i)
                s.div.text = str(i)

            return fn

        s.post_from_worker(post, *[change(i) for i in range(n_posts)])
        s.settle(lock_free=False)
        assert ran == []  # the lock is held: all wait for it
        release.set()
        s.settle()
        assert ran == list(range(n_posts))
        assert s.connection.sent == [("text", str(i)) for i in range(n_posts)]
    assert pushes == []


def test_a_post_after_the_document_was_destroyed_is_dropped(pushes: ThreadsPushing) -> None:
    """A worker's post that reaches the loop after Bokeh destroyed the document does not run,
    and leaves Bokeh's curdoc stack as it was."""
    ran: list[bool] = []
    with served() as s:
        post = on_loop(s.loop, lambda: LoopPoster(s.doc))
        on_loop(s.loop, s.session.destroy)
        assert destroyed(post.doc)
        s.post_from_worker(post, lambda: ran.append(True))
        s.settle()
    assert ran == []
    assert pushes == []


def test_a_post_waiting_for_the_lock_while_the_session_closes_is_dropped(
    pushes: ThreadsPushing,
) -> None:
    """Bokeh destroys a session with its document locked; a post already waiting for the lock
    then finds the document destroyed and does not run."""
    ran: list[bool] = []
    with served() as s:
        post = on_loop(s.loop, lambda: LoopPoster(s.doc))
        holding, release = threading.Event(), threading.Event()

        async def discard() -> None:
            async def destroy_when_released() -> None:
                holding.set()
                while not release.is_set():
                    await asyncio.sleep(0.001)
                s.session.destroy()

            await s.session.with_document_locked(destroy_when_released)

        s.loop.add_callback(discard)
        assert holding.wait(30)
        s.post_from_worker(post, lambda: ran.append(True))
        s.settle(lock_free=False)  # the post has reached the lock and waits
        release.set()
        s.settle()
        assert s.session.destroyed
    assert ran == []
    assert pushes == []


def test_a_failing_post_is_logged_and_leaves_no_curdoc_behind(
    pushes: ThreadsPushing, caplog: pytest.LogCaptureFixture
) -> None:
    """fn raising inside a post is logged with its traceback, leaves Bokeh's curdoc stack
    empty (Bokeh's patch pops only when no exception passes through it), and the next post
    still runs."""

    def fail() -> None:
        raise ValueError("a broken result")

    with served() as s:
        post = on_loop(s.loop, lambda: LoopPoster(s.doc))
        with caplog.at_level(logging.ERROR, logger="webapp.doc_timers"):
            s.post_from_worker(post, fail, lambda: setattr(s.div, "text", "next"))
            s.settle()
        assert s.connection.sent == [("text", "next")]
    assert pushes == []
    assert [r.exc_info[0] for r in caplog.records if r.exc_info] == [ValueError]


def test_a_failing_timer_leaves_no_curdoc_behind(
    curdoc_stack: list[Any], session: FakeSession, caplog: pytest.LogCaptureFixture
) -> None:
    """A timer's fn that raises is logged, and Bokeh's curdoc stack is empty afterwards."""

    def fail() -> None:
        raise ValueError("a broken frame")

    handle = DocTimers(session.doc).call_later(0.0, fail)
    with caplog.at_level(logging.ERROR, logger="webapp.doc_timers"):
        handle.callback()  # as the loop would, through Bokeh's own curdoc wrapper
    assert curdoc_stack == []
    assert [r.exc_info[0] for r in caplog.records if r.exc_info] == [ValueError]


def test_a_page_is_open_while_its_websocket_is_subscribed() -> None:
    """page_open follows the session's connections: open with its page connected, closed once
    the page's connection went (Bokeh keeps the session a while yet), open again when a page
    reconnects, and closed for a document that was never served or whose session is gone."""
    with served() as s:
        assert on_loop(s.loop, lambda: page_open(s.doc))
        on_loop(s.loop, lambda: s.session.unsubscribe(s.connection))  # type: ignore[arg-type]
        assert not on_loop(s.loop, lambda: page_open(s.doc))
        assert not s.session.destroyed
        on_loop(s.loop, lambda: s.session.subscribe(s.connection))  # type: ignore[arg-type]
        assert on_loop(s.loop, lambda: page_open(s.doc))
    assert not page_open(Document())
