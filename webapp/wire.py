"""The session's websocket as TCP sees it: send each frame's message at once, in one piece.

Bokeh writes one message as several websocket frames (header, metadata, content, and two per
binary buffer). Measured on this machine during playback:
- with Nagle's algorithm on, the second write waits for the browser's delayed ACK: every
  frame arrived ~40 ms late (TCP_NODELAY fixes it);
- with TCP_NODELAY alone, each write is its own packet, and on loopback the sender pays for
  delivering it (~25 writes per frame, up to 1 ms each on a loaded host).
So the socket gets TCP_NODELAY, and a frame's writes are corked (Linux TCP_CORK): queued by the
kernel and sent together when uncorked. Everything here is best effort: it reaches into
Bokeh's and Tornado's private attributes, and without them the app is only slower.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)
_CORK = getattr(socket, "TCP_CORK", None)


def session_sockets(doc: Any) -> list[socket.socket]:
    """The TCP sockets of the websockets connected to this document's session."""
    session = getattr(getattr(doc, "session_context", None), "_session", None)
    out = []
    for connection in list(getattr(session, "_subscribed_connections", ()) or ()):
        handler = getattr(connection, "_socket", None)
        stream = getattr(getattr(handler, "ws_connection", None), "stream", None)
        sock = getattr(stream, "socket", None)
        if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
            out.append(sock)
    return out


def no_delay(doc: Any) -> None:
    """TCP_NODELAY on the session's websockets."""
    for sock in session_sockets(doc):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


@contextlib.contextmanager
def corked(doc: Any) -> Iterator[None]:
    """Writes inside the block leave as few packets as possible when it ends."""
    socks = session_sockets(doc) if _CORK is not None and doc is not None else []
    for sock in socks:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, _CORK, 1)
    try:
        yield
    finally:
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, _CORK, 0)
