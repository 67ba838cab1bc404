"""The shadow LRU's step in one compiled call (engine.policies.ghost_lru): the pages touched
since the last step, the shadow's horizon, its misses and their readahead blocks.

`predictive` and the schedule oracle count demand paging's faults on their own references at
every step boundary, to judge whether acting on the plan pays. Stated in numpy
(`GhostLru.step`) a step is a dozen passes over the pool and a partition of the keys that
reach the last horizon: ~0.24 ms, ~1,500 times a run of nvme_8vm_2x. Here no step passes
over the pool's eight-byte figures as a rule:
- the touched pages are those the stamper flagged (a byte a page, read eight a word);
- the horizon (the fit-th latest key, which only moves on) is found in a sorted band of the
  keys just past the last one, which keys leave but never enter (band_horizon); only when
  the band is spent (a step in thirty on nvme_8vm_2x) is it found from every key, by their
  distances from the last horizon in powers of two (fit_th_latest), and the band drawn again;
- each miss's block is read ahead in place.
The counts and keys are those of `GhostLru.step`."""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.hotpath.oldest import bit_length
from engine.hotpath.radix import sort_bits_above
from engine.hotpath.schedule_rank import PACKED_BITS

NEVER_TOUCHED = -1  # a page's key before its first touch (ghost_lru's)

# The step's state kept in `hint` (an int64 array of N_HINT): the last horizon, how far it
# moved then, the width the next full search collects (fit_th_latest's three), and the band's.
H_LAST, H_MOVED, H_WIDTH = 0, 1, 2
B_FROM = 3  # the horizon the band was last moved to
B_ABOVE = 4  # how many keys are at or past it (kept exact as keys change)
B_HEAD = 5  # the band's first entry at or past it
B_LEN = 6  # the band's length (its entries: work rows 2 and 3)
B_VALID = 7  # 1: the band holds every key from B_FROM below the step start it was drawn at
N_HINT = 8


def shadow_hint() -> np.ndarray:
    """A fresh shadow's `hint`: no horizon yet, no band."""
    hint = np.zeros(N_HINT, dtype=np.int64)
    hint[H_LAST] = hint[B_FROM] = NEVER_TOUCHED
    return hint


@njit(cache=True, nogil=True)
def shadow_step(
    key_ns: np.ndarray, touch_ns: np.ndarray, recent: np.ndarray, since_ns: int, now_ns: int,
    fit: int, cluster: int, base: np.ndarray, vm_of: np.ndarray, faults: np.ndarray,
    hint: np.ndarray, work: np.ndarray,
) -> tuple[int, int]:  # fmt: skip
    """(the shadow's new major faults, pages touched for the first time): the pages whose
    last touch (touch_ns) is at or after since_ns were touched, last then, since the last
    step; a page touched again whose key (key_ns: its last use or readahead) is below the
    horizon missed, and each block of `cluster` pages (within its VM, aligned to the VM's
    first page) with a miss is one fault of its VM (faults, per VM) that reads the block's
    touched pages in at now_ns. `hint` (shadow_hint's; updated): where the horizon's search
    starts, and the band it is found in (band_horizon; the horizon itself depends on
    neither). `work`: four rows of scratch as long as the pool (the last two: the band).

    `recent`: a byte per page (whole words of eight), 1 for every page whose touch_ns may be
    at or after since_ns: those stamped since the last step, and those whose stamp reaches
    past that step's end. Only their touch times are read (a pass over the bytes, eight a
    word, finds them); each keeps its 1 only while its stamp reaches past now_ns."""
    pages = work[0]
    n = 0
    words = recent.view(np.uint64)
    for w in range(words.size):
        if words[w] == 0:
            continue
        for p in range(8 * w, 8 * w + 8):
            if recent[p]:
                if touch_ns[p] >= since_ns:
                    pages[n] = p
                    n += 1
                recent[p] = touch_ns[p] >= now_ns
    if n == 0:
        return 0, 0
    horizon = band_horizon(key_ns, fit, hint, since_ns, work)
    above = hint[B_ABOVE]  # keys at or past the horizon, kept exact as they change below
    blocks = work[1]  # (the horizon's scratch, read)
    n_blocks = 0
    first_touches = 0
    for i in range(n):
        p = pages[i]
        before = key_ns[p]
        if before == NEVER_TOUCHED:
            first_touches += 1
        elif before < horizon:
            first = base[vm_of[p]]
            block = first + (p - first) // cluster * cluster
            if n_blocks == 0 or blocks[n_blocks - 1] != block:  # pages ascend: so do blocks
                blocks[n_blocks] = block
                n_blocks += 1
        key_ns[p] = touch_ns[p]
        above += int(key_ns[p] >= horizon) - int(before >= horizon)
    for j in range(n_blocks):
        block = blocks[j]
        vm = vm_of[block]
        for q in range(block, min(block + cluster, base[vm + 1])):
            before = key_ns[q]
            if before > NEVER_TOUCHED:  # readahead brings in what is on swap only
                key_ns[q] = max(before, now_ns)
                above += int(key_ns[q] >= horizon) - int(before >= horizon)
        faults[vm] += 1
    hint[B_ABOVE] = above
    return n_blocks, first_touches


@njit(cache=True, nogil=True)
def band_horizon(
    key_ns: np.ndarray, fit: int, hint: np.ndarray, since_ns: int, work: np.ndarray
) -> int:
    """fit_th_latest's horizon, from the band where it can be: the keys just past the last
    horizon, sorted (work rows 2 and 3: pages and their keys when banded).

    Keys only grow, and a key that changes becomes a touch time or a step's end, at or after
    the step's start. So a band of every key from the last horizon up to some key below the
    step's start never gains a key: it only loses those that changed (a page whose key is no
    longer its band key is passed over). With the count of keys at or past the last horizon
    (hint's B_ABOVE, kept by the step), the new horizon is the k-th least of those, k that
    count less fit: the k-th entry of the band still current, when the band reaches that far.
    Else (no band yet, or spent) the horizon comes from a pass over every key, and a band is
    drawn afresh from the keys at or past it and below since_ns. Either way
    the horizon is fit_th_latest's, and hint's B_* describe it and the band."""
    band_pages, band_keys = work[2], work[3]
    if hint[B_VALID] == 1 and hint[B_ABOVE] >= fit:
        k = hint[B_ABOVE] - fit
        head, size = hint[B_HEAD], hint[B_LEN]
        i, current = head, 0
        while i < size:
            if key_ns[band_pages[i]] == band_keys[i]:
                if current == k:
                    break
                current += 1
            i += 1
        if i < size:
            horizon = band_keys[i]
            # The keys now below it: the band's current entries before it with a lesser key.
            below = 0
            for j in range(head, i):
                below += int((band_keys[j] < horizon) & (key_ns[band_pages[j]] == band_keys[j]))
            while band_keys[head] < horizon:
                head += 1
            hint[B_HEAD], hint[B_FROM], hint[B_ABOVE] = head, horizon, hint[B_ABOVE] - below
            return _moved_to(horizon, hint)
    horizon = fit_th_latest(key_ns, fit, hint, work[1])
    hint[B_VALID] = 0
    if horizon == NEVER_TOUCHED:
        return horizon
    above = 0
    size = 0
    for p in range(key_ns.size):
        key = key_ns[p]
        above += int(key >= horizon)
        if horizon <= key < since_ns:
            band_pages[size] = p
            band_keys[size] = key
            size += 1
    _sort_band(band_pages[:size], band_keys[:size], horizon, key_ns.size, work[1])
    hint[B_FROM], hint[B_ABOVE], hint[B_HEAD], hint[B_LEN] = horizon, above, 0, size
    hint[B_VALID] = 1
    return horizon


@njit(cache=True, nogil=True)
def fit_th_latest(key_ns: np.ndarray, fit: int, hint: np.ndarray, keys: np.ndarray) -> int:
    """The fit-th latest key of the touched pages (NEVER_TOUCHED when no more than fit
    pages were touched): `GhostLru.horizon_ns`. Keys only grow, so nearly always at least fit
    keys reach the last horizon (hint[0]), and the wanted one is then the k-th least of
    those, k the few that fell out since. One pass counts them by how far past the last
    horizon they are (in powers of two) and collects those up to twice as far as the last
    call needed (hint[2]); when the k-th is farther, a second pass collects those as far as
    it is. It is selected from those. hint = [the last horizon, how far it moved then, the
    width the next call collects] is updated as horizon_ns updates the first two; `keys`:
    scratch as long as the pool."""
    last = hint[0]
    if last > NEVER_TOUCHED:
        by_width = np.zeros(64, dtype=np.int64)  # [b]: keys with bit_length(key - last) == b
        guess = hint[2]
        m = 0
        for key in key_ns:
            if key >= last:
                b = bit_length(key - last)
                by_width[b] += 1
                if b <= guess:
                    keys[m] = key
                    m += 1
        k = by_width.sum() - fit
        if k >= 0:
            width, below = 0, 0  # the least width whose keys and those nearer number > k
            while below + by_width[width] <= k:
                below += by_width[width]
                width += 1
            hint[2] = width + 1  # (twice as far: the next call's spread may be wider)
            if width > guess:
                m = 0
                for key in key_ns:
                    if key >= last and bit_length(key - last) <= width:
                        keys[m] = key
                        m += 1
            return _moved_to(np.partition(keys[:m], k)[k], hint)
    m = 0
    for key in key_ns:
        if key > NEVER_TOUCHED:
            keys[m] = key
            m += 1
    if m <= fit:
        return NEVER_TOUCHED
    return _moved_to(np.partition(keys[:m], m - fit)[m - fit], hint)


@njit(cache=True, nogil=True)
def _moved_to(horizon: int, hint: np.ndarray) -> int:
    """Keep the new horizon and how far it moved (hint); returns it."""
    if hint[0] > NEVER_TOUCHED:
        hint[1] = horizon - hint[0]
    hint[0] = horizon
    return horizon


@njit(cache=True, nogil=True)
def _sort_band(
    pages: np.ndarray, keys: np.ndarray, least: int, n_pages: int, scratch: np.ndarray
) -> None:
    """Sort the band's entries (pages ascending, their keys, none below `least`) by key, then
    page, in place: packed as (key - least, page) and sorted by radix (a few passes over the
    key bits), or by argsort where the keys span too many bits to pack."""
    page_bits = bit_length(max(1, n_pages - 1))
    span = keys.max() - least if keys.size else 0
    if bit_length(span) + page_bits > PACKED_BITS:
        order = np.argsort(keys, kind="mergesort")  # (stable: pages stay ascending in a key)
        pages[:] = pages[order]
        keys[:] = keys[order]
        return
    packed = scratch[: keys.size]
    for j in range(keys.size):
        packed[j] = ((keys[j] - least) << page_bits) | pages[j]
    out = sort_bits_above(packed, keys, page_bits, bit_length(span) + page_bits)
    mask = (1 << page_bits) - 1
    for j in range(out.size):
        v = out[j]
        pages[j] = v & mask
        keys[j] = (v >> page_bits) + least
