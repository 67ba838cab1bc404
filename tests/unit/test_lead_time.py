"""The compiled lead times of predictive's restores (engine/hotpath/lead_time.py) against the
same device model on Python integers."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.hotpath import lead_time
from tests.unit.test_predictive import mini, run


def test_compiled_lead_times_equal_the_python_ones_for_any_backlog() -> None:
    """For random backlogs, lead_ns and deliverable give exactly what the Python-integer
    search gives, on a lane shared with demand reads and on a spare one."""
    rng = np.random.default_rng(3)
    for preset in ("nvme-ssd", "sata-ssd"):
        pol = run(mini(device={"preset": preset}), {"name": "predictive"}, steps=1).policy
        t = pol.machine.now_ns
        for shared in (False, True):
            pol.shared_lanes = shared
            for _ in range(40):
                backlog = (
                    int(rng.integers(0, 3_000_000)),
                    int(rng.integers(0, 20_000_000)),
                    int(rng.integers(0, 8)),
                    int(rng.integers(0, 30)),
                    int(rng.integers(0, 5_000)),
                )
                pol._backlog_key = (t, pol.machine.device.seq, 0, 0)
                pol._backlog = lambda now_ns, b=backlog: b  # type: ignore[method-assign]
                for n in (0, 1, 7, 64, 65, 1_000, 12_345):
                    assert pol.lead_ns(n, t) == pol._lead_py(n, t)
                for within in (0, 50_000, 1_000_000, int(rng.integers(1, 60_000_000))):
                    assert pol.deliverable(within, t) == pol._deliverable_long(within, t)


def test_a_time_too_long_for_int64_is_searched_on_python_integers() -> None:
    """A time past MAX_WITHIN_NS (a VM planned for no start) still gives the Python result,
    which grows with the time, not a wrapped-around one."""
    pol = run(mini(), {"name": "predictive"}, steps=1).policy
    t = pol.machine.now_ns
    near = pol.deliverable(lead_time.MAX_WITHIN_NS - 1, t)
    far = pol.deliverable(1 << 62, t)
    assert far == pol._deliverable_long(1 << 62, t)
    assert far >= near > 0


@settings(max_examples=300)
@given(
    backlog=st.tuples(
        st.integers(0, 10**7),  # until the first prefetch lane is free
        st.integers(0, 10**8),  # device time left in service on those lanes
        st.integers(0, 16),  # operations in service
        st.integers(0, 64),  # operations queued ahead
        st.integers(0, 10**5),  # pages queued ahead
    ),
    device=st.tuples(
        st.integers(1, 16),  # channels
        st.integers(0, 10**7),  # latency
        st.integers(1, 10**5),  # transfer time of a page
        st.integers(0, 10**6),  # least time of an operation
        st.integers(1, 256),  # pages per read
        st.integers(1, 16),  # prefetch lanes
        st.sampled_from([0, 1_000_000]),  # a lane shared with demand reads rounds to steps
        st.integers(0, 10**6),  # margin
    ),
    n=st.integers(0, 50_000),
    more=st.integers(1, 50_000),
)
def test_a_lead_time_never_shrinks_with_more_pages(
    backlog: tuple[int, ...], device: tuple[int, ...], n: int, more: int
) -> None:
    """More pages never land sooner: swap_out's write-back skips picking a VM's pages when
    even the most it could write lands in time, which is exact only because of this."""
    args = (*backlog, *device)
    assert lead_time.restore_lead_ns(n, *args) <= lead_time.restore_lead_ns(n + more, *args)
