"""The swapped pages each vCPU uses in its span of coming references, found for the oracle's
prefetch plan (compiled): in first-use order, with their use times, and no further than the
plan can need.

A step's reads carry at most `carried` pages, and only the `carried` earliest uses over all
vCPUs (with the pages tied with the last) can be among them. The per-vCPU scan of the plan it
replaces stopped a vCPU after carried + 1 pages; here the vCPUs whose use time strictly grows
with the position (and whose VM has no other vCPU) are scanned together in rounds of a
growing time bound T, each up to its first page used after T, until `carried` pages used by
T are found (or every scan ends as the per-vCPU one would). What is found then is a prefix
of each vCPU's per-vCPU result holding every page used by T, and so every page that can be
read this step; and a vCPU stopped early holds a page used after T, which cannot be read this
step, just as the per-vCPU scan's pages past the first `carried` are: its VM still has pages
out either way."""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.hotpath.next_use import _one_use_time


@njit(cache=True, nogil=True)
def _scan_until(
    v: int, bound_ns: int, rel: np.ndarray, cursor: np.ndarray, end: np.ndarray,
    n_found: np.ndarray, cap: np.ndarray, out_off: np.ndarray, pages: np.ndarray,
    uses: np.ndarray, first_k: int, base: int, state: np.ndarray, swapped: int,
    seen: np.ndarray, starts: np.ndarray, cum: np.ndarray, a: int, b: int, cpu: int,
    share: float, unplanned_ns: int, far: int,
) -> None:  # fmt: skip
    """Go on with vCPU v's scan of rel[cursor[v]:end[v]] for swapped pages not seen yet (each
    then seen), up to cap[v] of them, stopping after the first one used later than bound_ns.
    The reference at index i is first_k + i references from now (use time as use_times)."""
    i, k = cursor[v], n_found[v]
    o = out_off[v]
    while i < end[v] and k < cap[v]:
        g = np.int64(rel[i]) + base
        i += 1
        if state[g] != swapped or seen[g]:
            continue
        seen[g] = True
        ahead_refs = first_k + i - 1
        u = far
        if ahead_refs < far // 2:
            u = _one_use_time(ahead_refs, starts, cum, a, b, cpu, share, unplanned_ns)
        pages[o + k] = g
        uses[o + k] = u
        k += 1
        if u > bound_ns:
            break
    cursor[v], n_found[v] = i, k


@njit(cache=True, nogil=True)
def swapped_in_spans(
    span_lo: np.ndarray,
    span_hi: np.ndarray,
    limit: np.ndarray,
    by_time: np.ndarray,
    pos: np.ndarray,
    win_start: np.ndarray,
    rels: np.ndarray,
    vcpu_base: np.ndarray,
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
    now_ns: int,
    first_bound_ns: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(pages, uses): each vCPU's swapped pages in its span [span_lo, span_hi), in the order
    it first uses them, at most limit[v] of them, with their use times; vCPU by vCPU. The
    vCPUs flagged by_time are scanned in rounds of a time bound (first_bound_ns, then twice
    as far from now_ns as the last, ...) as the module says, the others whole. `seen`: a
    zeroed flag per page of the pool, zeroed again on return."""
    n = pos.size
    cap = np.zeros(n, dtype=np.int64)
    out_off = np.zeros(n + 1, dtype=np.int64)
    for v in range(n):
        if span_hi[v] > span_lo[v]:
            cap[v] = min(max(0, limit[v]), span_hi[v] - span_lo[v])
        out_off[v + 1] = out_off[v] + cap[v]
    pages = np.empty(out_off[n], dtype=np.int64)
    uses = np.empty(out_off[n], dtype=np.int64)
    cursor = span_lo - win_start
    end = span_hi - win_start
    n_found = np.zeros(n, dtype=np.int64)
    bound = first_bound_ns
    for rnd in range(2):  # round 0: whole scans; then the rounds of a growing bound
        while True:
            open_scans = False
            for v in range(n):
                if cap[v] == 0 or by_time[v] != (rnd == 1):
                    continue
                k = n_found[v]
                scan_bound = bound if rnd == 1 else far  # no use is later than far
                if k > 0 and uses[out_off[v] + k - 1] > scan_bound:
                    open_scans = True  # stopped past the bound: it holds a page used later
                    continue
                a = slot_off[v]
                _scan_until(
                    v, scan_bound, rels[v], cursor, end, n_found, cap,
                    out_off, pages, uses, win_start[v] - pos[v], vcpu_base[v], state, swapped,
                    seen, starts, cum, a, a + seg_len[v], cpu_ns[v], share, unplanned_ns, far,
                )  # fmt: skip
                open_scans |= cursor[v] < end[v] and n_found[v] < cap[v]
                if rnd == 0:  # its VM's other vCPUs see its pages too, as they would alone
                    for j in range(out_off[v], out_off[v] + n_found[v]):
                        seen[pages[j]] = False
            if rnd == 0 or not open_scans:
                break
            by_bound = 0
            for v in range(n):
                for j in range(out_off[v], out_off[v] + n_found[v]):
                    by_bound += uses[j] <= bound
            if by_bound >= carried:
                break
            bound = far if bound - now_ns > far // 4 else now_ns + 2 * max(1, bound - now_ns)
    total = 0
    for v in range(n):
        total += n_found[v]
    out_pages = np.empty(total, dtype=np.int64)
    out_uses = np.empty(total, dtype=np.int64)
    k = 0
    for v in range(n):
        m = n_found[v]
        out_pages[k : k + m] = pages[out_off[v] : out_off[v] + m]
        out_uses[k : k + m] = uses[out_off[v] : out_off[v] + m]
        k += m
        if by_time[v]:
            for j in range(out_off[v], out_off[v] + m):
                seen[pages[j]] = False
    return out_pages, out_uses
