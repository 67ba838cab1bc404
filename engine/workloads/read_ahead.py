"""Drawing a stream's next block on a helper thread while its vCPU reads the one before.

A block's draws are numpy's generator and the compiled mapping onto pages
(engine/hotpath/sampling.py), and both let go of the interpreter lock: with a second core,
the draw of block i + 1 overlaps the simulation of block i's references (drawing was about a
seventh of `vmswap run scenarios/nvme_8vm_2x.toml`). A block is the same whoever draws it: a
stream's blocks are drawn in order under its lock, and the helper draws only the block that
comes next (`Blocks.draw_ahead`); a block it has not drawn yet, the reader draws itself.
"""

from __future__ import annotations

import os
import queue
import threading
from typing import Protocol


class DrawsAhead(Protocol):
    def draw_ahead(self, i: int) -> None: ...


def _more_than_one_core() -> bool:
    """Whether this process may run on two cores at once (a helper thread then pays)."""
    try:
        return len(os.sched_getaffinity(0)) > 1
    except AttributeError:  # no affinity on this platform
        return (os.cpu_count() or 1) > 1


class ReadAhead:
    """One helper thread per process, started on first use, serving every stream in turn.

    `enabled` is False on a single core (the draw would only change threads)."""

    def __init__(self) -> None:
        self.enabled = _more_than_one_core()
        self.requests: queue.Queue[tuple[DrawsAhead, int]] = queue.Queue()
        self.lock = threading.Lock()
        self.owner_pid = -1  # the process the helper thread runs in (a fork has none)

    def ask(self, blocks: DrawsAhead, i: int) -> None:
        """Have block i of blocks drawn soon, if it is then the next to draw."""
        if not self.enabled:
            return
        if self.owner_pid != os.getpid():
            self._start()
        self.requests.put((blocks, i))

    def _start(self) -> None:
        with self.lock:
            if self.owner_pid == os.getpid():
                return
            self.requests = queue.Queue()
            threading.Thread(target=self._serve, name="stream-read-ahead", daemon=True).start()
            self.owner_pid = os.getpid()

    def _serve(self) -> None:
        requests = self.requests
        while True:
            blocks, i = requests.get()
            try:
                blocks.draw_ahead(i)
            except Exception:  # not drawn ahead: the reader draws it itself
                pass
            finally:
                requests.task_done()

    def wait(self) -> None:
        """Return once every block asked for so far is drawn (or found drawn already)."""
        if self.owner_pid == os.getpid():
            self.requests.join()


READ_AHEAD = ReadAhead()
