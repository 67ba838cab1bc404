"""Running runs on a Dask cluster: a client (a given scheduler or a LocalCluster), and `execute`,
whose every wait is bounded so that a dead worker or scheduler ends as a ClusterError naming the
run and the cause, never a hang. Dask is imported only inside the functions that use it.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from engine.errors import VmswapError
from engine.sweep.errors import ClusterError, SweepCancelled
from engine.sweep.grid import Run
from engine.sweep.task import run_one

DEFAULT_TIMEOUT_S = 900.0


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextmanager
def open_client(
    address: str | None = None,
    workers: int | None = None,
    *,
    connect_timeout_s: float = 10.0,
    worker_wait_s: float = 30.0,
) -> Iterator[Any]:
    """A Dask client: on the cluster at `address`, or on a new LocalCluster of `workers`
    processes (one thread each, no dashboard, listening on 127.0.0.1 only). Closed on exit."""
    from distributed import Client, LocalCluster

    if address:
        try:
            client = Client(address, timeout=connect_timeout_s, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ClusterError(
                f"cannot reach the Dask scheduler at {address} within {connect_timeout_s:g} s "
                f"({exc}); start one with `dask scheduler` and check the address"
            ) from None
        try:
            try:
                client.wait_for_workers(1, timeout=worker_wait_s)
            except TimeoutError:
                raise ClusterError(
                    f"the Dask scheduler at {address} has no workers after {worker_wait_s:g} s; "
                    f"start some with `dask worker {address}`"
                ) from None
            yield client
        finally:
            client.close(timeout=connect_timeout_s)
        return
    n = workers or default_workers()
    with (
        LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            # The scheduler's HTTP server (health, metrics) on a free local port (":0" would mean
            # every interface): on its default 8787, taken by any other cluster here, Dask warns and
            # moves it.
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster, set_as_default=False, timeout=connect_timeout_s) as client,
    ):
        try:
            client.wait_for_workers(n, timeout=max(60.0, worker_wait_s))
        except TimeoutError:
            raise ClusterError(f"the local cluster did not start {n} workers in 60 s") from None
        yield client


def execute(
    runs: Sequence[Run],
    client: Any,
    on_result: Callable[[Run, dict[str, Any]], None],
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    no_worker_grace_s: float = 30.0,
    poll_s: float = 1.0,
    cancel: threading.Event | None = None,
) -> None:
    """Run every run on the cluster, calling on_result(run, record) as each finishes.

    Never waits unbounded: a ClusterError names the run and the cause when a task fails, when
    a worker died under a run too often (Dask's KilledWorker), when no worker has been
    connected for no_worker_grace_s, when no run finished for timeout_s, or when the scheduler
    is gone."""
    unique = {r.key: r for r in runs}
    done_queue: queue.Queue[Any] = queue.Queue()
    futures: dict[str, tuple[Run, Any]] = {}
    for run in unique.values():
        fut = client.submit(run_one, run.scenario, key=f"vmswap-{run.key}", pure=False)
        fut.add_done_callback(done_queue.put)
        futures[fut.key] = (run, fut)
    total = len(futures)
    workers_at_start = _count_workers(client, 10.0)
    last_progress = time.monotonic()
    last_check = 0.0
    workers_gone_since: float | None = None
    try:
        while futures:
            if cancel is not None and cancel.is_set():
                raise SweepCancelled(f"cancelled after {total - len(futures)} of {total} runs")
            try:
                fut = done_queue.get(timeout=poll_s)
            except queue.Empty:
                now = time.monotonic()
                if now - last_check < 2.0:
                    continue
                last_check = now
                n_workers = _count_workers(client, 10.0)
                if n_workers == 0:
                    workers_gone_since = workers_gone_since or now
                    if now - workers_gone_since > no_worker_grace_s:
                        raise ClusterError(
                            f"no Dask worker has been connected for {no_worker_grace_s:g} s "
                            f"({workers_at_start} at the start): the workers died or were "
                            f"stopped, and none took their place; "
                            f"{total - len(futures)} of {total} runs finished"
                        ) from None
                else:
                    workers_gone_since = None
                if now - last_progress > timeout_s:
                    raise ClusterError(
                        f"no run finished in the last {timeout_s:g} s with {n_workers} workers "
                        f"connected: a worker may be stuck, or runs are slower than the "
                        f"timeout allows; {total - len(futures)} of {total} runs finished"
                    ) from None
                continue
            entry = futures.pop(fut.key, None)
            if entry is None:
                continue
            run = entry[0]
            if fut.status == "finished":
                try:
                    record = fut.result(timeout=60)
                except TimeoutError:
                    raise ClusterError(
                        f"run {run.key} ({run.describe()}) finished but its result could not "
                        "be fetched in 60 s: the worker holding it may have died"
                    ) from None
                on_result(run, record)
                last_progress = time.monotonic()
            elif fut.status == "cancelled":
                raise ClusterError(
                    f"run {run.key} ({run.describe()}) was cancelled by the cluster: the "
                    "scheduler restarted or this client lost its connection"
                )
            else:
                exc = fut.exception(timeout=10)
                finished = total - len(futures) - 1
                raise ClusterError(_task_failure(run, exc, finished, total)) from None
    finally:
        # Release, never wait: dropping the futures tells the scheduler (without blocking) that
        # no one wants the pending runs, and it forgets them. Client.cancel has no timeout.
        for _, fut in futures.values():
            fut.release()
        futures.clear()


def _count_workers(client: Any, timeout_s: float) -> int:
    try:
        return len(client.nthreads(callback_timeout=timeout_s))
    except Exception as exc:
        raise ClusterError(
            f"lost the Dask scheduler at {client.scheduler.address}: {type(exc).__name__}: {exc}"
        ) from None


def _task_failure(run: Run, exc: BaseException | None, finished: int, total: int) -> str:
    from distributed import KilledWorker

    where = f"run {run.key} ({run.describe()})"
    tail = f"; {finished} of {total} runs finished"
    if isinstance(exc, KilledWorker):
        last = getattr(exc.last_worker, "address", exc.last_worker)
        return (
            f"{where}: the worker running it died ({exc.allowed_failures + 1} time(s), last "
            f"{last}) and Dask gave up on it; a run needing more memory than a worker has, "
            f"or a worker killed from outside, does this{tail}"
        )
    if isinstance(exc, ImportError):
        return (
            f"{where}: a worker cannot import vmswap ({exc}); install the same version of "
            f"vmswap on every worker{tail}"
        )
    if isinstance(exc, VmswapError):
        return f"{where}: {exc}{tail}"
    return f"{where} failed on a worker: {type(exc).__name__}: {exc}{tail}"
