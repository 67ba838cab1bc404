"""Reference streams: deterministic, independent of consumption, of policy and of other VMs."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from engine import simulate, with_overrides, workloads
from engine.hotpath import first_touch, sampling
from engine.hotpath.warm import warm
from engine.scenario import Workload
from engine.workloads import BLOCK_REFS, RefStream, blocks, stream_seed
from engine.workloads.sources import ZipfRanks, zipf_ranks_for
from tests.helpers import small_scenario


def _stream(**kw) -> RefStream:
    return RefStream(Workload(**kw), 4096, stream_seed(1, "vm", 0))


@pytest.mark.parametrize("kind", ["uniform", "zipf", "scan", "phased"])
def test_position_holds_same_reference_however_consumed(kind):
    """Reading a stream in odd-sized pieces gives the same references as one big read."""
    whole_p, whole_w = (a.copy() for a in _stream(kind=kind).take(0, 3 * BLOCK_REFS))
    s = _stream(kind=kind)
    pos, parts_p, parts_w = 0, [], []
    rng = np.random.default_rng(0)
    while pos < 3 * BLOCK_REFS:
        n = int(min(rng.integers(1, 20000), 3 * BLOCK_REFS - pos))
        p, w = s.take(pos, n)
        parts_p.append(p.copy())
        parts_w.append(w.copy())
        pos += n
    assert np.array_equal(np.concatenate(parts_p), whole_p)
    assert np.array_equal(np.concatenate(parts_w), whole_w)


def test_reading_far_ahead_from_a_moving_position_gives_the_same_references():
    """Long reads ahead of a position that moves on (as a look-ahead window reads) see the
    same references as one big read, across the buffer's growth and its compactions."""
    total = 12 * BLOCK_REFS
    whole_p, whole_w = (a.copy() for a in _stream(kind="zipf").take(0, total))
    s = _stream(kind="zipf")
    rng = np.random.default_rng(1)
    pos = 0
    while pos < total - 3 * BLOCK_REFS:
        n = int(rng.integers(1, 3 * BLOCK_REFS))
        p, w = s.take(pos, n)
        assert np.array_equal(p, whole_p[pos : pos + n])
        assert np.array_equal(w, whole_w[pos : pos + n])
        pos += int(rng.integers(0, BLOCK_REFS // 2))


@pytest.mark.parametrize(("lo", "hi"), [(1, 10), (3, 10), (5, 10), (7, 10), (9, 10), (4, 4)])
def test_moving_the_kept_part_to_the_front_keeps_it_whole(lo: int, hi: int) -> None:
    """The buffer's kept part [lo, hi) lands at its front unchanged, however much it overlaps
    where it goes."""
    from engine.workloads.stream import _to_front

    buf = np.arange(12, dtype=np.int64) * 10
    want = buf[lo:hi].copy()
    _to_front(buf, lo, hi)
    np.testing.assert_array_equal(buf[: hi - lo], want)


def test_a_stream_read_ahead_keeps_a_bounded_buffer():
    """A stream read a window ahead of a moving position keeps a buffer a few times the
    window, reused in place, instead of growing or being remade for every block."""
    s = _stream(kind="uniform")
    window = 4 * BLOCK_REFS
    buffer, n_buffers = None, 0
    for pos in range(0, 40 * BLOCK_REFS, BLOCK_REFS // 4):
        s.take(pos, window)
        if s.pages_buf is not buffer:
            buffer, n_buffers = s.pages_buf, n_buffers + 1
        assert s.pages_buf.size <= 4 * (window + BLOCK_REFS)
    assert n_buffers <= 4


def test_stream_cannot_go_backwards():
    """Streams are consumed forwards only; going back is a programming error, said plainly."""
    s = _stream(kind="uniform")
    s.take(0, 2 * BLOCK_REFS + 5)
    s.take(2 * BLOCK_REFS, 10)
    with pytest.raises(ValueError, match="backwards"):
        s.take(0, 1)


def test_zipf_guide_table_equals_binary_search():
    """The fast Zipf sampler picks exactly the ranks a binary search over the CDF picks."""
    z = ZipfRanks(10_000, 0.9)
    u = np.random.default_rng(3).random(200_000)
    expected = np.minimum(np.searchsorted(z.cdf, u, side="right"), z.n - 1)
    assert np.array_equal(z.sample(u), expected)


@pytest.mark.parametrize(("n", "alpha"), [(1, 0.9), (7, 0.0), (5_500, 0.6), (70_001, 1.3)])
def test_zipf_guide_cells_start_at_the_cdf_values_below_them(n, alpha):
    """Guide cell g starts at the number of CDF values <= g/m, as a search of the CDF at
    every cell finds (the table is built from the other side, cheaper, to the same entries)."""
    z = ZipfRanks(n, alpha)
    cells = np.searchsorted(z.cdf, np.arange(z.m) / z.m, side="right")
    assert np.array_equal(z.guide, np.append(cells, n))


def test_like_zipf_streams_share_one_read_only_table():
    """Streams of the same ranks and exponent share one table, which none can change; another
    exponent gets its own."""
    a = _stream(kind="zipf", zipf_alpha=0.7).source.ranks
    b = RefStream(Workload(kind="zipf", zipf_alpha=0.7), 4096, stream_seed(2, "other", 0))
    assert b.source.ranks is a is zipf_ranks_for(4096, 0.7)
    assert _stream(kind="zipf", zipf_alpha=0.8).source.ranks is not a
    with pytest.raises(ValueError, match="read-only"):
        a.cdf[0] = 0.5


def test_zipf_is_skewed_and_in_range():
    """Zipf(1.0) puts far more references on its hottest page than uniform would."""
    p, _ = _stream(kind="zipf", zipf_alpha=1.0, scatter=False).take(0, 100_000)
    assert p.min() >= 0 and p.max() < 4096
    counts = np.bincount(p, minlength=4096)
    assert counts[0] > 20 * counts.mean()


def test_write_fraction_is_respected():
    """About write_fraction of references write."""
    _, w = _stream(kind="uniform", write_fraction=0.25).take(0, 200_000)
    assert abs(w.mean() - 0.25) < 0.01


def test_phased_moves_its_working_set():
    """A phased workload touches a small set per phase and a new place in the next phase."""
    s = _stream(kind="phased", ws_pages=200, phase_refs=50_000)
    p, _ = s.take(0, 100_000)
    a, b = set(p[:50_000].tolist()), set(p[50_000:].tolist())
    assert len(a) <= 200 and len(b) <= 200
    assert a != b


def test_mixture_uses_components_by_weight():
    """A 90/10 mixture of a small zipf and a scan lands mostly in the zipf's span."""
    s = _stream(
        kind="mixture",
        components=[
            {"kind": "zipf", "pages": 100, "weight": 0.9},
            {"kind": "scan", "pages": 4096, "weight": 0.1},
        ],
    )
    p, _ = s.take(0, 50_000)
    share_small = np.mean(p < 100)
    assert 0.88 < share_small < 0.95


def test_vm_stream_independent_of_policy_and_neighbours():
    """Two policies, or a changed neighbour, do not change a VM's references (common random
    numbers): the first N references of VM 'a' are identical."""
    s1 = small_scenario()
    s2 = with_overrides(s1, ["vms[1].workload.write_fraction=0.9", 'policy.victims="random"'])
    from engine.simulator import Simulation

    streams = []
    for s in (s1, s2):
        sim = Simulation(s, record=False)
        streams.append(sim.vcpus[0].stream.take(0, 10_000)[0].copy())
    assert np.array_equal(streams[0], streams[1])


def test_same_scenario_same_seed_same_result():
    """Determinism: the same scenario and seed give identical results; another seed does not."""
    s = small_scenario()
    a, b = simulate(s, record=False), simulate(s, record=False)
    assert a.to_json() == b.to_json()
    c = simulate(with_overrides(s, ["seed=6"]), record=False)
    assert c.summary != a.summary


@pytest.mark.parametrize(("fraction", "expected"), [(0.0, False), (1.0, True)])
def test_write_fraction_at_its_bounds_is_every_or_no_reference(fraction, expected):
    """write_fraction 0 writes on no reference and 1 on every one (no draw decides them)."""
    _, w = _stream(kind="zipf", write_fraction=fraction).take(0, 2 * BLOCK_REFS)
    assert w.size == 2 * BLOCK_REFS
    assert bool(w.all()) is expected and bool(w.any()) is expected


def test_a_second_stream_of_the_same_seed_reads_the_kept_blocks():
    """A stream made again (the run after its baseline) gets the same references without
    drawing them again."""
    first = _stream(kind="zipf", write_fraction=0.3)
    p1, w1 = (a.copy() for a in first.take(0, 2 * BLOCK_REFS))
    again = _stream(kind="zipf", write_fraction=0.3)
    assert again.blocks is first.blocks
    drawn = len(again.blocks.kept)
    p2, w2 = again.take(0, 2 * BLOCK_REFS)
    assert len(again.blocks.kept) == drawn
    assert np.array_equal(p1, p2) and np.array_equal(w1, w2)


def test_a_stream_whose_blocks_were_not_kept_draws_the_same_references(monkeypatch):
    """With no budget to keep blocks, a second stream draws its own copy: same references."""
    monkeypatch.setattr(blocks, "_CACHE", blocks.StreamCache(0, most_streams=4))
    p1, w1 = (a.copy() for a in _stream(kind="phased", write_fraction=0.2).take(0, 3 * BLOCK_REFS))
    late = _stream(kind="phased", write_fraction=0.2)
    p2, w2 = late.take(BLOCK_REFS, 2 * BLOCK_REFS)
    assert late.blocks.shared is False
    assert np.array_equal(p1[BLOCK_REFS:], p2) and np.array_equal(w1[BLOCK_REFS:], w2)


def test_forgetting_kept_blocks_makes_the_next_stream_draw_afresh():
    """After forget_kept_blocks a new stream draws its blocks itself: the same references."""
    p1, _ = (a.copy() for a in _stream(kind="uniform").take(0, BLOCK_REFS))
    workloads.forget_kept_blocks()
    fresh = _stream(kind="uniform")
    assert fresh.blocks.kept == []
    assert np.array_equal(fresh.take(0, BLOCK_REFS)[0], p1)


MIXED_PARTS = [
    {"kind": "zipf", "pages": 900, "weight": 0.6},
    {"kind": "uniform", "pages": 300, "weight": 0.3},
    {"kind": "scan", "pages": 2000, "weight": 0.1},
]


def _kinds() -> list[dict]:
    return [
        {"kind": "uniform", "write_fraction": 0.3},
        {"kind": "zipf", "write_fraction": 0.3},
        {"kind": "zipf", "scatter": False},
        {"kind": "scan", "write_fraction": 0.5},
        {"kind": "phased", "phase_refs": 50_000, "write_fraction": 0.1},
        {"kind": "mixture", "components": MIXED_PARTS, "write_fraction": 0.2},
    ]


@pytest.mark.parametrize("fields", _kinds(), ids=lambda f: f["kind"])
def test_a_stream_that_jumps_ahead_reads_what_a_full_read_finds_there(fields):
    """Skipping whole blocks (generators moved on, nothing drawn) lands on exactly the
    references and write flags a stream that drew every block finds at those positions; a
    later stream reading from the start past the skipped blocks finds them too."""
    whole_p, whole_w = (a.copy() for a in _stream(**fields).take(0, 7 * BLOCK_REFS))
    workloads.forget_kept_blocks()
    jumper = _stream(**fields)
    jumper.take(0, 100)
    pos = 4 * BLOCK_REFS + 321
    p, w = jumper.take(pos, 2 * BLOCK_REFS)
    assert jumper.blocks.kept[1:4] == [None, None, None], "the blocks in between were drawn"
    assert np.array_equal(p, whole_p[pos : pos + 2 * BLOCK_REFS])
    assert np.array_equal(w, whole_w[pos : pos + 2 * BLOCK_REFS])
    reader = _stream(**fields)  # shares the jumper's blocks, with the skipped ones missing
    p, w = reader.take(0, 7 * BLOCK_REFS)
    assert np.array_equal(p, whole_p) and np.array_equal(w, whole_w)


@pytest.mark.parametrize("fields", _kinds(), ids=lambda f: f["kind"])
def test_pages_within_bounds_every_page_until_its_limit(fields):
    """Every reference from pos until the limit pages_within gives is to a page in its range;
    a phased stream's range is its phase's working set, and ends with the phase."""
    s = _stream(**fields)
    pages, _ = s.take(0, 3 * BLOCK_REFS)
    for pos in (0, 12_345, 49_999, 50_000, 2 * BLOCK_REFS):
        lo, hi, until = s.source.pages_within(pos)
        ahead = pages[pos : min(until, pages.size)]
        assert ahead.size and lo <= int(ahead.min()) and int(ahead.max()) < hi
    if fields["kind"] == "phased":
        assert s.source.pages_within(0)[2] == 50_000
        assert s.source.pages_within(0)[1] - s.source.pages_within(0)[0] == s.source.ws
    if fields["kind"] == "mixture":
        assert s.source.pages_within(0)[:2] == (0, 2000)


def test_the_warm_module_compiles_the_stream_kernels():
    """engine.hotpath.warm compiles every kernel the streams call (Zipf ranks, a mixture's
    parts) and the unlimited-memory run's, so no first run of a scenario waits for them."""
    warm()
    kernels = (sampling.zipf_ranks, sampling.mixture_parts, sampling.place_part)
    for kernel in (*kernels, first_touch.run_first_touches):
        assert kernel.signatures, f"{kernel.py_func.__name__} was not compiled"


def test_streams_drawn_on_two_threads_at_once_are_the_same():
    """Sessions draw streams on their own threads (the scratch arrays are per thread): two
    mixtures drawn at once give the references each gives alone."""
    fields = {"kind": "mixture", "components": MIXED_PARTS, "write_fraction": 0.2}
    alone = []
    for vcpu in (0, 1):
        workloads.forget_kept_blocks()
        s = RefStream(Workload(**fields), 4096, stream_seed(1, "vm", vcpu))
        alone.append(s.take(0, 6 * BLOCK_REFS)[0].copy())
    workloads.forget_kept_blocks()
    streams = [RefStream(Workload(**fields), 4096, stream_seed(1, "vm", v)) for v in (0, 1)]
    with ThreadPoolExecutor(2) as pool:
        both = list(pool.map(lambda s: s.take(0, 6 * BLOCK_REFS)[0].copy(), streams))
    assert all(np.array_equal(a, b) for a, b in zip(alone, both, strict=True))
