"""Sweeps: a grid of scenario variants (axes × seeds) run as Dask tasks, journalled, resumable.

Every run is keyed by a hash of its full, validated scenario. Finished runs go to an append-only
journal, so an interrupted sweep resumes, and the results table is a function of the sweep file
alone, whatever the number of workers or the order of completion. Dask and pandas are imported
only inside the functions that use them: the engine core and the Dask tasks need neither.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import logging
import os
import queue
import threading
import time
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import ScenarioError, VmswapError, did_you_mean
from engine.scenario import from_dict, load_scenario, parse_value, set_path
from engine.simulator import simulate

SPECIAL = ("policy", "vm_count", "overcommit")
TOP_KEYS = ("name", "description", "base", "seeds", "set", "axes", "metrics")
DEFAULT_METRICS = (
    "slowdown",
    "major_faults",
    "stall_fraction",
    "swap_in_pages",
    "swap_out_pages",
    "references",
)
MAX_RUNS = 100_000
MAX_VMS = 256  # the schema's own limit on [[vms]]
KEY_VERSION = "vmswap-run-1"  # change to invalidate every journal when a run's meaning changes
DEFAULT_TIMEOUT_S = 900.0


class SweepError(VmswapError, ValueError):
    """A sweep file, or a sweep built in the web app, holds a value it cannot use."""

    def __init__(self, message: str, *, source: str | None = None, field: str | None = None):
        self.source = source
        self.field = field
        prefix = ": ".join(p for p in (source, field) if p)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class ClusterError(VmswapError):
    """The cluster could not finish the sweep: unreachable, no workers, a worker died."""


class SweepCancelled(VmswapError):
    """The caller asked the sweep to stop; finished runs stay in the journal."""


def known_metrics() -> list[str]:
    """Every key of a run's summary that a sweep can keep."""
    from engine.device import CLASS_NAMES
    from engine.metrics import COUNTERS, derived

    names = [*COUNTERS, *derived(dict.fromkeys(COUNTERS, 0), 1.0), "sim_time_ns"]
    names += ["device_utilisation", *(f"device_{n}_pages" for n in CLASS_NAMES)]
    return list(dict.fromkeys(names))


# -- the sweep and its runs ------------------------------------------------------------------


@dataclass(frozen=True)
class Axis:
    """One varied quantity: a special name (policy, vm_count, overcommit) or a scenario path."""

    name: str
    values: tuple[Any, ...]
    labels: tuple[Any, ...]  # what the results column shows for each value


@dataclass(frozen=True)
class Run:
    """One simulation: its key (hash of the full scenario), its column values and scenario."""

    key: str
    labels: dict[str, Any]
    scenario: dict[str, Any]

    def describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.labels.items())


@dataclass
class Sweep:
    """A validated sweep: the base scenario as a dict, fixed settings, axes, seeds, metrics."""

    name: str
    source: str
    base: dict[str, Any]
    fixed: dict[str, Any]
    axes: tuple[Axis, ...]
    seeds: tuple[int, ...]
    metrics: tuple[str, ...]
    description: str = ""
    _runs: list[Run] | None = field(default=None, repr=False)

    @property
    def n_runs(self) -> int:
        n = len(self.seeds)
        for a in self.axes:
            n *= len(a.values)
        return n

    @property
    def columns(self) -> list[str]:
        """Columns of the results table, in order."""
        names = [a.name for a in self.axes if a.name not in ("policy", "vm_count")]
        return ["run", "policy", "vm_count", *names, "seed", *self.metrics]

    def runs(self) -> list[Run]:
        """Every run in grid order (axes as in the file, seeds innermost), each validated."""
        if self._runs is None:
            self._runs = list(_expand(self))
        return self._runs


def run_key(scenario: Mapping[str, Any]) -> str:
    """A stable hash of a validated scenario dict (policy and seed included)."""
    text = json.dumps(scenario, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(f"{KEY_VERSION}\n{text}".encode()).hexdigest()[:20]


def make_run(scenario: Mapping[str, Any], labels: dict[str, Any]) -> Run:
    """Validate a scenario dict into a Run (ScenarioError if it is not a valid scenario)."""
    canonical = from_dict(scenario).to_dict()
    return Run(run_key(canonical), labels, canonical)


# -- applying axis values to a scenario dict -------------------------------------------------


def assign(data: dict[str, Any], path: str, value: Any) -> None:
    """set_path, plus one `[*]` wildcard: `vms[*].memory_mib` sets it in every VM."""
    head, star, tail = path.partition("[*]")
    if not star:
        set_path(data, path, copy.deepcopy(value))
        return
    node: Any = data
    if head:
        for part in head.split("."):
            node = node.get(part) if isinstance(node, dict) else None
    if not isinstance(node, list):
        raise ScenarioError(f"{head!r} is not a list, so [*] cannot apply", field=path)
    for i in range(len(node)):
        assign(data, f"{head}[{i}]{tail}", value)


def set_vm_count(data: dict[str, Any], n: int) -> None:
    """Keep the first n VMs, or replicate the list in turn (`web`, `db`, `web-2`, `db-2`, …)."""
    vms = data["vms"]
    base = len(vms)
    if n <= base:
        data["vms"] = vms[:n]
        return
    names = {vm["name"] for vm in vms}
    out = list(vms)
    for i in range(base, n):
        clone = copy.deepcopy(vms[i % base])
        name = f"{clone['name']}-{i // base + 1}"
        while name in names:
            name += "x"
        clone["name"] = name
        names.add(name)
        out.append(clone)
    data["vms"] = out


def set_overcommit(data: dict[str, Any], ratio: float) -> None:
    """Size host memory so that the VMs' total memory is `ratio` times it."""
    total = sum(int(vm.get("memory_mib", 1024)) for vm in data["vms"])
    data.setdefault("host", {})["memory_mib"] = max(1, round(total / ratio))


def set_policy(data: dict[str, Any], value: str | Mapping[str, Any]) -> None:
    """A name keeps the base's switches when it names the base's policy (as `simulate` does);
    a table replaces the policy table."""
    if isinstance(value, str):
        current = data.get("policy") or {}
        data["policy"] = dict(current) if current.get("name") == value else {"name": value}
    else:
        data["policy"] = {k: v for k, v in value.items() if k != "label"}


def build(base: Mapping[str, Any], settings: Mapping[str, Any]) -> dict[str, Any]:
    """The base with settings applied in a fixed order: vm_count (so `vms[i]` paths refer to
    the final list and `vms[*]` reaches the replicas), the policy (so `policy.x` paths refine
    it), the scenario paths, then overcommit (which needs the final VM sizes)."""
    data = copy.deepcopy(dict(base))
    if "vm_count" in settings:
        set_vm_count(data, settings["vm_count"])
    if "policy" in settings:
        set_policy(data, settings["policy"])
    for path, value in settings.items():
        if path not in SPECIAL:
            assign(data, path, value)
    if "overcommit" in settings:
        set_overcommit(data, settings["overcommit"])
    return data


# -- reading a sweep file --------------------------------------------------------------------


def load_sweep(path: str | Path) -> Sweep:
    """Read and validate a sweep file; `base` is relative to the sweep file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SweepError("no such sweep file", source=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SweepError(f"cannot read: {exc}", source=str(path)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SweepError(f"not valid TOML: {exc}", source=str(path)) from None
    data.setdefault("name", p.stem)
    return sweep_from_dict(data, source=str(path), base_dir=p.parent)


def sweep_from_dict(
    data: Mapping[str, Any], *, source: str = "<sweep>", base_dir: str | Path = "."
) -> Sweep:
    """Validate a parsed sweep (file, web form) into a Sweep, or raise one SweepError."""

    def fail(message: str, where: str | None = None) -> SweepError:
        return SweepError(message, source=source, field=where)

    if not isinstance(data, Mapping):
        raise fail("a sweep must be a table")
    for key in data:
        if key not in TOP_KEYS:
            hint = did_you_mean(str(key), TOP_KEYS)
            raise fail(f"unknown key{hint}; allowed: {', '.join(TOP_KEYS)}", str(key))
    name = data.get("name", "sweep")
    description = data.get("description", "")
    if not isinstance(name, str) or not isinstance(description, str):
        raise fail("expected a string", "name" if not isinstance(name, str) else "description")
    base_path = data.get("base")
    if not isinstance(base_path, str) or not base_path:
        raise fail("expected the path of a scenario file (relative to the sweep file)", "base")
    full = Path(base_dir) / base_path
    try:
        base = load_scenario(full).to_dict()
    except ScenarioError as exc:
        raise fail(f"the base scenario is not usable: {exc}", "base") from None

    fixed = _flatten(_table(data.get("set", {}), "set", fail), "set")
    axes_raw = _flatten(_table(data.get("axes", {}), "axes", fail), "axes")
    for where, value in axes_raw.items():
        if not isinstance(value, list):
            raise fail(f"expected a list of values, found {type(value).__name__}", where)
    settings = {k.removeprefix("set."): v for k, v in fixed.items()}
    for key, value in settings.items():
        _check_special(key, value, f"set.{key}", fail)
    try:
        fixed_base = build(base, settings)
        from_dict(fixed_base)
    except ScenarioError as exc:
        raise fail(str(exc), "set") from None

    axes = tuple(
        _axis(where.removeprefix("axes."), values, where, fixed_base, settings, fail)
        for where, values in axes_raw.items()
    )
    seeds = _seeds(data.get("seeds", [base.get("seed", 1)]), fail)
    metrics = _metrics(data.get("metrics", list(DEFAULT_METRICS)), fail)
    sweep = Sweep(name, source, base, settings, axes, seeds, metrics, description)
    if sweep.n_runs > MAX_RUNS:
        raise fail(f"{sweep.n_runs:,} runs is more than the {MAX_RUNS:,} a sweep may hold", "axes")
    return sweep


def _table(value: Any, where: str, fail: Callable[..., SweepError]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise fail(f"expected a table, found {type(value).__name__}", where)
    return value


def _flatten(table: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """Nested tables to dotted paths: `[axes] device.preset = [...]` is `axes.device.preset`.
    A top-level `policy` table stays whole: it is a value, not a group of paths."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        path = f"{prefix}.{key}"
        if isinstance(value, Mapping) and key == "policy" and prefix in ("set", "axes"):
            out[path] = dict(value)
        elif isinstance(value, Mapping):
            out.update(_flatten(value, path))
        else:
            out[path] = value
    return out


def _check_special(name: str, value: Any, where: str, fail: Callable[..., SweepError]) -> None:
    if name == "seed":
        raise fail("vary the seed with the top-level `seeds` list", where)
    if name == "vm_count" and (
        isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_VMS
    ):
        raise fail(f"{value!r} is not allowed; expected an integer from 1 to {MAX_VMS}", where)
    if name == "overcommit" and (
        isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1000
    ):
        raise fail(f"{value!r} is not allowed; expected a number above 0 and up to 1000", where)
    if name == "policy" and not isinstance(value, str | Mapping):
        raise fail(f"{value!r} is not allowed; expected a policy name or a table", where)


def policy_label(value: str | Mapping[str, Any]) -> str:
    """`demand`, or `demand:victims=random` for a table (its own `label` wins)."""
    if isinstance(value, str):
        return value
    if "label" in value:
        return str(value["label"])
    switches = [f"{k}={v}" for k, v in value.items() if k not in ("name", "label")]
    return ":".join([str(value.get("name", "demand")), *switches])


def parse_policy_spec(text: str) -> dict[str, Any]:
    """`NAME[:KEY=VALUE…]` (the CLI's and the web form's syntax) as a policy table with a label."""
    name, *switches = (part.strip() for part in text.strip().split(":"))
    table: dict[str, Any] = {"name": name, "label": text.strip()}
    for s in switches:
        key, sep, value = s.partition("=")
        if not sep or not key.strip():
            raise SweepError(f"{text!r}: expected NAME or NAME:KEY=VALUE[:KEY=VALUE…]")
        table[key.strip()] = parse_value(value.strip())
    return table


def _label(value: Any) -> Any:
    if isinstance(value, bool | int | float | str):
        return value
    return json.dumps(value, sort_keys=True)


def _axis(
    name: str,
    values: list[Any],
    where: str,
    fixed_base: dict[str, Any],
    settings: Mapping[str, Any],
    fail: Callable[..., SweepError],
) -> Axis:
    if not values:
        raise fail("an axis needs at least one value", where)
    if name == "seed":
        raise fail("vary the seed with the top-level `seeds` list", where)
    if name in ("name", "description") or name.startswith("recording"):
        raise fail("this field does not change a run's results; it cannot be an axis", where)
    for i, v in enumerate(values):
        _check_special(name, v, f"{where}[{i}]", fail)
    if name == "policy":
        labels = tuple(policy_label(v) for v in values)
        stored = tuple(v if isinstance(v, str) else dict(v) for v in values)
    else:
        kinds = {
            "number" if isinstance(v, int | float) and not isinstance(v, bool) else type(v).__name__
            for v in values
        }
        if len(kinds) > 1:
            raise fail(f"values mix {' and '.join(sorted(kinds))}; use one kind per axis", where)
        labels = tuple(_label(v) for v in values)
        stored = tuple(values)
    seen: set[Any] = set()
    for i, label in enumerate(labels):
        if label in seen:
            raise fail(f"{label!r} is listed twice", f"{where}[{i}]")
        seen.add(label)
    # Each value alone on the base: the message can name the axis and the value.
    for i, v in enumerate(stored):
        try:
            from_dict(build(fixed_base, {**_specials(settings), name: v}))
        except ScenarioError as exc:
            raise fail(f"{labels[i]!r} does not make a valid scenario: {exc}", where) from None
    return Axis(name, stored, labels)


def _specials(settings: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in settings.items() if k in SPECIAL}


def _seeds(value: Any, fail: Callable[..., SweepError]) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        if not 1 <= value <= MAX_RUNS:
            raise fail(f"{value} is not allowed; expected a count from 1 to {MAX_RUNS}", "seeds")
        return tuple(range(1, value + 1))
    if not isinstance(value, list) or not value:
        raise fail("expected a count (seeds 1..N) or a non-empty list of seeds", "seeds")
    for i, s in enumerate(value):
        if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s < 2**63:
            allowed = "expected an integer from 0 to 2**63-1"
            raise fail(f"{s!r} is not allowed; {allowed}", f"seeds[{i}]")
        if value.index(s) != i:
            raise fail(f"{s} is listed twice", f"seeds[{i}]")
    return tuple(value)


def _metrics(value: Any, fail: Callable[..., SweepError]) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise fail("expected a non-empty list of summary metrics", "metrics")
    known = known_metrics()
    for i, m in enumerate(value):
        if m not in known:
            hint = did_you_mean(str(m), known)
            raise fail(f"unknown metric {m!r}{hint}; allowed: {', '.join(known)}", f"metrics[{i}]")
    return tuple(dict.fromkeys(value))


def _expand(sweep: Sweep) -> Iterator[Run]:
    default_policy = policy_label(sweep.fixed.get("policy", sweep.base["policy"]["name"]))
    others = [a.name for a in sweep.axes if a.name not in ("policy", "vm_count")]
    for combo in itertools.product(*(range(len(a.values)) for a in sweep.axes)):
        point = dict(sweep.fixed)
        chosen: dict[str, Any] = {"policy": default_policy}
        for axis, i in zip(sweep.axes, combo, strict=True):
            point[axis.name] = axis.values[i]
            chosen[axis.name] = axis.labels[i]
        try:
            data = from_dict(build(sweep.base, point)).to_dict()
        except ScenarioError as exc:
            at = ", ".join(f"{k}={chosen[k]}" for k in chosen if k in point)
            raise SweepError(f"at {at}: {exc}", source=sweep.source, field="axes") from None
        labels = {"policy": chosen["policy"], "vm_count": len(data["vms"])}
        labels.update((name, chosen[name]) for name in others)
        for seed in sweep.seeds:
            scenario = {**copy.deepcopy(data), "seed": seed}
            yield Run(run_key(scenario), {**labels, "seed": seed}, scenario)


# -- the Dask task ---------------------------------------------------------------------------


def run_one(scenario: dict[str, Any]) -> dict[str, Any]:
    """The task a worker runs: simulate one validated scenario dict; JSON-ready dicts back."""
    start = time.perf_counter()
    result = simulate(from_dict(scenario), None, record=False)
    return {"summary": result.summary, "elapsed_s": round(time.perf_counter() - start, 6)}


# -- the journal of finished runs ------------------------------------------------------------


def journal_path(out: str | Path) -> Path:
    """Where the journal of a results file lives: `results.parquet` → `results.runs.jsonl`."""
    return Path(out).with_suffix(".runs.jsonl")


class Journal:
    """Append-only JSON lines, one per finished run: {"run": key, "summary": {…}, …}.

    A line cut short by a kill is skipped on reading and never glued to the next one."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    def load(self) -> dict[str, dict[str, Any]]:
        """Summaries of the finished runs by key (the first record of a key wins)."""
        done: dict[str, dict[str, Any]] = {}
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return done
        for line in lines:
            try:
                record = json.loads(line)
                done.setdefault(str(record["run"]), dict(record["summary"]))
            except (ValueError, KeyError, TypeError):
                continue
        return done

    def append(self, key: str, record: Mapping[str, Any]) -> None:
        line = json.dumps({"run": key, **record}, sort_keys=True) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("ab") as f:
                if f.tell() > 0 and not self._ends_with_newline():
                    f.write(b"\n")
                f.write(line.encode("utf-8"))

    def _ends_with_newline(self) -> bool:
        with self.path.open("rb") as f:
            f.seek(-1, os.SEEK_END)
            return f.read(1) == b"\n"

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


# -- running runs on a Dask cluster ----------------------------------------------------------


@dataclass
class Progress:
    """What a progress display shows; `cached` runs came from the journal."""

    total: int
    done: int
    cached: int
    workers: int
    elapsed_s: float


ProgressFn = Callable[[Progress], None]


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


# -- a whole sweep ---------------------------------------------------------------------------


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


def results_frame(sweep: Sweep, summaries: Mapping[str, Mapping[str, Any]]) -> Any:
    """One row per grid point, in grid order: run key, axis labels, seed, kept metrics."""
    import pandas as pd

    rows = []
    for run in sweep.runs():
        summary = summaries[run.key]
        rows.append({"run": run.key, **run.labels, **{m: summary.get(m) for m in sweep.metrics}})
    return pd.DataFrame(rows, columns=sweep.columns)


def check_out_path(out: str | Path) -> Path:
    p = Path(out)
    if p.suffix not in (".parquet", ".csv"):
        raise SweepError(f"{out}: the results file must end in .parquet or .csv", field="--out")
    return p


def write_results(frame: Any, out: str | Path) -> Path:
    """Write the table as Parquet or CSV (by suffix), atomically."""
    p = check_out_path(out)
    tmp = p.with_name(p.name + ".tmp")
    if p.suffix == ".parquet":
        frame.to_parquet(tmp, index=False)
    else:
        frame.to_csv(tmp, index=False)
    os.replace(tmp, p)
    return p
