"""The clairvoyant oracle: exact next uses, Belady's victims, prefetch before use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from engine.device import PREFETCH_READ
from engine.policies import validate_policy
from engine.policies.oracle import Oracle, _Window
from engine.policies.oracle_reads import FAR
from engine.pool import DIRTY
from engine.scenario import from_dict, load_scenario, with_overrides
from engine.simulator import Simulation, baseline_references
from engine.workloads import RefStream, stream_seed


def test_window_next_uses_match_a_scan() -> None:
    """A window's first uses, and after each move of the stream position the next uses of the
    pages just referenced, are the first occurrences a plain scan finds; no other page moves."""
    rng = np.random.default_rng(1)
    for pages in (50, 70_000):  # pages that recur often, and seldom
        rel = rng.integers(0, pages, size=2000)
        if pages > 50:
            rel[::7] = rng.integers(0, 50, size=rel[::7].size)  # some pages recur
        nxt = np.full(pages, -3, dtype=np.int64)  # a new window sets every page's next use
        win = _Window(1000, rel, nxt)

        def scan(page: int, pos: int, rel: np.ndarray = rel) -> int:
            hits = np.flatnonzero(rel[pos - 1000 :] == page)
            return pos + int(hits[0]) if hits.size else FAR

        for page in range(pages):
            assert nxt[page] == scan(page, 1000)
        old = 1000
        for pos in (1000, 1001, 1500, 1501, 2200, 2999):
            win.advance(old, pos, nxt)
            for page in np.unique(np.concatenate([rel, np.arange(50)])).tolist():
                assert nxt[page] == scan(page, pos)
            old = pos


def scenario(**over: Any) -> dict[str, Any]:
    vm = {
        "memory_mib": 4,
        "workload": {"kind": "zipf", "pages": 700, "zipf_alpha": 0.7, "cpu_ns_per_ref": 500},
    }
    data: dict[str, Any] = {
        "name": "oracle",
        "seed": 4,
        "duration_ms": 120.0,
        "host": {"pcpus": 2, "memory_mib": 10, "swap_mib": 256},
        "scheduler": {"kind": "rr", "slice_ms": 5.0},
        "recording": {"enabled": False},
        "vms": [{"name": n, **vm} for n in "abcd"],
    }
    data.update(over)
    return data


def run(policy: dict[str, Any], steps: int | None = None, **over: Any) -> Simulation:
    sim = Simulation(from_dict(scenario(**over)), validate_policy(policy), record=False)
    sim.run(until=sim.end_ns if steps is None else steps * sim.step_ns)
    return sim


def test_victims_are_the_pages_used_farthest_in_the_future() -> None:
    """Victims come from the pages used farthest in the future (8 candidates per victim, a
    dirty page's next use brought forward by the write its eviction costs), clean ones
    first: every clean page among those candidates goes before any dirty one."""
    sim = run({"name": "oracle"}, steps=50)
    oracle: Oracle = sim.policy  # type: ignore[assignment]
    pool = sim.pool
    write_ns = sim.device.service_ns(1)

    def cost(pages: np.ndarray) -> np.ndarray:
        dirty = pool.state[pages] == DIRTY
        return oracle.keys(pages, sim.now_ns) - np.where(dirty, write_ns, 0)

    cand = np.flatnonzero((pool.state >= 1) & (pool.state <= 3))
    keys = cost(cand)
    n = 40
    chosen = np.sort(oracle.victims(n, sim.now_ns))
    assert chosen.size == n
    threshold = np.sort(keys)[::-1][8 * n - 1]
    assert cost(chosen).min() >= threshold
    top = cand[keys > threshold]
    clean_top = top[pool.state[top] != DIRTY]
    if (pool.state[chosen] == DIRTY).any():
        assert np.isin(clean_top, chosen).all()


def test_looking_ahead_does_not_change_the_streams() -> None:
    """The oracle reads ahead in the same streams without disturbing them (common random
    numbers): the window holds exactly what a fresh stream produces."""
    sim = run({"name": "oracle"}, steps=30)
    oracle: Oracle = sim.policy  # type: ignore[assignment]
    for v, vc in enumerate(sim.vcpus):
        win = oracle.windows[v]
        assert win is not None
        vm = sim.scenario.vms[vc.vm]
        fresh = RefStream(vm.workload, sim.scenario.vm_pages(vm), stream_seed(4, vm.name, 0))
        pages, _ = fresh.take(0, win.start + win.size)
        assert np.array_equal(pages[win.start :], win.rel)


def test_the_oracle_is_the_lower_bound_here() -> None:
    """On a scenario whose plan is right, the oracle loses less time (stall plus gating wait)
    than demand paging and predictive, takes fewer faults and runs faster than demand paging,
    and its prefetches are nearly all used."""
    base = baseline_references(from_dict(scenario()))
    runs = {}
    for name in ("demand", "predictive", "oracle"):
        runs[name] = run({"name": name}).finish(base).summary
    for name in ("demand", "predictive"):
        assert runs["oracle"]["lost_time_ns"] < runs[name]["lost_time_ns"]
    assert runs["oracle"]["major_faults"] < runs["demand"]["major_faults"]
    assert runs["oracle"]["slowdown"] < runs["demand"]["slowdown"]
    assert runs["oracle"]["prefetch_accuracy"] > 0.85


def test_prefetch_reads_run_as_a_few_streams() -> None:
    """Concurrent reads share the device's bandwidth, so prefetch reads run as a few streams,
    one read after another on each: never more in service at once than there are streams,
    far fewer than the lanes free of demand reads, and nearly every page lands before use."""
    sim = Simulation(from_dict(scenario()), validate_policy({"name": "oracle"}), record=False)
    oracle: Oracle = sim.policy  # type: ignore[assignment]
    spans: list[tuple[int, int]] = []
    sim.device.compiled_dispatch = False  # every start through _start, noted here
    start = sim.device._start

    def note(op: Any, lane: int, start_ns: int) -> None:
        start(op, lane, start_ns)
        if op.cls == PREFETCH_READ:
            spans.append((op.start_ns, op.done_ns))

    sim.device._start = note  # type: ignore[method-assign]
    sim.run(until=sim.end_ns)
    begin = np.array([s for s, _ in spans])
    end = np.array([e for _, e in spans])
    most = max(int(np.count_nonzero((begin <= t) & (end > t))) for t in begin.tolist())
    assert 1 <= most <= oracle.reads.streams < oracle.reads.spare_lanes.size // 8
    c = sim.counters
    assert c.prefetch_late.sum() < 0.01 * c.prefetch_issued.sum()


def test_without_prefetch_it_is_belady_victims_only() -> None:
    """prefetch_ms = 0: no prefetch reads; pages come in only with faults (the faulting page
    and the next ones its stream touches)."""
    sim = run({"name": "oracle", "prefetch_ms": 0.0})
    c = sim.counters
    assert sim.device.pages_done[PREFETCH_READ] == 0
    assert c.prefetch_issued.sum() == c.readahead_pages.sum() > 0


def test_pruned_prefetch_planning_decides_as_the_whole_one(monkeypatch) -> None:
    """Looking at only the pages the reads of a step can carry (a capped scan per vCPU, a sort
    of the first few) gives the same run, counter for counter, as planning over every
    swapped page of the horizon."""
    path = Path(__file__).resolve().parents[2] / "scenarios" / "nvme_8vm_2x.toml"
    scenario = with_overrides(load_scenario(path), ["duration_ms=150"])

    def run() -> tuple[dict[str, Any], list[dict[str, Any]], int]:
        sim = Simulation(scenario, {"name": "oracle"}, record=False)
        result = sim.run(with_baseline=False)
        return result.summary, result.vms, int(sim.counters.prefetch_issued.sum())

    pruned = run()
    monkeypatch.setattr(Oracle, "prune", False)
    whole = run()
    assert pruned[2] > 1000  # the planning was put to work
    assert pruned == whole
