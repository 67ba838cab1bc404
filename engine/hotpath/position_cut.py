"""The oracle's victims by next-use position (compiled): the exact key cut of a call found by
integer passes, so only about the n farthest pages get their times.

In a VM with one vCPU whose use time never decreases with the stream position, a page's key
is a non-decreasing function of its (window-clamped) next-use position: the same function for
its clean pages and, less the write a dirty page costs, for its dirty ones. So the pages whose
key reaches a cut are those used at or after one position per VM and kind, and a pass over
the pool collects them without timing any. The pass reads a byte of state and a byte of next
use a page (each use's distance from its window's start, coarsened: engine.hotpath.lookahead),
which vectorises thirty-two pages at a time; only the pages it marks have their next uses read
and compared exactly.

A call starts from a hint (a cut the last call of about this size left): when at least n
candidates reach it, only those are collected, else those reaching a lower hint the caller
gives, else every candidate. The collected pages
are counted in buckets of positions per VM and kind; a bucket's least key is the time of its
lowest position. Walking all buckets from the latest least key down until n pages are
counted gives a cut that at least n candidates reach; every candidate at or past it (ties
with the n-th key included) is among the collected, so the choice over those is the choice
over every candidate (`farthest_pages`' exactly). When fewer than ALL_KEYS_BELOW times n
pages are collected (most calls, from a good hint), they are all keyed instead, and the next
hint is the exact key hint_reach(n) of them reach. Where a VM with candidates has several
vCPUs or a time that can go back, nothing is chosen: the caller selects the general way."""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.hotpath.fewest_writes import fewest_writes_of_latest
from engine.hotpath.lookahead import coarse_shift, coarse_use
from engine.hotpath.marks import marked_pages, padded_marks
from engine.hotpath.next_use import (
    C_CPU_NS,
    C_NEXT_OFF,
    C_POS,
    C_SEG_HI,
    C_SEG_LO,
    C_WIN_START,
    C_WINDOW_END,
    _monotone,
    _next_use_time,
    _time_at,
    latest_keys,
)
from engine.hotpath.oldest import bit_length
from engine.pool import CLEAN, DIRTY, PREFETCHED

# Buckets of positions per VM and kind (one more holds the uses that never come): fine
# enough that the cut's buckets hold few pages beside those that reach it.
N_BUCKETS = 1024
# The next call's hint is reached by a quarter more pages than the victims asked for and
# this many: this call's victims leave (reclaim takes an eighth of them), the others' uses
# move on. A hint too few reach costs a pass over every candidate.
HINT_MARGIN = 256
NO_CUT = np.iinfo(np.int64).min  # a hint of none: every candidate is collected
# Fewer collected than this many times the victims asked for: every collected page is keyed
# (no walk over buckets to shortlist them; measured on nvme_8vm_2x's calls, keying all wins
# below about three times).
ALL_KEYS_BELOW = 3


@njit(cache=True, nogil=True)
def hint_reach(n: int) -> int:
    """How many candidates the next hint of a call for n victims is reached by."""
    return n + n // 4 + HINT_MARGIN


def histogram_shape(n_vms: int) -> tuple[int, int]:
    """The shape of the counts array farthest_by_position works in: a row per VM and kind
    (clean, dirty), a column per bucket and one for uses that never come."""
    return 2 * n_vms, N_BUCKETS + 1


@njit(cache=True, nogil=True)
def farthest_by_position(
    n: int,
    hint: int,
    lower_hint: int,
    state: np.ndarray,
    clean_only: bool,
    vm_base: np.ndarray,
    vm_vcpu_off: np.ndarray,
    vm_vcpus: np.ndarray,
    vcpu_rows: np.ndarray,
    next_pos: np.ndarray,
    starts: np.ndarray,
    cum: np.ndarray,
    share: float,
    unplanned_ns: int,
    far: int,
    dirty_ns: int,
    last_use_ns: np.ndarray,
    window_refs: int,
    counts: np.ndarray,
    mark: np.ndarray,
    work: np.ndarray,
    keep: int,
    vm_of: np.ndarray,
    coarse: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, bool, int]:
    """(pages, keys, done, next hint): farthest_pages' choice of n victims (done), or nothing
    when a VM with a candidate has several vCPUs or a use time that can go back (not done:
    the caller selects the general way). `hint`: a cut to start from (any value; NO_CUT
    for none), and `lower_hint` one to try when fewer than n candidates reach it (before
    every candidate is collected; any value); the next hint is a cut hint_reach(n)
    candidates reach. `counts`: zeros of histogram_shape (left so); `mark`: a byte per
    page of the largest VM and seven more, of scratch; `work`: three rows of scratch as long
    as the pool. With keep > 0, of the n only the keep that fewest_writes takes (by each
    page's VM, vm_of), in its order. `coarse`: each next use's byte (engine.hotpath.lookahead:
    from its window's start, the rows' C_WIN_START, at coarse_shift(window_refs))."""
    if n <= 0:
        return work[0, :0].copy(), work[0, :0].copy(), True, hint
    if general_has_candidates(state, clean_only, vm_base, vm_vcpu_off, vm_vcpus, vcpu_rows,
                              starts, cum, share):  # fmt: skip
        return work[0, :0].copy(), work[0, :0].copy(), False, hint
    # Where each VM's clean and dirty pages reach the hint: [clean, dirty] per VM.
    from_pos = hint_positions(hint, vm_base.size - 1, vm_vcpu_off, vm_vcpus, vcpu_rows, starts,
                              cum, share, unplanned_ns, far, dirty_ns, window_refs)  # fmt: skip
    # The candidates reaching it, in page order, and their positions.
    vm_first = np.zeros(vm_base.size, dtype=np.int64)
    args = (state, clean_only, vm_base, vm_vcpu_off, vm_vcpus, vcpu_rows, next_pos, mark,
            work[0], work[1], work[2], vm_first, coarse, coarse_shift(window_refs))  # fmt: skip
    reached = collect_reaching(from_pos, *args)
    if reached < n and NO_CUT < lower_hint < hint:  # too few reach it: a lower one
        hint = lower_hint
        from_pos = hint_positions(hint, vm_base.size - 1, vm_vcpu_off, vm_vcpus, vcpu_rows,
                                  starts, cum, share, unplanned_ns, far, dirty_ns,
                                  window_refs)  # fmt: skip
        reached = collect_reaching(from_pos, *args)
    if reached < n and hint > NO_CUT:
        hint = NO_CUT  # too few reach either: every candidate is collected
        from_pos[:, :] = NO_CUT
        collect_reaching(from_pos, *args)
    return choose_collected(n, hint, from_pos, vm_first, work, state, vm_base, vm_vcpu_off,
                            vm_vcpus, vcpu_rows, next_pos, starts, cum, share, unplanned_ns, far,
                            dirty_ns, last_use_ns, window_refs, counts, keep, vm_of)  # fmt: skip


@njit(cache=True, nogil=True)
def general_has_candidates(
    state: np.ndarray, clean_only: bool, vm_base: np.ndarray, vm_vcpu_off: np.ndarray,
    vm_vcpus: np.ndarray, vcpu_rows: np.ndarray, starts: np.ndarray, cum: np.ndarray,
    share: float,
) -> bool:  # fmt: skip
    """Whether a VM with a candidate has several vCPUs or a use time that can go back (its
    pages are not ordered by position: the caller selects the general way)."""
    for vm in range(vm_base.size - 1):
        one_vcpu = vm_vcpu_off[vm + 1] - vm_vcpu_off[vm] == 1
        row = vcpu_rows[vm_vcpus[vm_vcpu_off[vm]] if one_vcpu else 0]
        general = not (one_vcpu and _monotone(row, starts, cum, share))
        if general and _any_candidate(state[vm_base[vm] : vm_base[vm + 1]], clean_only):
            return True
    return False


@njit(cache=True, nogil=True)
def hint_positions(
    hint: int, n_vms: int, vm_vcpu_off: np.ndarray, vm_vcpus: np.ndarray,
    vcpu_rows: np.ndarray, starts: np.ndarray, cum: np.ndarray, share: float,
    unplanned_ns: int, far: int, dirty_ns: int, window_refs: int,
) -> np.ndarray:  # fmt: skip
    """[clean, dirty] per VM: the least next-use position from which its pages of each kind
    reach the hint (NO_CUT for every one when the hint is NO_CUT)."""
    from_pos = np.full((n_vms, 2), NO_CUT, dtype=np.int64)
    if hint > NO_CUT:
        _positions_reaching(hint, from_pos, vm_vcpu_off, vm_vcpus, vcpu_rows, starts, cum,
                            share, unplanned_ns, far, dirty_ns, window_refs)  # fmt: skip
    return from_pos


@njit(cache=True, nogil=True)
def choose_collected(
    n: int, hint: int, from_pos: np.ndarray, vm_first: np.ndarray, work: np.ndarray,
    state: np.ndarray, vm_base: np.ndarray, vm_vcpu_off: np.ndarray, vm_vcpus: np.ndarray,
    vcpu_rows: np.ndarray, next_pos: np.ndarray, starts: np.ndarray, cum: np.ndarray,
    share: float, unplanned_ns: int, far: int, dirty_ns: int, last_use_ns: np.ndarray,
    window_refs: int, counts: np.ndarray, keep: int, vm_of: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, bool, int]:  # fmt: skip
    """farthest_by_position's choice from the collected candidates: those reaching the hint
    (at least n of them), or every candidate (hint NO_CUT), in page order in work[0] with
    their window-clamped next-use positions in work[1] and whether each is dirty in work[2],
    VM vm's at vm_first[vm]:vm_first[vm + 1] (from_pos: where each VM's reach the hint;
    both overwritten)."""
    n_vms = vm_base.size - 1
    pages_of, at_of, dirty_of = work[0], work[1], work[2]
    n_collected = vm_first[n_vms]
    if n_collected < ALL_KEYS_BELOW * n:
        # Few beside the n: every collected page's key, and the next hint exact.
        keys = _collected_keys(n_vms, vm_first, at_of, dirty_of, vm_vcpu_off, vm_vcpus,
                               vcpu_rows, starts, cum, share, unplanned_ns, far,
                               dirty_ns)  # fmt: skip
        pages = pages_of[:n_collected].copy()
        reach = hint_reach(n)
        next_hint = hint
        if n_collected >= reach:
            at = n_collected - reach
            next_hint = max(hint, np.partition(keys, at)[at])  # (a copy: keys stay in order)
        return _chosen(n, pages, keys, last_use_ns, state, vm_of, keep, next_hint)
    cut, next_cut = _cuts_reached(n, hint_reach(n), counts, at_of, dirty_of, vm_first,
                                  vm_vcpu_off, vm_vcpus, vcpu_rows, starts, cum, share,
                                  unplanned_ns, far, dirty_ns, window_refs)  # fmt: skip
    cut = max(cut, hint)  # every collected page reaches the hint, and n of them did
    next_hint = max(next_cut, hint)
    # The shortlist: the collected pages that reach the cut (overwriting those read).
    _positions_reaching(cut, from_pos, vm_vcpu_off, vm_vcpus, vcpu_rows, starts, cum, share,
                        unplanned_ns, far, dirty_ns, window_refs)  # fmt: skip
    # Their keys (keys_of's) from the positions collected: the time of each, a dirty page's
    # less the write.
    pages = np.empty(vm_first[n_vms], dtype=np.int64)
    keys = np.empty(vm_first[n_vms], dtype=np.int64)
    n_out = 0
    for vm in range(n_vms):
        if vm_first[vm] == vm_first[vm + 1]:
            continue
        row = vcpu_rows[vm_vcpus[vm_vcpu_off[vm]]]
        end, pos, seg_lo, seg_hi = row[C_WINDOW_END], row[C_POS], row[C_SEG_LO], row[C_SEG_HI]
        cpu = row[C_CPU_NS]
        for i in range(vm_first[vm], vm_first[vm + 1]):
            if at_of[i] >= from_pos[vm, dirty_of[i]]:
                t = _next_use_time(at_of[i], end, pos, starts, cum, seg_lo, seg_hi, cpu, share,
                                   unplanned_ns, far)  # fmt: skip
                pages[n_out] = pages_of[i]
                keys[n_out] = min(t, far) - dirty_ns * dirty_of[i]
                n_out += 1
    return _chosen(n, pages[:n_out], keys[:n_out], last_use_ns, state, vm_of, keep, next_hint)


@njit(cache=True, nogil=True)
def _chosen(
    n: int, pages: np.ndarray, keys: np.ndarray, last_use_ns: np.ndarray, state: np.ndarray,
    vm_of: np.ndarray, keep: int, next_hint: int,
) -> tuple[np.ndarray, np.ndarray, bool, int]:  # fmt: skip
    """farthest_by_position's answer from a shortlist holding every candidate that may be
    chosen: the n latest keys (of those, the keep that fewest_writes takes when keep > 0)."""
    if keep > 0:
        chosen = fewest_writes_of_latest(keep, n, pages, keys, last_use_ns, state, vm_of)
    else:
        chosen = latest_keys(n, pages, keys, last_use_ns)
    return pages[chosen], keys[chosen], True, next_hint


@njit(cache=True, nogil=True)
def _collected_keys(
    n_vms: int, vm_first: np.ndarray, at_of: np.ndarray, dirty_of: np.ndarray,
    vm_vcpu_off: np.ndarray, vm_vcpus: np.ndarray, vcpu_rows: np.ndarray, starts: np.ndarray,
    cum: np.ndarray, share: float, unplanned_ns: int, far: int, dirty_ns: int,
) -> np.ndarray:  # fmt: skip
    """keys_of's key of each collected page (its time, a dirty page's less the write), from
    its window-clamped position. _next_use_time's arithmetic with its tests as selects, not
    branches: which segment a position falls in is as good as random from page to page, and
    a mispredicted branch cost more than working out every segment's time (a plan has a
    few). The same integers: each select picks what the branch would have computed."""
    keys = np.empty(vm_first[n_vms], dtype=np.int64)
    for vm in range(n_vms):
        lo, hi = vm_first[vm], vm_first[vm + 1]
        if lo == hi:
            continue
        row = vcpu_rows[vm_vcpus[vm_vcpu_off[vm]]]
        pos, a, b, cpu = row[C_POS], row[C_SEG_LO], row[C_SEG_HI], row[C_CPU_NS]
        if a == b:  # no plan: one expression already
            for i in range(lo, hi):
                t = _time_at(at_of[i], row, starts, cum, share, unplanned_ns, far)
                keys[i] = min(t, far) - dirty_ns * dirty_of[i]
            continue
        last_len = cum[b - 1] - (cum[b - 2] if b - a > 1 else 0)
        last_end = starts[b - 1] + last_len * cpu
        for i in range(lo, hi):
            at = at_of[i]  # (clamped to the window's end as collected)
            k = at - pos
            if at >= far or k >= far // 2:  # never used (the products below would overflow)
                keys[i] = far - dirty_ns * dirty_of[i]
                continue
            t = int(last_end + int((k - cum[b - 1]) * cpu * share))  # past the plan
            for j in range(b - 1, a - 1, -1):  # else the first segment whose capacity passes k
                inside = starts[j] + (k - (cum[j - 1] if j > a else 0)) * cpu
                t = inside if k < cum[j] else t
            keys[i] = min(t, far) - dirty_ns * dirty_of[i]
    return keys


@njit(cache=True, nogil=True, inline="always")
def _candidate(s: int, clean_only: bool) -> bool:
    """_evictable without a branch (so that the loops calling it vectorise)."""
    return (s >= CLEAN) & (s <= PREFETCHED) & ((not clean_only) | (s != DIRTY))


@njit(cache=True, nogil=True)
def _any_candidate(state: np.ndarray, clean_only: bool) -> bool:
    """Whether any of the pages is a candidate."""
    i = 0
    while i < state.size and not _candidate(state[i], clean_only):
        i += 1
    return i < state.size


@njit(cache=True, nogil=True)
def collect_reaching(
    from_pos: np.ndarray, state: np.ndarray, clean_only: bool, vm_base: np.ndarray,
    vm_vcpu_off: np.ndarray, vm_vcpus: np.ndarray, vcpu_rows: np.ndarray,
    next_pos: np.ndarray, mark: np.ndarray, pages_of: np.ndarray, at_of: np.ndarray,
    dirty_of: np.ndarray, vm_first: np.ndarray, coarse: np.ndarray, shift: int,
) -> int:  # fmt: skip
    """Write the candidates of the VMs of one vCPU used (window-clamped) at or after their
    VM's from_pos (clean, dirty) to pages_of, in page order, their clamped next-use positions
    to at_of, whether each is dirty to dirty_of, and where each VM's start to vm_first (and
    their end); returns how many.

    A VM at a time: a pass over a byte of state and a byte of next use a page (coarse, at
    `shift`: engine.hotpath.lookahead), which vectorises, marks every candidate whose byte
    reaches its position's, and only the marked ones have their next uses read and compared.
    `mark`: a byte per page of the largest VM and up to seven more, of scratch."""
    n_kept = 0
    for vm in range(vm_base.size - 1):
        vm_first[vm] = n_kept
        if vm_vcpu_off[vm + 1] - vm_vcpu_off[vm] != 1:
            continue
        lo, hi = vm_base[vm], vm_base[vm + 1]
        row = vcpu_rows[vm_vcpus[vm_vcpu_off[vm]]]
        if 0 <= row[C_WINDOW_END] < from_pos[vm, 0]:
            continue  # every use is clamped to the window's end: none reaches (nor a dirty)
        off = row[C_NEXT_OFF]
        nxt = next_pos[off : off + hi - lo]
        clean_from, dirty_from = from_pos[vm, 0], from_pos[vm, 1]
        start = row[C_WIN_START]
        vm_mark = padded_marks(mark, hi - lo)
        _mark_vm(vm_mark[: hi - lo], state[lo:hi], coarse[off : off + hi - lo],
                 coarse_use(clean_from, start, shift), coarse_use(dirty_from, start, shift),
                 clean_only)  # fmt: skip
        end = row[C_WINDOW_END] if row[C_WINDOW_END] >= 0 else np.iinfo(np.int64).max
        # The marked pages, then those of them that reach, in place.
        n_marked = marked_pages(vm_mark, lo, pages_of, n_kept)
        for j in range(n_kept, n_marked):
            page = pages_of[j]
            at = min(nxt[page - lo], end)
            dirty = state[page] == DIRTY
            if at >= (dirty_from if dirty else clean_from):
                pages_of[n_kept] = page
                at_of[n_kept] = at
                dirty_of[n_kept] = dirty
                n_kept += 1
    vm_first[vm_base.size - 1] = n_kept
    return n_kept


@njit(cache=True, nogil=True)
def _mark_vm(
    mark: np.ndarray, state: np.ndarray, coarse: np.ndarray, clean_from: np.uint8,
    dirty_from: np.uint8, clean_only: bool,
) -> None:  # fmt: skip
    """mark[i] = whether page i of a VM (of its states and next uses' bytes) is a candidate
    whose byte reaches clean_from (dirty_from for a dirty page): every candidate used at or
    after the positions those bytes are of, and some used a little before. Bytes compared
    with bytes, branch-free, so that it vectorises."""
    for i in range(state.size):
        s = state[i]
        reach = dirty_from if s == DIRTY else clean_from
        mark[i] = _candidate(s, clean_only) & (coarse[i] >= reach)


@njit(cache=True, nogil=True)
def _first_position_reaching(
    cut: int, row: np.ndarray, starts: np.ndarray, cum: np.ndarray, share: float,
    unplanned_ns: int, far: int, window_refs: int,
) -> int:  # fmt: skip
    """The least position whose use time reaches cut, among those a page's next use can
    be (up to window_refs past the vCPU's, or a use that never comes, timed far); far + 1
    when none does. The time never decreases with the position."""
    lo, hi = 0, row[C_POS] + window_refs
    if _time_at(hi, row, starts, cum, share, unplanned_ns, far) < cut:
        return far if far >= cut else far + 1
    while lo < hi:
        mid = (lo + hi) // 2
        if _time_at(mid, row, starts, cum, share, unplanned_ns, far) >= cut:
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit(cache=True, nogil=True)
def _positions_reaching(
    cut: int, out: np.ndarray, vm_vcpu_off: np.ndarray, vm_vcpus: np.ndarray,
    vcpu_rows: np.ndarray, starts: np.ndarray, cum: np.ndarray, share: float,
    unplanned_ns: int, far: int, dirty_ns: int, window_refs: int,
) -> None:  # fmt: skip
    """out[vm] = [clean, dirty]: the least next-use position from which a clean (dirty) page
    of the VM has a key of at least cut. Only for VMs of one vCPU whose use time never
    decreases (the others have no candidates here)."""
    for vm in range(out.shape[0]):
        if vm_vcpu_off[vm + 1] - vm_vcpu_off[vm] != 1:
            continue
        row = vcpu_rows[vm_vcpus[vm_vcpu_off[vm]]]
        args = (row, starts, cum, share, unplanned_ns, far, window_refs)
        out[vm, 0] = _first_position_reaching(cut, *args)
        out[vm, 1] = _first_position_reaching(cut + dirty_ns, *args)


@njit(cache=True, nogil=True)
def _least_key(
    dirty: int, b: int, n_far: int, shift: int, low_at: int, row: np.ndarray,
    starts: np.ndarray, cum: np.ndarray, share: float, unplanned_ns: int, far: int,
    dirty_ns: int,
) -> int:  # fmt: skip
    """The least key a page of one VM's group (clean or dirty) in bucket b can have: the
    time of the bucket's lowest position (bucket 0: of the group's lowest, low_at), less the
    write for dirty pages."""
    if b == n_far:
        t = far
    elif b == 0:
        t = _time_at(low_at, row, starts, cum, share, unplanned_ns, far)
    else:
        t = _time_at(row[C_POS] + (b << shift), row, starts, cum, share, unplanned_ns, far)
    return t - dirty_ns * dirty


@njit(cache=True, nogil=True)
def _cuts_reached(
    n: int, n_next: int, counts: np.ndarray, at_of: np.ndarray, dirty_of: np.ndarray,
    vm_first: np.ndarray, vm_vcpu_off: np.ndarray, vm_vcpus: np.ndarray,
    vcpu_rows: np.ndarray, starts: np.ndarray, cum: np.ndarray, share: float,
    unplanned_ns: int, far: int, dirty_ns: int, window_refs: int,
) -> tuple[int, int]:  # fmt: skip
    """The latest keys that at least n, and at least n_next, of the collected pages are sure
    to reach (each bucket's pages reach its least key); NO_CUT where there are fewer. The
    groups' buckets (VM and kind) are walked together, the latest least key first. `counts`
    is all zeros on entry and left so (only each group's span of buckets used is cleared)."""
    n_groups, n_far = counts.shape[0], counts.shape[1] - 1
    shift = max(0, bit_length(window_refs) - bit_length(n_far - 1))  # n_far buckets span it
    span = np.empty((n_groups, 2), dtype=np.int64)  # each group's lowest and highest bucket
    cuts = _walk(n, n_next, counts, shift, at_of, dirty_of, vm_first, vm_vcpu_off, vm_vcpus,
                 vcpu_rows, starts, cum, share, unplanned_ns, far, dirty_ns, span)  # fmt: skip
    for g in range(n_groups):  # clear what was counted: the rest is zero still
        counts[g, span[g, 0] : span[g, 1] + 1] = 0
    return cuts


@njit(cache=True, nogil=True, inline="always")
def _bucket(at: int, pos: int, far: int, shift: int, n_far: int) -> int:
    """The bucket of a next use at position `at` by a vCPU at `pos`: n_far for one that
    never comes, else by its distance (the last bucket takes all beyond)."""
    k = at - pos
    if at >= far or k >= far // 2:
        return n_far
    return min(max(k, 0) >> shift, n_far - 1)


@njit(cache=True, nogil=True)
def _walk(
    n: int, n_next: int, counts: np.ndarray, shift: int, at_of: np.ndarray,
    dirty_of: np.ndarray, vm_first: np.ndarray, vm_vcpu_off: np.ndarray, vm_vcpus: np.ndarray,
    vcpu_rows: np.ndarray, starts: np.ndarray, cum: np.ndarray, share: float,
    unplanned_ns: int, far: int, dirty_ns: int, span: np.ndarray,
) -> tuple[int, int]:  # fmt: skip
    """_cuts_reached's count and walk, over buckets of 2**shift positions; span gets each
    group's lowest and highest bucket counted in (an empty span for a group with none)."""
    n_groups, n_far = counts.shape[0], counts.shape[1] - 1
    span[:, 0] = n_far + 1
    span[:, 1] = -1
    head = np.full(n_groups, -1, dtype=np.int64)  # each group's next bucket down
    key = np.zeros(n_groups, dtype=np.int64)  # and its least key
    low_at = np.zeros(n_groups, dtype=np.int64)
    for vm in range(n_groups // 2):
        if vm_first[vm] == vm_first[vm + 1]:
            continue
        row = vcpu_rows[vm_vcpus[vm_vcpu_off[vm]]]
        pos = row[C_POS]
        low = pos
        for i in range(vm_first[vm], vm_first[vm + 1]):
            b = _bucket(at_of[i], pos, far, shift, n_far)
            if b < n_far:
                low = min(low, at_of[i])
            g = 2 * vm + dirty_of[i]
            counts[g, b] += 1
            head[g] = max(head[g], b)
            span[g, 0] = min(span[g, 0], b)
        for g in (2 * vm, 2 * vm + 1):
            span[g, 1] = head[g]
            low_at[g] = low
            b = head[g]
            if b >= 0:
                key[g] = _least_key(g % 2, b, n_far, shift, low, row, starts, cum, share,
                                    unplanned_ns, far, dirty_ns)  # fmt: skip
    reached = 0
    cut = NO_CUT
    while True:
        top = -1
        for g in range(n_groups):
            if head[g] >= 0 and (top < 0 or key[g] > key[top]):
                top = g
        if top < 0:
            return cut, NO_CUT
        reached += counts[top, head[top]]
        if cut == NO_CUT and reached >= n:
            cut = key[top]
        if reached >= n_next:
            return cut, key[top]
        b = head[top] - 1
        while b >= 0 and counts[top, b] == 0:
            b -= 1
        head[top] = b
        if b >= 0:
            vm = top // 2
            row = vcpu_rows[vm_vcpus[vm_vcpu_off[vm]]]
            key[top] = _least_key(top % 2, b, n_far, shift, low_at[top], row, starts, cum,
                                  share, unplanned_ns, far, dirty_ns)  # fmt: skip
