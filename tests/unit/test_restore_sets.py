"""The restore sets chosen in one compiled call (engine.hotpath.restore_sets): the schedule
oracle's and predictive's pages, in the order, of the numpy statements of the rules
(`restore_set_reference`), and the schedule oracle's size counted without ordering, call by
call in real runs (one vCPU per VM, and several); then the edges no shipped run reaches."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from engine import load_scenario, simulate
from engine.hotpath.restore_sets import (
    _gather_recent,
    _most_recent,
    count_in_state,
    recent_swapped,
    recent_swapped_size,
    set_first_restore,
    set_first_restore_size,
)
from engine.policies.schedule_oracle import ScheduleOracle
from engine.policies.working_sets import WorkingSets
from engine.pool import CLEAN, SWAPPED
from engine.scenario.overrides import with_overrides

ROOT = Path(__file__).resolve().parents[2]


def _watch_oracle(monkeypatch: pytest.MonkeyPatch, seen: Counter[str]) -> None:
    """Make ScheduleOracle's restore_set and restore_set_size assert, at every call, that
    they give the reference's pages and size; count the kinds of set met in `seen`."""
    compiled, sized = ScheduleOracle.restore_set, ScheduleOracle.restore_set_size

    def kind(self: ScheduleOracle, vm: int, expected: np.ndarray) -> None:
        lo, hi = self.machine.pool.vm_range(vm)
        mask = self.next_period_mask(vm)
        in_set = int(np.count_nonzero(mask & (self.machine.pool.state[lo:hi] == SWAPPED)))
        seen["calls"] += 1
        seen["set fills the cap"] += in_set >= self.vm_cap(vm) > 0
        seen["guess adds pages"] += expected.size > in_set
        seen["several vcpus"] += len(self.vm_vcpus[vm]) > 1

    def both(self: ScheduleOracle, vm: int, now_ns: int) -> np.ndarray:
        chosen = compiled(self, vm, now_ns)
        expected = self.restore_set_reference(vm, now_ns)
        assert chosen.tolist() == expected.tolist(), (vm, now_ns)
        kind(self, vm, expected)
        return chosen

    def both_sizes(self: ScheduleOracle, vm: int, now_ns: int) -> int:
        size = sized(self, vm, now_ns)
        assert size == self.restore_set_reference(vm, now_ns).size, (vm, now_ns)
        seen["sizes"] += 1
        # (a restore counts its set first: an empty one is met here, and never ordered)
        seen["empty"] += size == 0
        return size

    monkeypatch.setattr(ScheduleOracle, "restore_set", both)
    monkeypatch.setattr(ScheduleOracle, "restore_set_size", both_sizes)


@pytest.mark.parametrize(
    ("name", "ms", "at_least"), [("nvme_8vm_2x", 300, 200), ("real_programs", 400, 40)]
)
def test_the_oracles_compiled_sets_are_the_reference_call_by_call(
    monkeypatch: pytest.MonkeyPatch, name: str, ms: int, at_least: int
) -> None:
    """Seed 1 with the default cap, seed 2 with a cap of 5% of the frames, which the set's
    swapped pages alone often fill in the first few hundred ms."""
    seen: Counter[str] = Counter()
    _watch_oracle(monkeypatch, seen)
    scenario = load_scenario(ROOT / "scenarios" / f"{name}.toml")
    for seed, cap_pct in ((1, 50.0), (2, 5.0)):
        run = with_overrides(scenario, [f"seed={seed}", f"duration_ms={ms}"])
        simulate(run, {"name": "schedule-oracle", "restore_cap_pct": cap_pct}, record=False)
    assert seen["calls"] >= at_least and seen["sizes"] >= at_least, seen
    # Each way a set is made was met: by the set alone, with the guess's pages, and none.
    assert seen["set fills the cap"] > 0 and seen["guess adds pages"] > 0, seen
    assert seen["empty"] > 0, seen
    if name == "real_programs":  # its `sort` VM runs on two vCPUs
        assert seen["several vcpus"] > 0, seen


def test_sizes_are_exact_when_the_guess_is_ordered_by_frequency(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """restore_order = "frequency" takes the reference's path for the pages; the size is
    still counted without ordering, and is still the set's."""
    seen: Counter[str] = Counter()
    _watch_oracle(monkeypatch, seen)
    scenario = load_scenario(ROOT / "scenarios" / "nvme_8vm_2x.toml")
    policy = {"name": "schedule-oracle", "restore_order": "frequency"}
    simulate(with_overrides(scenario, ["duration_ms=300"]), policy, record=False)
    assert seen["sizes"] > 50 and seen["guess adds pages"] > 0, seen


@pytest.mark.parametrize(("name", "ms"), [("nvme_8vm_2x", 300), ("patent_demo", 300)])
def test_predictives_compiled_sets_are_the_reference_call_by_call(
    monkeypatch: pytest.MonkeyPatch, name: str, ms: int
) -> None:
    compiled = WorkingSets.restore_set
    sizes: list[int] = []

    def both(self: WorkingSets, vm: int, now_ns: int) -> np.ndarray:
        chosen = compiled(self, vm, now_ns)
        assert chosen.tolist() == self.restore_set_reference(vm, now_ns).tolist(), (vm, now_ns)
        sizes.append(chosen.size)
        return chosen

    monkeypatch.setattr(WorkingSets, "restore_set", both)
    scenario = load_scenario(ROOT / "scenarios" / f"{name}.toml")
    simulate(with_overrides(scenario, [f"duration_ms={ms}"]), "predictive", record=False)
    assert len(sizes) > 50 and min(sizes) < max(sizes), (len(sizes), set(sizes))


def _one_vm(n_pages: int = 40, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """A VM of pages [8, 8 + n_pages) in a pool of 8 + n_pages, every other page swapped,
    with stamps from a small range (many ties): state and touch_vns."""
    rng = np.random.default_rng(seed)
    state = np.full(8 + n_pages, CLEAN, dtype=np.int8)  # the pool's dtype: no other compile
    state[8::2] = SWAPPED
    touch = rng.integers(1, 12, 8 + n_pages).astype(np.int64)
    return state, touch


def _expected(mask: np.ndarray, state: np.ndarray, touch: np.ndarray, since: int, cap: int,
              lo: int) -> list[int]:  # fmt: skip
    """The rule in plain Python: the set's swapped pages most recent first (ties to the lower
    page), then the capped guess's pages outside the set, capped."""
    swapped = [p for p in range(lo, state.size) if state[p] == SWAPPED]
    first = sorted((p for p in swapped if mask[p - lo]), key=lambda p: (-touch[p], p))
    guess = sorted((p for p in swapped if touch[p] >= since), key=lambda p: (-touch[p], p))
    return (first + [p for p in guess[:cap] if not mask[p - lo]])[:cap]


def _restore(mask: np.ndarray, state: np.ndarray, touch: np.ndarray, since: int, cap: int,
             lo: int) -> list[int]:  # fmt: skip
    """set_first_restore's pages, checked against its size and its interpreted function."""
    work = np.empty((3, state.size - lo), dtype=np.int64)
    args = (mask, state, touch, since, cap, lo, state.size)
    pages = set_first_restore(*args, work).tolist()
    assert set_first_restore.py_func(*args, work).tolist() == pages
    assert set_first_restore_size(*args) == len(pages)
    return pages


@pytest.mark.parametrize("cap", [0, 1, 3, 8, 15, 40])
def test_the_set_comes_first_then_the_guess_capped(cap: int) -> None:
    """Caps below the set's swapped pages (the set alone, cut), between (the guess's pages
    after it) and above everything; a cap of 0 gives nothing."""
    state, touch = _one_vm()
    mask = np.zeros(40, dtype=bool)
    mask[[0, 2, 4, 6, 8, 10, 12, 14, 30, 31]] = True  # 9 swapped pages in the set, one not
    pages = _restore(mask, state, touch, 6, cap, 8)
    assert pages == _expected(mask, state, touch, 6, cap, 8)
    in_set = [p for p in pages if mask[p - 8]]
    assert pages[: len(in_set)] == in_set and len(in_set) == min(cap, 9)
    assert len(pages) > 9 or cap <= 9  # the guess adds pages once the set's are all in


def test_an_empty_set_and_no_working_set_give_nothing_and_the_guess_alone() -> None:
    state, touch = _one_vm()
    nothing = np.zeros(40, dtype=bool)
    assert _restore(nothing, state, touch, 100, 16, 8) == []  # nothing touched since 100
    guess = _restore(nothing, state, touch, 6, 16, 8)
    assert guess == _expected(nothing, state, touch, 6, 16, 8) and len(guess) > 0
    work = np.empty((3, 40), dtype=np.int64)
    assert recent_swapped(state, touch, 6, 16, 8, 48, work).tolist() == guess
    assert recent_swapped.py_func(state, touch, 6, 16, 8, 48, work).tolist() == guess


@pytest.mark.parametrize("cap", [4, 100, 700])
def test_stamps_too_far_apart_to_pack_are_ordered_the_same(cap: int) -> None:
    """Stamps spanning more than a packed (key, page) value holds beside the page's bits: the
    stable sorts' way gives the order packing gives close stamps, for few of many (a heap)
    and many of many (a radix sort when they pack: 550 swapped pages in the set)."""
    state, touch = _one_vm(1200)
    far = np.where(touch > 6, touch + (1 << 61), touch)  # same order, a span past 62 bits
    mask = np.zeros(1200, dtype=bool)
    mask[:1100] = True
    close_pages = _restore(mask, state, touch, 6, cap, 8)
    far_pages = _restore(mask, state, far, 6, cap, 8)
    assert far_pages == close_pages == _expected(mask, state, touch, 6, cap, 8)
    either = (state[8:] == SWAPPED) & (mask | (touch[8:] >= 6))
    assert len(close_pages) == min(cap, int(np.count_nonzero(either)))


def test_the_interpreted_ordering_is_the_compiled_one() -> None:
    """The gathering and ordering as plain Python (NUMBA_DISABLE_JIT's), by radix and by
    `_oldest`."""
    state, touch = _one_vm(1200)
    for need in (3, 600):
        rows = {}
        for way, order, gather in (
            ("compiled", _most_recent, _gather_recent),
            ("interpreted", _most_recent.py_func, _gather_recent.py_func),
        ):
            work = np.empty((3, 1200), dtype=np.int64)
            m = gather(state, touch, 1, 8, 1208, work[0], work[1], work[2].view(np.uint8))
            out = np.empty(need, dtype=np.int64)
            rows[way] = out[: order(need, work[0], work[1], m, out, 0)].tolist()
        assert (
            rows["compiled"]
            == rows["interpreted"]
            == _expected(np.zeros(1200, dtype=bool), state, touch, 1, need, 8)
        )


def test_the_compiled_counts_are_numpys() -> None:
    """predictive's set size (recent_swapped_size) and a VM's dirty pages (count_in_state)
    are the numpy counts they replace, on random states, touch times and ranges, and the set
    size is the size of recent_swapped's set."""
    rng = np.random.default_rng(8)
    for _ in range(200):
        size = int(rng.integers(1, 400))
        state = rng.integers(0, 7, size=size).astype(np.int8)
        touch = rng.integers(0, 100, size=size).astype(np.int64)
        lo = int(rng.integers(0, size))
        hi = int(rng.integers(lo, size + 1))
        since, cap = int(rng.integers(0, 120)), int(rng.integers(1, 60))
        recent = (touch[lo:hi] >= since) & (state[lo:hi] == SWAPPED)
        want = min(int(np.count_nonzero(recent)), cap)
        assert recent_swapped_size(state, touch, since, cap, lo, hi) == want
        work = np.empty((3, size), dtype=np.int64)
        assert recent_swapped(state, touch, since, cap, lo, hi, work).size == want
        for wanted in range(7):
            got = count_in_state(state, lo, hi, wanted)
            assert got == int(np.count_nonzero(state[lo:hi] == wanted))
