"""The oracle's prefetch plan of a step for all vCPUs in compiled calls: the same spans,
windows moved on, pages, use times, order and reads as its per-vCPU loop in Python."""

from __future__ import annotations

import numpy as np
import pytest

from engine.hotpath.lookahead import advance_next_use, link_window
from engine.hotpath.next_use import first_swapped, use_times
from engine.hotpath.prefetch_order import by_use_then_page
from engine.hotpath.prefetch_plan import (
    forget_ahead,
    plan_prefetch,
    reach_horizon,
    read_ops,
    settle_ahead,
)
from engine.hotpath.read_starts import count_startable, landing
from engine.hotpath.strict_order import grows_strictly
from engine.hotpath.time_maps import build_time_maps, slot_offsets
from engine.pool import CLEAN, SWAPPED

FAR = 1 << 61
N_VCPUS, VM_PAGES, WINDOW = 5, 400, 3_000


class World:
    """Random vCPUs (two share a VM), time maps, windows and page states."""

    def __init__(self, seed: int):
        rng = np.random.default_rng(seed)
        self.rng = rng
        self.now, self.end = 10_000_000, 11_000_000
        self.vcpu_vm = np.array([0, 0, 1, 2, 3], dtype=np.int64)
        self.base = self.vcpu_vm * VM_PAGES
        self.state = np.where(rng.random(4 * VM_PAGES) < 0.4, SWAPPED, CLEAN).astype(np.int8)
        self.cpu = rng.integers(2_000, 20_000, size=N_VCPUS).astype(np.int64)
        n_slices = 12
        self.plan = (
            rng.integers(0, N_VCPUS, size=n_slices).astype(np.int64),
            np.sort(rng.integers(self.now - 1_000_000, self.now + 40_000_000, size=n_slices)),
            None,
        )
        plan_end = self.plan[1] + rng.integers(0, 3_000_000, size=n_slices)
        self.plan = (self.plan[0], self.plan[1].astype(np.int64), plan_end.astype(np.int64))
        self.runs = rng.random(N_VCPUS) < 0.5
        self.begin = np.full(N_VCPUS, self.now, dtype=np.int64)
        self.end_slice = self.begin + rng.integers(0, 3_000_000, size=N_VCPUS)
        self.slot_off = slot_offsets(self.plan[0], N_VCPUS)
        size = int(self.slot_off[-1])
        self.starts, self.cum = np.empty(size, np.int64), np.empty(size, np.int64)
        self.seg_len = np.zeros(N_VCPUS, dtype=np.int64)
        build_time_maps(
            np.ones(N_VCPUS, np.bool_), np.zeros(N_VCPUS, np.bool_), self.now, self.cpu,
            self.runs, self.begin, self.end_slice, 500_000, *self.plan, self.now - 1_000_000,
            self.slot_off, self.seg_len, self.starts, self.cum,
        )  # fmt: skip
        # Windows: some missing, some short, some slid far; positions and decided spans.
        self.pos = rng.integers(0, 2_000, size=N_VCPUS).astype(np.int64)
        self.win_start = self.pos - rng.integers(0, 1_500, size=N_VCPUS)
        self.win_size = np.full(N_VCPUS, WINDOW, dtype=np.int64)
        self.win_size[0] = -1 if seed % 3 == 0 else WINDOW
        self.win_size[1] = 200 if seed % 2 else WINDOW
        self.seen = np.maximum(self.win_start, self.pos - rng.integers(0, 300, size=N_VCPUS))
        self.seen[2] = self.pos[2]
        self.ahead = self.pos + rng.integers(-50, 400, size=N_VCPUS)
        self.rels = rng.integers(0, VM_PAGES, size=(N_VCPUS, WINDOW)).astype(np.int64)
        self.links = np.empty_like(self.rels)
        self.next_off = np.arange(N_VCPUS + 1, dtype=np.int64) * VM_PAGES
        self.next_flat = np.full(N_VCPUS * VM_PAGES, FAR, dtype=np.int64)
        self.coarse = np.full(self.next_flat.size, 7, dtype=np.uint8)  # the uses' bytes
        for v in range(N_VCPUS):
            self.links[v], _ = link_window(
                self.rels[v], int(self.win_start[v]), FAR, np.empty(VM_PAGES, np.int64)
            )
        self.free = np.array([self.now, self.now + 30_000], dtype=np.int64)
        self.service, self.batch, self.step_ns = 400_000, 4, 20_000

    def map_of(self, v: int):
        lo = int(self.slot_off[v])
        return self.starts[lo : lo + self.seg_len[v]], self.cum[lo : lo + self.seg_len[v]]


def _reference_spans(w: World, horizon: int):
    """The oracle's loop: each vCPU's span, and whether its window would be drawn anew,
    moved on (its next uses advanced, with their bytes at shift 5) or left."""
    spans, needs, next_flat = {}, np.zeros(N_VCPUS, bool), w.next_flat.copy()
    coarse = w.coarse.copy()
    for v in range(N_VCPUS):
        starts, cum = w.map_of(v)
        inside = np.flatnonzero(starts < horizon)
        if inside.size == 0:
            continue
        j, cpu = int(inside[-1]), int(w.cpu[v])
        before = int(cum[j - 1]) if j > 0 else 0
        k_max = min(int(cum[j]), before + max(0, horizon - int(starts[j])) // cpu)
        k_max = min(k_max, WINDOW // 2)
        lo, hi = max(int(w.ahead[v]), int(w.pos[v])), int(w.pos[v]) + k_max
        if hi <= lo:
            continue
        spans[v] = (lo, hi)
        size, start = int(w.win_size[v]), int(w.win_start[v])
        short = size >= 0 and hi > start + size
        if w.pos[v] == w.seen[v] and not short:
            continue
        if size < 0 or short or w.pos[v] - start > size * 3 // 4:
            needs[v] = True
            continue
        a, b = w.next_off[v], w.next_off[v + 1]
        advance_next_use(next_flat[a:b], w.rels[v], w.links[v], w.seen[v] - start,
                         w.pos[v] - start, coarse[a:b], start, 5)  # fmt: skip
    return spans, needs, next_flat, coarse


def _reference_plan(w: World, spans: dict, carried: int, prune: bool):
    """The oracle's loop and sort: first_swapped (capped while the use time grows strictly)
    and use_times per vCPU, then the first few, by use then page, and only those on time."""
    share, unplanned = 1.5, w.now + 50_000_000
    pages, uses = [], []
    for v, (lo, hi) in spans.items():
        starts, cum = w.map_of(v)
        cpu = int(w.cpu[v])
        limit = hi - lo
        if prune and grows_strictly(starts, cum, cpu, share, unplanned):
            limit = min(limit, carried + 1)
        s0 = int(w.win_start[v])
        g, at = first_swapped(
            w.rels[v], lo - s0, hi - s0, int(w.base[v]), w.state, SWAPPED, -1, limit,
            np.zeros(w.state.size, np.bool_),
        )  # fmt: skip
        pages.append(g)
        uses.append(use_times(at + (lo - int(w.pos[v])), starts, cum, cpu, share, unplanned, FAR))
    want = np.concatenate(pages) if pages else np.zeros(0, np.int64)
    use = np.concatenate(uses) if uses else np.zeros(0, np.int64)
    wanted = want
    if prune and want.size:
        startable = w.batch * count_startable(
            w.free, w.service, -(-want.size // w.batch), w.end, FAR
        )
        if startable == 0:
            want, use = want[:0], use[:0]
        elif startable < want.size and use.max() < FAR:
            keep = use <= np.partition(use, startable - 1)[startable - 1]
            want, use = want[keep], use[keep]
    order = by_use_then_page(use, want)
    want, use = want[order], use[order]
    on_time = use >= landing(want.size, w.batch, w.free, w.service, w.step_ns, w.end, FAR)
    return want[on_time], use[on_time], wanted


@pytest.mark.parametrize("prune", [True, False])
@pytest.mark.parametrize("seed", range(6))
def test_the_plan_is_the_per_vcpu_loops(seed: int, prune: bool) -> None:
    """Spans, windows flagged for drawing anew, next uses moved on, the pages planned with
    their use times in issue order, every page wanted, and where prefetch is decided up to:
    each as the per-vCPU loop gives."""
    w = World(seed)
    horizon = w.now + int(w.rng.integers(1_000_000, 30_000_000))
    spans, needs, next_flat, coarse = _reference_spans(w, horizon)
    span_lo, span_hi = np.zeros(N_VCPUS, np.int64), np.zeros(N_VCPUS, np.int64)
    seen = w.seen.copy()
    got_needs = reach_horizon(
        horizon, WINDOW, w.pos, w.ahead, seen, w.win_start, w.win_size, w.slot_off, w.seg_len,
        w.starts, w.cum, w.cpu, w.rels, w.links, w.next_flat, w.next_off, w.coarse, 5, span_lo,
        span_hi,
    )  # fmt: skip
    np.testing.assert_array_equal(got_needs, needs)
    np.testing.assert_array_equal(w.next_flat, next_flat)
    np.testing.assert_array_equal(w.coarse, coarse)
    assert {
        v: (int(span_lo[v]), int(span_hi[v])) for v in range(N_VCPUS) if span_hi[v] > span_lo[v]
    } == spans
    moved = [v for v in spans if not needs[v]]
    np.testing.assert_array_equal(seen[moved], w.pos[moved])
    for v in np.flatnonzero(needs):  # drawn anew (as _refresh does): from the position on
        w.win_start[v], w.win_size[v] = w.pos[v], WINDOW
    # What the step's startable reads carry, as the oracle counts it (first_few's count).
    w.service = int(w.rng.integers(10_000, 400_000))
    carried = w.batch * count_startable(w.free, w.service, 1_000, w.end, FAR)
    want, use, wanted = _reference_plan(w, spans, carried, prune)
    ahead = w.ahead.copy()
    alone = np.array([False, False, True, True, True])  # vCPUs 0 and 1 share a VM
    seen = np.zeros(w.state.size, np.bool_)
    got_want, got_use, got_wanted = plan_prefetch(
        span_lo, span_hi, w.pos, ahead, w.win_start, w.rels, w.base, alone, w.state, SWAPPED,
        seen, w.slot_off, w.seg_len, w.starts, w.cum, w.cpu, 1.5, w.now + 50_000_000, FAR,
        carried, prune, w.batch, w.free, w.service, w.step_ns, w.now, w.end,
    )  # fmt: skip
    np.testing.assert_array_equal(got_want, want)
    np.testing.assert_array_equal(got_use, use)
    assert not seen.any()
    for v in range(N_VCPUS):
        assert ahead[v] == (spans[v][1] if v in spans else w.ahead[v])
    # Fewer pages may be wanted than the per-vCPU loop found, but never one it did not find,
    # and whatever part of the plan is read, the same VMs have pages still out.
    assert np.isin(got_wanted, wanted).all()
    if not prune:
        np.testing.assert_array_equal(got_wanted, wanted)
    vm_of = np.repeat(np.arange(4), VM_PAGES)
    for _ in range(4):
        read = want[w.rng.random(want.size) < 0.7]
        out = [np.unique(vm_of[np.setdiff1d(x, read)]) for x in (wanted, got_wanted)]
        np.testing.assert_array_equal(out[0], out[1])


@pytest.mark.parametrize("seed", range(5))
def test_reads_and_what_is_looked_at_again_are_the_loops(seed: int) -> None:
    """Reads: one VM's pages each, at most a batch, in page order within the VM, ordered by
    their first use (stably: VM, then batch); vCPUs whose VM has a wanted page still
    swapped go back to their span's start, the others keep where they are."""
    rng = np.random.default_rng(seed)
    vm_of = np.repeat(np.arange(4), 50)
    pages = rng.permutation(200)[: int(rng.integers(0, 80))].astype(np.int64)
    uses = rng.integers(0, 20, size=pages.size).astype(np.int64)
    batch = int(rng.integers(1, 6))
    ops = []
    vms = vm_of[pages]
    for vm in np.unique(vms).tolist():
        mine = np.flatnonzero(vms == vm)
        for lo in range(0, mine.size, batch):
            part = mine[lo : lo + batch]
            ops.append((int(uses[part].min()), vm, pages[part]))
    ops.sort(key=lambda o: o[0])
    got_vm, got_pages, off = read_ops(pages, uses, vm_of, batch)
    assert got_vm.tolist() == [vm for _, vm, _ in ops]
    for i, (_, _, part) in enumerate(ops):
        np.testing.assert_array_equal(got_pages[off[i] : off[i + 1]], part)
    state = np.where(rng.random(200) < 0.3, SWAPPED, CLEAN).astype(np.int8)
    vcpu_vm = np.array([0, 1, 1, 2, 3], dtype=np.int64)
    span_lo = rng.integers(0, 100, size=5).astype(np.int64)
    span_hi = span_lo + rng.integers(-1, 2, size=5)
    ahead = np.full(5, 999, dtype=np.int64)
    settle_ahead(pages, state, SWAPPED, vm_of, vcpu_vm, span_lo, span_hi, ahead, 4)
    out = np.zeros(4, bool)
    out[vm_of[pages[state[pages] == SWAPPED]]] = True
    for v in range(5):
        back = span_hi[v] > span_lo[v] and out[vcpu_vm[v]]
        assert ahead[v] == (span_lo[v] if back else 999)


@pytest.mark.parametrize("seed", range(10))
def test_a_vm_that_loses_pages_has_its_vcpus_look_again(seed: int) -> None:
    """forget_ahead sets ahead to 0 for exactly the vCPUs of the VMs with an evicted page
    (what the numpy expressions it replaced set) and leaves the others' as they were."""
    rng = np.random.default_rng(seed)
    n_vms = int(rng.integers(1, 6))
    vm_of = rng.integers(0, n_vms, size=50).astype(np.int64)
    vcpu_vm = rng.integers(0, n_vms, size=int(rng.integers(1, 9))).astype(np.int64)
    evicted = rng.choice(50, size=int(rng.integers(0, 6)), replace=False).astype(np.int64)
    ahead = rng.integers(1, 1000, size=vcpu_vm.size).astype(np.int64)
    want = ahead.copy()
    lost = np.zeros(n_vms, dtype=np.bool_)
    lost[vm_of[evicted]] = True
    want[lost[vcpu_vm]] = 0
    forget_ahead(evicted, vm_of, vcpu_vm, ahead, n_vms)
    assert ahead.tolist() == want.tolist()
