"""A whole sweep: run what the journal lacks, report progress, and return the results table."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.sweep.cluster import DEFAULT_TIMEOUT_S, execute, open_client
from engine.sweep.grid import Run, Sweep
from engine.sweep.journal import Journal
from engine.sweep.results import results_frame


@dataclass
class Progress:
    """What a progress display shows; `cached` runs came from the journal."""

    total: int
    done: int
    cached: int
    workers: int
    elapsed_s: float


ProgressFn = Callable[[Progress], None]


@dataclass
class SweepOutcome:
    """The results table and how it came about."""

    frame: Any  # pandas.DataFrame
    total: int
    cached: int
    ran: int
    elapsed_s: float
    journal: Path | None


def run_sweep(
    sweep: Sweep,
    *,
    journal: Journal | None = None,
    client: Any = None,
    address: str | None = None,
    workers: int | None = None,
    progress: ProgressFn | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    no_worker_grace_s: float = 30.0,
    cancel: threading.Event | None = None,
) -> SweepOutcome:
    """Run the runs the journal lacks (on `client`, or a cluster opened for the purpose) and
    return the results table in grid order. Without a journal every run is run."""
    start = time.monotonic()
    runs = sweep.runs()
    unique = {r.key: r for r in runs}
    done = {k: v for k, v in (journal.load() if journal else {}).items() if k in unique}
    cached = len(done)
    todo = [r for k, r in unique.items() if k not in done]
    state = {"workers": 0}

    def report() -> None:
        if progress is not None:
            elapsed = time.monotonic() - start
            progress(Progress(len(unique), len(done), cached, state["workers"], elapsed))

    def on_result(run: Run, record: dict[str, Any]) -> None:
        if journal is not None:
            journal.append(run.key, record)
        done[run.key] = record["summary"]
        report()

    report()
    if todo:
        with _client_or(client, address, workers) as c:
            state["workers"] = len(c.nthreads(callback_timeout=10))
            report()
            execute(
                todo,
                c,
                on_result,
                timeout_s=timeout_s,
                no_worker_grace_s=no_worker_grace_s,
                cancel=cancel,
            )
    frame = results_frame(sweep, done)
    return SweepOutcome(
        frame,
        len(unique),
        cached,
        len(todo),
        time.monotonic() - start,
        journal.path if journal else None,
    )


@contextmanager
def _client_or(client: Any, address: str | None, workers: int | None) -> Iterator[Any]:
    if client is not None:
        yield client
    else:
        with open_client(address, workers) as c:
            yield c
