"""A page that closes while frames are in flight: expected, so one quiet line, not a traceback.

Panel writes each frame's message as several websocket writes, each a Tornado task, and awaits
them in a task of its own. When a page closes mid-play the writes fail with
`WebSocketClosedError`; when Panel then destroys the session it cancels its task, and the
failed writes it had not awaited yet are never retrieved: asyncio logged "Task exception was
never retrieved" with a two-part traceback for every page closed while playing. That failure
is the normal end of a page, not a fault of the server, so the event loop's exception handler
logs it at debug level and hands everything else to the handler it replaces.

The frame or two sent before the server learns that the page closed end the same way, and
Bokeh and Panel each log it as a warning ("Failed sending message as connection was closed"):
that line goes to debug level too, and every other warning of theirs is kept.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from tornado.iostream import StreamClosedError
from tornado.websocket import WebSocketClosedError

log = logging.getLogger(__name__)
# Where Bokeh and Panel log a message they could not send to a page that had closed.
CLOSED_SEND = "Failed sending message as connection was closed"
SENDERS = ("bokeh.server.views.ws", "panel.io.document")


class _ClosedPageSends(logging.Filter):
    """Drops CLOSED_SEND (logged again here, at debug level); passes every other record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage() == CLOSED_SEND:
            log.debug("a message to a closed page was not sent (the page had closed)")
            return False
        return True


_CLOSED_SENDS = _ClosedPageSends()


def is_closed_page_write(context: dict[str, Any]) -> bool:
    """A write to a websocket that had closed, whose failure nobody retrieved."""
    return isinstance(context.get("exception"), WebSocketClosedError | StreamClosedError)


def quiet_closed_page_writes(loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Install the handler on `loop` (the running or current one), once per loop, and the
    filter on Bokeh's and Panel's senders, once per process."""
    for name in SENDERS:
        sender = logging.getLogger(name)
        if _CLOSED_SENDS not in sender.filters:
            sender.addFilter(_CLOSED_SENDS)
    if loop is None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a script, a test without a server): nothing writes to a page
    previous = loop.get_exception_handler()
    if getattr(previous, "quiet_closed_page_writes", False):
        return

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if is_closed_page_write(context):
            log.debug("a write to a closed page failed (the page had closed)")
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    handler.quiet_closed_page_writes = True  # type: ignore[attr-defined]
    loop.set_exception_handler(handler)
