"""The compiled hot path: same numbers with and without the compiler, and a warm cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from engine import simulate
from tests.conftest import ROOT
from tests.helpers import small_scenario

# Run in a child with the JIT off (numba reads NUMBA_DISABLE_JIT once, at import).
INTERPRETED = """
import json, sys
sys.path.insert(0, {root!r})
from tests.helpers import small_scenario
from engine import simulate
import engine.hotpath.kernels as k
assert not hasattr(k.run_references, "signatures"), "the kernels were compiled"
r = simulate(small_scenario(duration_ms=30.0), {policy!r}, record=False)
print(json.dumps(r.to_json(), sort_keys=True))
"""


def _interpreted(policy: str) -> dict:
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1", "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", INTERPRETED.format(root=str(ROOT), policy=policy)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=True,
    )
    return json.loads(out.stdout)


ADAPTIVE = {"name": "demand", "readahead": "adaptive"}


@pytest.mark.parametrize(
    "policy", ["demand", "oracle", "predictive", "schedule-oracle", "leap", ADAPTIVE]
)
def test_interpreted_kernels_give_the_compiled_summary(policy: str | dict) -> None:
    """With NUMBA_DISABLE_JIT=1 the kernels run as plain Python and every figure is the same,
    for demand paging's and each policy's own kernels (their bit counts included)."""
    compiled = simulate(small_scenario(duration_ms=30.0), policy, record=False)
    assert compiled.summary["major_faults"] > 0
    assert _interpreted(policy) == json.loads(json.dumps(compiled.to_json(), sort_keys=True))


def test_the_warm_module_compiles_every_kernel():
    """After engine.hotpath.warm every kernel the executor, the step loop, reclaim, the streams
    and the oracle call has a compiled signature."""
    from engine.hotpath import (
        adaptive_fault,
        clock,
        device_time,
        fewest_writes,
        first_touch,
        key_cut,
        lookahead,
        next_start,
        next_use,
        oldest,
        period_sets,
        position_cut,
        prefetch_plan,
        read_starts,
        reclaim,
        restore_sets,
        sampling,
        schedule_rank,
        shadow_lru,
        step_pcpus,
        steps,
        time_maps,
        touch_stamps,
        victim_rows,
    )
    from engine.hotpath import kernels as k
    from engine.hotpath.warm import warm

    warm()
    # (next_use.lower_to_next_use serves only Oracle.keys, the readable model tests compare to;
    # next_use.farthest_pages is key_cut's reference)
    streams = (sampling.zipf_ranks, sampling.mixture_parts, first_touch.run_first_touches)
    # (next_use.use_times and planned_segments are the references of the compiled time maps
    # and prefetch plan, off the run path)
    oracle = (key_cut.farthest_above_cut, next_use.first_swapped, fewest_writes.fewest_writes)
    # (grows_strictly: compiled into plan_prefetch)
    # (lookahead.link_window: draw_window's reference, off the run path)
    oracle = (*oracle, lookahead.draw_window, lookahead.must_redraw, lookahead.coarse_shift)
    # (adaptive_fault.next_window: asked from Python by the readable model of readahead)
    streams = (*streams, adaptive_fault.next_window)
    oracle = (*oracle, time_maps.build_time_maps)
    oracle = (*oracle, time_maps.measure_rates, time_maps.slot_offsets)
    plans = ("reach_horizon", "plan_prefetch", "read_ops", "settle_ahead", "forget_ahead")
    oracle = (*oracle, *(getattr(prefetch_plan, n) for n in plans))
    oracle = (*oracle, read_starts.start_times, read_starts.count_startable)
    oracle = (*oracle, position_cut.farthest_by_position)
    # (victim_rows.vcpus_to_look_at: compiled into look_and_catch_up)
    oracle = (*oracle, victim_rows.look_and_catch_up, victim_rows.fill_rows)
    reclaim_kernels = (reclaim.take_kept, reclaim.evict_pages, reclaim.finish_writes)
    reclaim_kernels = (*reclaim_kernels, reclaim.reclaim_kept, device_time.dispatch_queued)
    # (radix_sort is compiled into oldest_pages, its caller on these paths)
    victim_kernels = (clock.clock_victims, oldest.oldest_pages, schedule_rank.ranked_pages)
    victim_kernels = (*victim_kernels, schedule_rank.set_ranked_pages)
    predictive = (touch_stamps.stamp_touches, period_sets.slide_window, shadow_lru.shadow_step)
    restores = ("recent_swapped", "recent_swapped_size", "set_first_restore")
    restores = (*restores, "set_first_restore_size", "count_in_state")
    predictive = (*predictive, *(getattr(restore_sets, n) for n in restores))
    predictive = (*predictive, next_start.next_planned_starts)
    # (the policies' own fault reads, stream_fault's and trend_fault's: compiled into
    # run_references, their caller)
    for kernel in (
        k.run_references,
        k.clear_marks,
        steps.run_steps,
        step_pcpus.run_pcpus,
        *reclaim_kernels,
        *victim_kernels,
        *streams,
        *oracle,
        *predictive,
    ):
        assert kernel.signatures, f"{kernel.py_func.__name__} was not compiled"


@pytest.mark.parametrize("victims", ["lru", "fifo"])
def test_reclaim_in_the_kernel_agrees_with_the_model(monkeypatch, victims):
    """Direct reclaim done by the kernel (victims from the kept list, dirty ones written)
    gives exactly the per-reference model's figures and slices."""
    from engine.hotpath import window

    started = []
    real = window.put_writes_in_flight

    def counting(sim, ops, op_pages, n):
        started.append(n)
        real(sim, ops, op_pages, n)

    monkeypatch.setattr(window, "put_writes_in_flight", counting)
    s = small_scenario(duration_ms=60.0, policy={"name": "demand", "victims": victims})
    fast = simulate(s, executor="fast", record=False)
    assert sum(started) > 0, "the kernel started no write"
    ref = simulate(s, executor="reference", record=False)
    assert fast.summary == ref.summary and fast.vms == ref.vms
    assert [(x.pcpu, x.vcpu, x.start_ns, x.end_ns) for x in fast.slices] == [
        (x.pcpu, x.vcpu, x.start_ns, x.end_ns) for x in ref.slices
    ]


def test_each_simulation_keeps_its_own_workspace_however_they_alternate():
    """The executor's buffers are found per simulation: two simulations asking in turn (the
    last one asked for is remembered) each get their own, every time."""
    from engine.hotpath.window import workspace
    from engine.simulator import Simulation

    a = Simulation(small_scenario(duration_ms=5.0), "demand", record=False).machine
    b = Simulation(small_scenario(duration_ms=5.0), "oracle", record=False).machine
    first_a, first_b = workspace(a), workspace(b)
    assert first_a is not first_b
    for _ in range(3):
        assert workspace(a) is first_a and workspace(a) is first_a
        assert workspace(b) is first_b
    assert first_a.pool is a.pool and first_b.pool is b.pool
