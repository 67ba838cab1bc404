"""The compiled replay counters (engine.hotpath.replay_counts) count exactly the faults of the
Python reference counters (engine.replay.PYTHON_COUNTERS), on random streams with few and many
distinct pages, sparse page numbers, and frame counts from one past the stream's length."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.replay import POLICIES, PYTHON_COUNTERS, DenseStream, count_faults, replay


def _python(pages: np.ndarray, frames: int, policy: str) -> int:
    return PYTHON_COUNTERS[policy](pages, min(frames, max(1, len(pages))))


@settings(max_examples=300)
@given(
    pages=st.lists(st.integers(0, 40), max_size=300),
    frames=st.integers(1, 60),
    policy=st.sampled_from(POLICIES),
)
def test_compiled_counts_equal_the_python_reference(pages, frames, policy) -> None:
    stream = np.array(pages, dtype=np.int64)
    assert count_faults(DenseStream(stream), frames, policy) == _python(stream, frames, policy)


@pytest.mark.parametrize("policy", POLICIES)
def test_long_streams_of_sparse_pages_count_the_same(policy: str) -> None:
    """50,000 references to page numbers spread over 2^40 (a hot set and a long tail), at
    frame counts from one to every distinct page: the same counts, and replay gives them."""
    rng = np.random.default_rng(7)
    hot = rng.integers(0, 1 << 40, size=64)
    tail = rng.integers(0, 1 << 40, size=5_000)
    stream = np.where(
        rng.random(50_000) < 0.8,
        hot[rng.integers(0, 64, 50_000)],
        tail[rng.integers(0, 5_000, 50_000)],
    ).astype(np.int64)
    dense = DenseStream(stream)
    for frames in (1, 2, 7, 63, 64, 65, 500, dense.n_ids, len(stream) + 1):
        want = _python(stream, frames, policy)
        assert count_faults(dense, frames, policy) == want, frames
        assert replay(stream, frames, policy).faults == want


def test_a_dense_stream_keeps_the_order_of_references() -> None:
    """Dense ids are a renaming of the pages: equal pages get equal ids, others differ."""
    stream = np.array([1 << 50, 3, 3, -7, 1 << 50, 9], dtype=np.int64)
    dense = DenseStream(stream)
    assert dense.n_ids == 4 and len(dense) == 6
    same = stream[:, None] == stream[None, :]
    assert np.array_equal(dense.ids[:, None] == dense.ids[None, :], same)
