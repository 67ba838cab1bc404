"""The oracle's prefetch plan of a step for every vCPU at once (compiled): which references each
vCPU executes by the horizon, its swapped pages there in first-use order with their use
times, and of those the pages whose reads can start this step and land before their use,
in issue order.

Two calls a step: `reach_horizon` (each vCPU's span of references and its look-ahead window
moved on where that needs no new window; a new one is drawn from the stream in Python), then
`plan_prefetch`. They choose what the per-vCPU loop they replace chose (tests/unit/
test_prefetch_plan.py keeps that loop): the same spans, pages, use times, order and reads.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.hotpath.lookahead import advance_next_use, must_redraw
from engine.hotpath.prefetch_order import by_use_then_page
from engine.hotpath.read_starts import first_few, landing
from engine.hotpath.strict_order import grows_strictly
from engine.hotpath.swapped_scan import swapped_in_spans


@njit(cache=True, nogil=True)
def reach_horizon(
    horizon_ns: int,
    window_refs: int,
    pos: np.ndarray,
    ahead: np.ndarray,
    seen_pos: np.ndarray,
    win_start: np.ndarray,
    win_size: np.ndarray,
    slot_off: np.ndarray,
    seg_len: np.ndarray,
    starts: np.ndarray,
    cum: np.ndarray,
    cpu_ns: np.ndarray,
    rels: np.ndarray,
    next_same: np.ndarray,
    next_flat: np.ndarray,
    next_off: np.ndarray,
    coarse: np.ndarray,
    shift: int,
    span_lo: np.ndarray,
    span_hi: np.ndarray,
) -> np.ndarray:
    """Each vCPU's references to look at, [span_lo, span_hi) (empty: none): from where
    prefetch was decided up to (at most half its window) those it executes by horizon_ns on
    its time map (starts/cum at slot_off[v], seg_len[v] segments). Its next-use positions
    move on to its position (with their bytes in coarse: advance_next_use) where its window
    (rels/next_same row v from win_start[v], of win_size[v] references; -1: none) reaches
    span_hi and has not slid too far; else it is
    flagged (returned True) for a new window, as the oracle's _refresh decides."""
    n = pos.size
    needs_window = np.zeros(n, dtype=np.bool_)
    for v in range(n):
        span_lo[v] = span_hi[v] = 0
        a = slot_off[v]
        j = -1
        for i in range(a, a + seg_len[v]):
            if starts[i] < horizon_ns:
                j = i
        if j < 0:
            continue
        before = cum[j - 1] if j > a else 0
        k_max = min(cum[j], before + max(0, horizon_ns - starts[j]) // cpu_ns[v])
        k_max = min(k_max, window_refs // 2)
        lo = max(ahead[v], pos[v])
        hi = pos[v] + k_max
        if hi <= lo:
            continue
        span_lo[v], span_hi[v] = lo, hi
        size = win_size[v]
        short = size >= 0 and hi > win_start[v] + size
        if pos[v] == seen_pos[v] and not short:
            continue
        if short or must_redraw(pos[v], win_start[v], size):
            needs_window[v] = True
            continue
        a, b = next_off[v], next_off[v + 1]
        advance_next_use(
            next_flat[a:b], rels[v, :size], next_same[v, :size], seen_pos[v] - win_start[v],
            pos[v] - win_start[v], coarse[a:b], win_start[v], shift,
        )  # fmt: skip
        seen_pos[v] = pos[v]
    return needs_window


@njit(cache=True, nogil=True)
def plan_prefetch(
    span_lo: np.ndarray,
    span_hi: np.ndarray,
    pos: np.ndarray,
    ahead: np.ndarray,
    win_start: np.ndarray,
    rels: np.ndarray,
    vcpu_base: np.ndarray,
    alone: np.ndarray,
    state: np.ndarray,
    swapped: int,
    seen: np.ndarray,
    slot_off: np.ndarray,
    seg_len: np.ndarray,
    starts: np.ndarray,
    cum: np.ndarray,
    cpu_ns: np.ndarray,
    share: float,
    unplanned_ns: int,
    far: int,
    carried: int,
    prune: bool,
    batch: int,
    free_ns: np.ndarray,
    service_ns: int,
    step_ns: int,
    now_ns: int,
    step_end_ns: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pages, uses, wanted): of the swapped pages the vCPUs use in their spans (vcpu_base:
    the global page of each vCPU's VM's page 0), those whose reads can start this step and
    land before use, earliest use first (equal uses by page), with their use times; and
    every page wanted (to see which are still out once the reads are issued). Each vCPU with
    a span has prefetch decided up to its end (ahead).

    With `prune`, only what can matter is looked at. No more pages than the reads that can
    start this step carry (`carried`) can be read now, so a vCPU whose use time strictly
    grows with the position is scanned for carried + 1 swapped pages only: a page past those
    is used later than each of them, so it cannot come among the `carried` first in issue
    order (by use, then page) nor tie with the last of them, and the one page more keeps its
    VM marked as having pages still out; where its VM has no other vCPU, it is scanned only
    as far in time as the plan can need (engine.hotpath.swapped_scan), and `wanted` holds a
    part of those pages that still says the same of its VM. And only the first few in issue
    order are sorted (`first_few`): every page past them cannot start this step, so it lands
    never. `alone`: per vCPU, whether its VM has no other vCPU."""
    n = pos.size
    limit = span_hi - span_lo
    by_time = np.zeros(n, dtype=np.bool_)
    for v in range(n):
        a = slot_off[v]
        b = a + seg_len[v]
        if limit[v] > 0:
            ahead[v] = span_hi[v]
            if prune and grows_strictly(starts[a:b], cum[a:b], cpu_ns[v], share, unplanned_ns):
                limit[v] = min(limit[v], carried + 1)
                by_time[v] = alone[v]
    wanted, use = swapped_in_spans(
        span_lo, span_hi, limit, by_time, pos, win_start, rels, vcpu_base, state, swapped,
        seen, slot_off, seg_len, starts, cum, cpu_ns, share, unplanned_ns, far, carried, now_ns,
        now_ns + step_ns,
    )  # fmt: skip
    want = wanted
    if prune:
        want, use = first_few(want, use, batch, free_ns, service_ns, step_end_ns, far)
    order = by_use_then_page(use, want)
    want, use = want[order], use[order]
    # Only what lands before its use: a late prefetch holds its toucher for the whole batch.
    on_time = use >= landing(want.size, batch, free_ns, service_ns, step_ns, step_end_ns, far)
    return want[on_time], use[on_time], wanted


@njit(cache=True, nogil=True)
def read_ops(
    pages: np.ndarray, uses: np.ndarray, vm_of: np.ndarray, batch: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`PrefetchReads.issue`'s reads: one VM's pages per read, at most batch each, ascending
    VM and in the pages' order within it; the reads ordered by their first use (stable).
    Returns (vm of each read, pages in read order, offsets of each read's pages)."""
    vms = vm_of[pages]
    by_vm = np.argsort(vms, kind="mergesort")  # each VM's pages in their order
    op_lo = np.empty(pages.size + 1, dtype=np.int64)  # at most a read per page
    op_vm = np.empty(pages.size, dtype=np.int64)
    op_use = np.empty(pages.size, dtype=np.int64)
    n_ops = 0
    i = 0
    while i < by_vm.size:
        vm = vms[by_vm[i]]
        j = i
        while j < by_vm.size and vms[by_vm[j]] == vm:
            j += 1
        for lo in range(i, j, batch):
            op_lo[n_ops] = lo
            op_vm[n_ops] = vm
            first = uses[by_vm[lo]]
            for x in range(lo, min(lo + batch, j)):
                first = min(first, uses[by_vm[x]])
            op_use[n_ops] = first
            n_ops += 1
        i = j
    op_lo[n_ops] = by_vm.size
    op_use = op_use[:n_ops]
    order = np.argsort(op_use, kind="mergesort")
    out_pages = np.empty(pages.size, dtype=np.int64)
    out_off = np.zeros(n_ops + 1, dtype=np.int64)
    for r in range(n_ops):
        o = order[r]
        m = op_lo[o + 1] - op_lo[o]
        for x in range(m):
            out_pages[out_off[r] + x] = pages[by_vm[op_lo[o] + x]]
        out_off[r + 1] = out_off[r] + m
    return op_vm[order], out_pages, out_off


@njit(cache=True, nogil=True)
def settle_ahead(
    wanted: np.ndarray, state: np.ndarray, swapped: int, vm_of: np.ndarray,
    vcpu_vm: np.ndarray, span_lo: np.ndarray, span_hi: np.ndarray, ahead: np.ndarray,
    n_vms: int,
) -> None:  # fmt: skip
    """References whose pages are still out (not read, or held back) are looked at again
    next step: a vCPU with a span whose VM has a wanted page still swapped goes back to its
    span's start."""
    still_out = np.zeros(n_vms, dtype=np.bool_)
    for p in wanted:
        if state[p] == swapped:
            still_out[vm_of[p]] = True
    for v in range(vcpu_vm.size):
        if span_hi[v] > span_lo[v] and still_out[vcpu_vm[v]]:
            ahead[v] = span_lo[v]


@njit(cache=True, nogil=True)
def forget_ahead(
    evicted: np.ndarray, vm_of: np.ndarray, vcpu_vm: np.ndarray, ahead: np.ndarray, n_vms: int
) -> None:
    """A VM that loses pages has its coming references looked at again for prefetch: each
    vCPU of a VM with an evicted page goes back to no position decided (ahead 0)."""
    lost = np.zeros(n_vms, dtype=np.bool_)
    for p in evicted:
        lost[vm_of[p]] = True
    for v in range(vcpu_vm.size):
        if lost[vcpu_vm[v]]:
            ahead[v] = 0
