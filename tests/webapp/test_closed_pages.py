"""A write to a page that closed is no error: the event loop's handler keeps such failures out
of the server's log, and still reports every other unretrieved exception."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
from collections.abc import Iterator

import pytest
from tornado.websocket import WebSocketClosedError

from webapp.closed_pages import CLOSED_SEND, SENDERS, quiet_closed_page_writes


def unretrieved(exc: BaseException, install: bool) -> None:
    """Run a task that fails with exc on a fresh loop, drop it unretrieved, collect it. The
    loop runs in a thread of its own: in a test worker that ran browser tests, Playwright's
    loop is running on the main thread, and a second loop cannot run there."""

    async def fail() -> None:
        raise exc

    async def main() -> None:
        if install:
            quiet_closed_page_writes()
            quiet_closed_page_writes()  # twice is once
        task = asyncio.ensure_future(fail())
        await asyncio.sleep(0.01)
        assert task.done()
        del task
        gc.collect()

    failures: list[BaseException] = []

    def run() -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(main())
        except BaseException as error:  # re-raised in the test's thread
            failures.append(error)
        finally:
            loop.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if failures:
        raise failures[0]


@pytest.mark.parametrize("install", [True, False])
def test_a_failed_write_to_a_closed_page_is_not_logged_as_an_error(
    caplog: pytest.LogCaptureFixture, install: bool
) -> None:
    """With the handler no 'Task exception was never retrieved' reaches the log for a
    WebSocketClosedError; without it, asyncio logs one (what the server log showed)."""
    with caplog.at_level(logging.DEBUG):
        unretrieved(WebSocketClosedError(), install)
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    if install:
        assert errors == []
    else:
        assert any("never retrieved" in r.getMessage() for r in errors)


def test_other_unretrieved_exceptions_are_still_reported(caplog: pytest.LogCaptureFixture) -> None:
    """Any other exception nobody retrieved still reaches the log as an error."""
    with caplog.at_level(logging.DEBUG):
        unretrieved(ValueError("a real bug"), install=True)
    assert any(
        r.levelno >= logging.ERROR and "never retrieved" in r.getMessage() for r in caplog.records
    )


class _Records(logging.Handler):
    """Every record that reaches a logger's own handlers."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def heard() -> Iterator[_Records]:
    """What Bokeh's and Panel's senders and webapp.closed_pages log, at every level, taken on
    the loggers themselves: Bokeh's and Panel's log set-ups stop their records short of the
    root logger (propagate off), and a test before may have run either."""
    records = _Records()
    saved = []
    for name in (*SENDERS, "webapp.closed_pages"):
        logger = logging.getLogger(name)
        saved.append((logger, logger.level))
        logger.setLevel(logging.DEBUG)
        logger.addHandler(records)
    yield records
    for logger, level in saved:
        logger.removeHandler(records)
        logger.setLevel(level)


def test_a_message_not_sent_to_a_closed_page_is_logged_at_debug_level_only(
    heard: _Records,
) -> None:
    """Bokeh's and Panel's warning for a message they could not send to a page that had
    closed goes to debug level; their other warnings are kept. Installing twice is once."""
    quiet_closed_page_writes()
    quiet_closed_page_writes()
    for name in SENDERS:
        logging.getLogger(name).warning(CLOSED_SEND)
        logging.getLogger(name).warning("Failed sending message due to following error: x")
    warnings = [(r.name, r.getMessage()) for r in heard.records if r.levelno >= logging.WARNING]
    assert warnings == [
        (name, "Failed sending message due to following error: x") for name in SENDERS
    ]
    quiet = [r for r in heard.records if r.name == "webapp.closed_pages"]
    assert len(quiet) == len(SENDERS) and all(r.levelno == logging.DEBUG for r in quiet)
    for name in SENDERS:
        kinds = [type(f).__name__ for f in logging.getLogger(name).filters]
        assert kinds.count("_ClosedPageSends") == 1
