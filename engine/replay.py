"""Exact textbook replay of one page-reference stream through a fixed number of frames.

Memory starts empty, a page is loaded only when it is referenced (demand paging), a victim is
chosen only when a miss finds every frame full, and there is no free-frame reserve. Faults
include cold (first-touch) misses, as in the textbooks.

Each policy is written here in plain Python (PYTHON_COUNTERS: the readable reference) and
counted by compiled kernels over dense page ids (engine.hotpath.replay_counts), which give
the same counts 14-20 times sooner (benchmarks/replay_speed.py).
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from engine.errors import VmswapError, unknown_name
from engine.hotpath.replay_counts import (
    clock_faults,
    fifo_faults,
    lru_faults,
    lru_stack_distances,
    opt_faults,
)
from engine.limits import MAX_REPLAY_REFS, MAX_WHOLE_STREAM_REFS

POLICIES: tuple[str, ...] = ("fifo", "lru", "clock", "opt")


class ReplayError(VmswapError, ValueError):
    """A replay was asked for an unknown policy or an impossible number of frames."""


@dataclass(frozen=True)
class ReplayResult:
    """Counts of one replay: every reference is either a hit or a fault."""

    references: int
    faults: int
    hits: int

    @property
    def fault_ratio(self) -> float:
        """Faults per reference (0.0 for an empty stream)."""
        return self.faults / self.references if self.references else 0.0


def check_policy(policy: str) -> str:
    """Return `policy` if it is known, else raise ReplayError with a "did you mean" hint."""
    if policy not in POLICIES:
        raise ReplayError(unknown_name("replay policy", policy, POLICIES))
    return policy


def check_frames(frames: int, *, name: str = "frames") -> int:
    """Return `frames` as an int if it is a whole number ≥ 1, else raise ReplayError."""
    if isinstance(frames, bool) or not isinstance(frames, int | np.integer) or frames < 1:
        raise ReplayError(f"{name} must be a whole number of frames ≥ 1, got {frames!r}")
    return int(frames)


def check_replay_work(references: int, replays: int = 1, *, whole_stream: bool = False) -> None:
    """Refuse, before any work, `replays` replays of a stream of `references` that exceed the
    budget: MAX_REPLAY_REFS references replayed in all, and MAX_WHOLE_STREAM_REFS for the
    algorithms that hold the whole stream in memory (Belady's MIN, LRU stack distances)."""
    if whole_stream and references > MAX_WHOLE_STREAM_REFS:
        raise ReplayError(
            f"the trace has {references:,} references; opt and the LRU curve hold the whole "
            f"stream in memory, at most {MAX_WHOLE_STREAM_REFS:,} references (cut the trace)"
        )
    if references * replays > MAX_REPLAY_REFS:
        raise ReplayError(
            f"{replays:,} replays of {references:,} references would replay "
            f"{references * replays:,} in all; the budget is {MAX_REPLAY_REFS:,} (fewer frame "
            "counts, or cut the trace)"
        )


def as_pages(pages: np.ndarray) -> np.ndarray:
    """The reference stream as a 1-D int64 array (a copy only when the dtype differs)."""
    arr = np.asarray(pages)
    if arr.ndim != 1:
        raise ReplayError(f"pages must be a 1-D array of page numbers, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ReplayError(f"pages must hold integers, got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def replay(pages: np.ndarray, frames: int, policy: str) -> ReplayResult:
    """Replay `pages` through `frames` frames that start empty, evicting by `policy`.

    Policies:

    - ``fifo``: evict the page loaded longest ago; hits do not change the order.
    - ``lru``: evict the page referenced longest ago.
    - ``clock``: second chance. Frames form a circle with one hand. A hit sets the page's
      reference bit; a newly loaded page has its bit clear. On a miss with every frame full
      the hand sweeps from where it stopped, clearing set bits, and replaces the first page
      whose bit is already clear; the hand then moves one frame past the new page. Until
      memory is full, pages fill free frames in order and the hand stays on frame 0.
      This is observably the same as libCacheSim's ``Clock`` with its defaults
      (``init-freq=0``, ``n-bit-counter=1``, a FIFO queue that re-inserts referenced
      objects at the tail); tests/unit/test_libcachesim_agreement.py checks it.
    - ``opt``: Belady's MIN: evict the resident page whose next reference is farthest in
      the future. Pages never referenced again count as farthest; among those the one
      whose last reference is earliest goes first (any choice among them gives the same
      fault count, since none is referenced again).
    """
    check_policy(policy)
    stream = as_pages(pages)
    check_replay_work(len(stream), whole_stream=policy == "opt")
    faults = count_faults(DenseStream(stream), check_frames(frames), policy)
    return ReplayResult(references=len(stream), faults=faults, hits=len(stream) - faults)


class DenseStream:
    """A stream as dense page ids 0..n_ids-1 (n_ids: its distinct pages), which the compiled
    counters index arrays by: made once for every count of a curve (and Belady's priorities
    once, when asked)."""

    def __init__(self, stream: np.ndarray):
        pages, ids = np.unique(stream, return_inverse=True)
        self.ids = ids.reshape(-1).astype(np.int64, copy=False)
        self.n_ids = len(pages)
        self._priority: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def priority(self) -> np.ndarray:
        """belady_priority of the stream, made once."""
        if self._priority is None:
            self._priority = belady_priority(self.ids)
        return self._priority

    def stack_distances(self) -> np.ndarray:
        """stack_distances of the stream (one compiled pass)."""
        return lru_stack_distances(self.ids, self.n_ids)


def count_faults(stream: DenseStream, frames: int, policy: str) -> int:
    """The faults of replaying `stream` through `frames` frames (≥ 1) by `policy`, compiled.

    More frames than references never evict: the count is the same, and no array grows
    with a frame count nothing can fill."""
    frames = min(frames, max(1, len(stream)))
    ids, n_ids = stream.ids, stream.n_ids
    if policy == "fifo":
        return int(fifo_faults(ids, n_ids, frames))
    if policy == "lru":
        return int(lru_faults(ids, n_ids, frames))
    if policy == "clock":
        return int(clock_faults(ids, n_ids, frames))
    return int(opt_faults(ids, n_ids, frames, stream.priority()))


def _each_page(pages: np.ndarray, block: int = 1 << 16) -> Iterator[int]:
    """The pages as Python ints, a block at a time: a whole-stream list would cost 36 bytes
    a reference."""
    for start in range(0, len(pages), block):
        yield from pages[start : start + block].tolist()


def _faults_fifo(pages: np.ndarray, frames: int) -> int:
    # A page is resident exactly when it was among the last `frames` pages loaded, so one
    # load counter per page decides hit or miss without keeping a queue.
    loaded_at: dict[int, int] = {}
    get = loaded_at.get
    never = -frames - 1
    loads = 0
    for page in _each_page(pages):
        if get(page, never) < loads - frames:
            loaded_at[page] = loads
            loads += 1
    return loads


def _faults_lru(pages: np.ndarray, frames: int) -> int:
    # OrderedDict keeps recency order in C; the oldest entry is the victim.
    resident: OrderedDict[int, None] = OrderedDict()
    move_to_end = resident.move_to_end
    faults = 0
    for page in _each_page(pages):
        if page in resident:
            move_to_end(page)
            continue
        faults += 1
        if len(resident) >= frames:
            resident.popitem(last=False)
        resident[page] = None
    return faults


def _faults_clock(pages: np.ndarray, frames: int) -> int:
    slot_of: dict[int, int] = {}
    get = slot_of.get
    slots: list[int] = []
    ref_bit: list[bool] = []  # grows with `slots`: one bit per filled frame
    hand = 0
    faults = 0
    for page in _each_page(pages):
        slot = get(page)
        if slot is not None:
            ref_bit[slot] = True
            continue
        faults += 1
        if len(slots) < frames:
            slot_of[page] = len(slots)
            slots.append(page)
            ref_bit.append(False)
            continue
        while ref_bit[hand]:
            ref_bit[hand] = False
            hand = hand + 1 if hand + 1 < frames else 0
        del slot_of[slots[hand]]
        slots[hand] = page
        slot_of[page] = hand
        hand = hand + 1 if hand + 1 < frames else 0
    return faults


def next_use(pages: np.ndarray) -> np.ndarray:
    """For each position, the position of the next reference to the same page, or -1."""
    stream = as_pages(pages)
    n = len(stream)
    nxt = np.full(n, -1, dtype=np.int64)
    if n < 2:
        return nxt
    order = np.argsort(stream, kind="stable")
    by_page = stream[order]
    same = by_page[1:] == by_page[:-1]
    nxt[order[:-1][same]] = order[1:][same]
    return nxt


def belady_priority(pages: np.ndarray) -> np.ndarray:
    """Belady's priority of each reference: the position of the next use of its page, or,
    when the page is never used again, 2n - its position (unique, and above every position:
    the page whose last use is earliest goes first among those)."""
    n = len(pages)
    nxt = next_use(pages)
    return np.where(nxt >= 0, nxt, 2 * n - np.arange(n, dtype=np.int64))


def _faults_opt(pages: np.ndarray, frames: int) -> int:
    # Each resident page has its unique belady_priority. The heap holds negated priorities;
    # an entry is stale once the page has been referenced again or evicted (its current
    # priority differs), and is skipped.
    n = len(pages)
    priority = belady_priority(pages)
    page_list = pages.tolist()
    current: dict[int, int] = {}
    heap: list[int] = []
    push, pop = heapq.heappush, heapq.heappop
    faults = 0
    for page, prio in zip(page_list, priority.tolist(), strict=True):
        if page not in current:
            faults += 1
            if len(current) >= frames:
                while True:
                    top = -pop(heap)
                    victim = page_list[top] if top < n else page_list[2 * n - top]
                    if current.get(victim) == top:
                        del current[victim]
                        break
        current[page] = prio
        push(heap, -prio)
    return faults


# The readable reference of each policy (`count_faults` counts the same, compiled).
PYTHON_COUNTERS: dict[str, Callable[[np.ndarray, int], int]] = {
    "fifo": _faults_fifo,
    "lru": _faults_lru,
    "clock": _faults_clock,
    "opt": _faults_opt,
}


def stack_distances(pages: np.ndarray) -> np.ndarray:
    """LRU stack distance of every reference: distinct other pages since its last use, or -1.

    A reference with distance d hits in an LRU memory of c frames exactly when 0 ≤ d < c
    (Mattson et al., 1970); -1 marks a cold (first) reference. One compiled pass over the
    stream (engine.hotpath.replay_counts.lru_stack_distances: a Fenwick tree of each page's
    latest use, O(n log n))."""
    stream = as_pages(pages)
    check_replay_work(len(stream), whole_stream=True)
    return DenseStream(stream).stack_distances()


def lru_fault_counts(distances: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """LRU faults for every frame count at once, from stack distances (-1 = cold)."""
    sizes = np.asarray(frames, dtype=np.int64)
    cold = int(np.count_nonzero(distances < 0))
    warm = np.sort(distances[distances >= 0])
    # A warm reference faults when its distance is ≥ the number of frames.
    return cold + (len(warm) - np.searchsorted(warm, sizes, side="left"))
