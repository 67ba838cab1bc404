"""Miss-ratio curves: faults per reference of a page-reference stream as memory grows.

LRU comes from stack distances in one pass over the stream (exact for every size at once);
the other policies are replayed once per size with engine.replay's compiled counters. A size
that holds every distinct page needs no replay: it misses once per distinct page, under any
policy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.limits import MAX_MRC_POINTS
from engine.replay import (
    DenseStream,
    ReplayError,
    as_pages,
    check_frames,
    check_policy,
    check_replay_work,
    count_faults,
    lru_fault_counts,
)


def fault_counts(
    pages: np.ndarray, frames: Sequence[int], policies: Sequence[str] = ("lru",)
) -> dict[str, np.ndarray]:
    """Exact fault counts (int64) per policy, one per entry of `frames`, in that order."""
    stream = as_pages(pages)
    if isinstance(policies, str):
        policies = (policies,)
    for policy in policies:
        check_policy(policy)
    check_points(len(frames))
    sizes = [check_frames(f, name="every frame count") for f in frames]
    if not sizes:
        raise ReplayError("frames must list at least one frame count")
    unique = list(dict.fromkeys(policies))
    check_replay_work(len(stream), whole_stream=any(p in ("lru", "opt") for p in unique))
    dense = DenseStream(stream)  # (once: LRU's distances, every replay, the distinct pages)
    distinct = dense.n_ids
    # Sizes below the distinct pages are replayed once each; the rest miss once per page.
    small = sorted({s for s in sizes if s < distinct})
    replays = len(small) * sum(p != "lru" for p in unique)
    check_replay_work(len(stream), max(1, replays))
    counts: dict[str, np.ndarray] = {}
    for policy in unique:
        if policy == "lru":
            counts[policy] = lru_fault_counts(dense.stack_distances(), np.array(sizes))
            continue
        faults = {s: count_faults(dense, s, policy) for s in small}
        counts[policy] = np.array([faults.get(s, distinct) for s in sizes], dtype=np.int64)
    return counts


def check_points(points: int) -> None:
    """Refuse a curve of more than MAX_MRC_POINTS frame counts."""
    if points > MAX_MRC_POINTS:
        raise ReplayError(
            f"{points:,} frame counts on one curve; at most {MAX_MRC_POINTS:,} are allowed"
        )


def mrc(
    pages: np.ndarray, frames: Sequence[int], policies: Sequence[str] = ("lru",)
) -> dict[str, np.ndarray]:
    """Miss ratio (faults ÷ references, float64) per policy for each entry of `frames`.

    Frames start empty, so cold misses count. An empty stream has ratio 0 everywhere.
    """
    counts = fault_counts(pages, frames, policies)
    n = len(as_pages(pages))
    return {policy: c / n if n else np.zeros(len(c)) for policy, c in counts.items()}


def default_frames(distinct_pages: int, points: int = 20) -> list[int]:
    """About `points` frame counts spread evenly from small up to `distinct_pages`.

    Every count from 1 when there are few distinct pages; the last entry is always
    `distinct_pages`, where every policy misses only on cold references.
    """
    top = max(1, int(distinct_pages))
    if top <= points:
        return list(range(1, top + 1))
    grid = np.linspace(top / points, top, points)
    return sorted({max(1, round(float(x))) for x in grid})
