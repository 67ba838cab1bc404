"""The oracle's time maps made for many vCPUs in one compiled call: each one exactly
`planned_segments`' map, whichever vCPUs are made first; rates as the numpy formula gives."""

from __future__ import annotations

import numpy as np
import pytest

from engine.hotpath.next_use import planned_segments
from engine.hotpath.time_maps import build_time_maps, measure_rates, slot_offsets


def _random_plan(rng, n_vcpus: int, n_slices: int, now_ns: int):
    vcpu = rng.integers(0, n_vcpus, size=n_slices).astype(np.int64)
    start = np.sort(rng.integers(now_ns - 5_000_000, now_ns + 90_000_000, size=n_slices))
    end = start + rng.integers(0, 30_000_000, size=n_slices)
    return vcpu, start.astype(np.int64), end.astype(np.int64)


@pytest.mark.parametrize("seed", range(6))
def test_each_map_is_planned_segments_whatever_is_made_first(seed: int) -> None:
    """Made in two batches (some vCPUs, then the rest), every vCPU's segments and cumulative
    capacities equal planned_segments' for it; a vCPU made already is not made again."""
    rng = np.random.default_rng(seed)
    n, now, made = 7, 50_000_000, 48_000_000
    plan_vcpu, plan_start, plan_end = _random_plan(rng, n, int(rng.integers(0, 40)), now)
    cpu = rng.integers(1, 3_000, size=n).astype(np.int64)
    runs = rng.random(n) < 0.4
    begin = rng.integers(now - 1_000_000, now + 1_000_000, size=n).astype(np.int64)
    end = begin + rng.integers(0, 30_000_000, size=n)
    slot_off = slot_offsets(plan_vcpu, n)
    starts = np.full(int(slot_off[-1]), -7, dtype=np.int64)
    cum = np.full(int(slot_off[-1]), -7, dtype=np.int64)
    seg_len = np.zeros(n, dtype=np.int64)
    built = np.zeros(n, dtype=np.bool_)
    first = rng.random(n) < 0.5
    for want in (first, np.ones(n, dtype=np.bool_)):
        build_time_maps(
            want, built, now, cpu, runs, begin, end, 2_000_000, plan_vcpu, plan_start,
            plan_end, made, slot_off, seg_len, starts, cum,
        )  # fmt: skip
    assert built.all()
    for v in range(n):
        want_s, want_c = planned_segments(
            v, now, int(cpu[v]), bool(runs[v]), int(begin[v]), int(end[v]), 2_000_000,
            plan_vcpu, plan_start, plan_end, made,
        )  # fmt: skip
        lo = int(slot_off[v])
        assert seg_len[v] <= slot_off[v + 1] - lo  # within its own slots
        np.testing.assert_array_equal(starts[lo : lo + seg_len[v]], want_s)
        np.testing.assert_array_equal(cum[lo : lo + seg_len[v]], want_c)


def test_rates_follow_the_numpy_formula() -> None:
    """Each VM's time per reference moves halfway to what it measured since the last call
    (all of the way the first time), each vCPU's rounds it, never below its CPU cost; a call
    where no VM ran changes nothing and says so."""
    rng = np.random.default_rng(3)
    n_vms, vcpu_vm = 4, np.array([0, 0, 1, 2, 3, 3], dtype=np.int64)
    cpu = rng.integers(1, 900, size=vcpu_vm.size).astype(np.int64)
    refs = np.zeros(n_vms, dtype=np.int64)
    busy = np.zeros(n_vms, dtype=np.int64)
    last_refs, last_busy = refs.copy(), busy.copy()
    vm_rate = np.zeros(n_vms)
    per_ref = np.maximum(cpu, 1)
    want_rate, want_per_ref = vm_rate.copy(), per_ref.copy()
    for step in range(30):
        d_refs = rng.integers(0, 3, size=n_vms) * rng.integers(0, 5_000, size=n_vms)
        if step == 5:
            d_refs[:] = 0
        refs = refs + d_refs
        busy = busy + d_refs * rng.integers(100, 5_000, size=n_vms) + rng.integers(0, 3, size=n_vms)
        ran = d_refs > 0
        if ran.any():  # the oracle's numpy formula
            rate = (busy - last_busy)[ran] / d_refs[ran]
            old = want_rate[ran]
            want_rate[ran] = np.where(old > 0, (old + rate) / 2, rate)
            want_per_ref = np.array(
                [max(int(cpu[v]), 1, round(float(want_rate[vcpu_vm[v]]))) for v in range(cpu.size)]
            )
        got = measure_rates(refs, busy, last_refs, last_busy, vm_rate, vcpu_vm, cpu, per_ref)
        assert got == bool(ran.any())
        np.testing.assert_array_equal(vm_rate, want_rate)
        np.testing.assert_array_equal(per_ref, want_per_ref)
        np.testing.assert_array_equal(last_refs, refs)
        np.testing.assert_array_equal(last_busy, busy)


def test_rates_round_half_to_even_as_python_does() -> None:
    """A rate of x.5 ns rounds as Python's round() does (to even)."""
    for rate, want in ((2.5, 2), (3.5, 4), (1000.5, 1000)):
        vm_rate = np.zeros(1)
        per_ref = np.ones(1, dtype=np.int64)
        refs, busy = np.array([2], dtype=np.int64), np.array([int(rate * 2)], dtype=np.int64)
        zero = np.zeros(1, dtype=np.int64)
        measure_rates(
            refs, busy, zero.copy(), zero.copy(), vm_rate, zero, np.ones(1, dtype=np.int64), per_ref
        )
        assert vm_rate[0] == rate and per_ref[0] == want == round(rate)


def test_the_oracles_kept_maps_are_those_made_afresh_whatever_was_asked_before() -> None:
    """TimeMaps keeps the maps made under one (plan, time, rates): asked for some vCPUs, then
    all, then again, or after the time or the rates moved, each vCPU's map is exactly what a
    fresh TimeMaps makes for all at once; a new time or new rates make them afresh."""
    from engine.policies.oracle import Oracle
    from engine.policies.oracle_maps import TimeMaps
    from engine.simulator import Simulation
    from tests.helpers import small_scenario

    sim = Simulation(small_scenario(duration_ms=20.0), "oracle", record=False)
    sim.run(until=10 * sim.step_ns)
    oracle: Oracle = sim.policy  # type: ignore[assignment]
    ctx = oracle.ctx
    rates = oracle.ns_per_ref.copy()
    maps = TimeMaps(ctx, rates)
    n = len(ctx.vcpus)

    def same_as_fresh(now_ns: int) -> None:
        fresh = TimeMaps(ctx, rates.copy())
        fresh.ensure_all(now_ns)
        for v in range(n):
            got_starts, got_cum, _ = maps.of(v, now_ns)
            want_starts, want_cum, _ = fresh.of(v, now_ns)
            np.testing.assert_array_equal(got_starts, want_starts)
            np.testing.assert_array_equal(got_cum, want_cum)

    now = sim.now_ns
    some = np.zeros(n, dtype=np.bool_)
    some[::2] = True
    maps.ensure(some, now)
    assert maps.built.tolist() == some.tolist()
    maps.ensure(np.zeros(n, dtype=np.bool_), now)
    maps.ensure_all(now)
    assert maps.built.all()
    same_as_fresh(now)
    maps.ensure(some, now + 1)  # a new time: only those asked for are made
    assert maps.built.tolist() == some.tolist()
    maps.ensure_all(now + 1)
    same_as_fresh(now + 1)
    rates *= 3
    maps.rates_changed()
    maps.ensure_all(now + 1)
    same_as_fresh(now + 1)
