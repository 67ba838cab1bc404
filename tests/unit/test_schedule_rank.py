"""Victims ranked by the plan, predictive's and the schedule oracle's: the compiled selections
(engine.hotpath.schedule_rank) give the pages, in the order, of the numpy statements of the
rules (`ranked_victims_reference`), call by call in real runs: reclaim's (every key), and a
restore's (only keys past a start)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine import load_scenario, simulate
from engine.hotpath.schedule_rank import ranked_pages, set_ranked_pages
from engine.policies.schedule_victims import PROTECTED, ScheduleVictims, SetVictims
from engine.pool import CLEAN, DIRTY
from engine.scenario.overrides import with_overrides

ROOT = Path(__file__).resolve().parents[2]


Asked = list[tuple[int, bool, int, int]]  # each call's n, clean_only, above and pages given


def _checked_against_reference(
    monkeypatch: pytest.MonkeyPatch, cls: type[ScheduleVictims]
) -> Asked:
    """Make cls.ranked_victims compare its choice with ranked_victims_reference's at every
    call (the reference first: it reads the same state); returns the calls as they come."""
    compiled = cls.ranked_victims
    asked: Asked = []

    def both(
        self: ScheduleVictims, n: int, now_ns: int, clean_only: bool = False,
        above: int = PROTECTED - 1,
    ) -> np.ndarray:  # fmt: skip
        expected = self.ranked_victims_reference(n, now_ns, clean_only, above)
        chosen = compiled(self, n, now_ns, clean_only, above)
        assert np.array_equal(chosen, expected), (n, now_ns, clean_only, above)
        asked.append((n, clean_only, above, int(chosen.size)))
        return chosen

    monkeypatch.setattr(cls, "ranked_victims", both)
    return asked


@pytest.mark.parametrize(
    ("name", "ms"),
    [("nvme_8vm_2x", 200), ("patent_demo", 300), ("real_programs", 400), ("scan_vs_lru", 300)],
)
def test_compiled_ranking_is_the_reference_call_by_call(
    monkeypatch: pytest.MonkeyPatch, name: str, ms: int
) -> None:
    asked = _checked_against_reference(monkeypatch, ScheduleVictims)
    scenario = load_scenario(ROOT / "scenarios" / f"{name}.toml")
    for seed in (1, 2):
        simulate(with_overrides(scenario, [f"seed={seed}", f"duration_ms={ms}"]), "predictive")
    assert len(asked) > 20, f"{name}: ranked_victims was asked {len(asked)} times"


def test_restores_ask_for_keys_past_a_start_and_get_the_reference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A restore asks only for pages whose key is past its start (`above`): the case of the
    ranking that stops early, met here in real runs."""
    asked = _checked_against_reference(monkeypatch, ScheduleVictims)
    for name in ("real_programs", "nvme_8vm_2x"):
        scenario = load_scenario(ROOT / "scenarios" / f"{name}.toml")
        simulate(with_overrides(scenario, ["duration_ms=400"]), "predictive", record=False)
    past_a_start = [given for _, _, above, given in asked if above > PROTECTED]
    assert past_a_start, "no restore asked for victims past its start"
    assert min(past_a_start) < max(past_a_start)  # some stopped short of n, some did not


def test_ages_too_far_apart_to_pack_are_ranked_the_same() -> None:
    """Touch stamps a span apart that no packed (age, page) value holds: the stable sort's way
    gives the same order (oldest first, then the lower page) as packing does for close ones."""
    n_pages = 64
    state = np.full(n_pages, CLEAN, dtype=np.int8)  # the pool's dtype: no other compile
    vm_base = np.array([0, 32, 64], dtype=np.int64)
    rng = np.random.default_rng(3)
    touch = rng.integers(0, 1000, n_pages).astype(np.int64)
    touch[::7] = 1000  # ties
    idle = np.zeros(2, dtype=np.int64)
    starts = np.array([10**12, 5 * 10**11], dtype=np.int64)
    zeros = np.zeros(2, dtype=np.int64)
    work = np.empty((3, n_pages), dtype=np.int64)

    def rank(stamps: np.ndarray) -> np.ndarray:
        return ranked_pages(
            40, PROTECTED - 1, PROTECTED, 0, False, state, vm_base, idle, starts, zeros, zeros,
            zeros, stamps, 1, 1, work,
        )  # fmt: skip

    close = rank(touch)
    far = rank(np.where(touch < 500, touch - (1 << 60), touch))  # spans past 62 bits
    # VM 0's pages first (its start is the farther), oldest first, ties to the lower page.
    expected_vm0 = sorted(range(32), key=lambda p: (touch[p], p))
    assert close[:32].tolist() == expected_vm0
    expected_far = sorted(range(32), key=lambda p: (touch[p] - (1 << 60) * (touch[p] < 500), p))
    assert far[:32].tolist() == expected_far
    assert close.size == far.size == 40
    # The interpreted function (NUMBA_DISABLE_JIT's) chooses the same.
    assert ranked_pages.py_func(
        40, PROTECTED - 1, PROTECTED, 0, False, state, vm_base, idle, starts, zeros, zeros,
        zeros, touch, 1, 1, work,
    ).tolist() == close.tolist()  # fmt: skip


@pytest.mark.parametrize(
    ("name", "ms"), [("nvme_8vm_2x", 200), ("patent_demo", 300), ("real_programs", 400)]
)
def test_the_schedule_oracles_ranking_is_its_reference_call_by_call(
    monkeypatch: pytest.MonkeyPatch, name: str, ms: int
) -> None:
    """The schedule oracle's victims (pages out of every next-period set first, then the sets'):
    the compiled selection gives the reference's pages in its order, at every call of real runs,
    the restores' calls past a start among them."""
    asked = _checked_against_reference(monkeypatch, SetVictims)
    scenario = load_scenario(ROOT / "scenarios" / f"{name}.toml")
    for seed in (1, 2):
        overrides = [f"seed={seed}", f"duration_ms={ms}"]
        simulate(with_overrides(scenario, overrides), "schedule-oracle", record=False)
    assert len(asked) > 20, f"{name}: ranked_victims was asked {len(asked)} times"
    assert any(above > PROTECTED for _, _, above, _ in asked), "no call past a start"


def test_the_schedule_oracles_ranking_by_hand() -> None:
    """Two VMs, one running: the pages out of every set go first (the farther start's VM's
    first, oldest first), then the idle VM's set, then the running VM's (PROTECTED) set; a
    call past a start stops before the sets needed by then; clean_only passes dirty pages by.
    The interpreted function (NUMBA_DISABLE_JIT's) chooses the same."""
    state = np.full(8, CLEAN, dtype=np.int8)
    state[1] = DIRTY
    vm_base = np.array([0, 4, 8], dtype=np.int64)
    running = np.array([1, 0], dtype=np.int64)  # VM 0 runs, VM 1 is idle
    starts = np.array([900, 500], dtype=np.int64)  # VM 0's next start is the farther
    period_start = np.array([100, 0], dtype=np.int64)
    vm_time = np.array([1000, 2000], dtype=np.int64)
    touch = np.array([1010, 1005, 1020, 1001, 1990, 1995, 1980, 1999], dtype=np.int64)
    in_set = np.array([0, 0, 1, 1, 1, 0, 0, 1], dtype=np.bool_)
    work = np.empty((3, 8), dtype=np.int64)

    def rank(n: int, above: int, clean_only: bool, fn=set_ranked_pages) -> list[int]:
        return fn(
            n, above, PROTECTED, 200, clean_only, state, vm_base, running, starts,
            period_start, vm_time, touch, in_set, work,
        ).tolist()  # fmt: skip

    # Out of the sets: VM 0's {0, 1} (start 900) by age, then VM 1's {5, 6} (start 500);
    # then the sets: VM 1's {4, 7} (needed at 500), then VM 0's {2, 3} (PROTECTED).
    assert rank(8, PROTECTED - 1, False) == [1, 0, 6, 5, 4, 7, 3, 2]
    assert rank(8, 500, False) == [1, 0, 6, 5]  # the sets needed by 500 are spared
    assert rank(8, PROTECTED - 1, True) == [0, 6, 5, 4, 7, 3, 2]  # no dirty page
    assert rank(3, PROTECTED - 1, False) == [1, 0, 6]
    assert rank(8, PROTECTED - 1, False, set_ranked_pages.py_func) == rank(8, PROTECTED - 1, False)
