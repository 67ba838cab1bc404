"""predictive's victims ranked by the plan: the compiled selection (engine.hotpath.schedule_rank)
gives the pages, in the order, of the numpy statement of the rule (`ranked_victims_reference`),
call by call in real runs: reclaim's (every key), and a restore's (only keys past a start)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine import load_scenario, simulate
from engine.hotpath.schedule_rank import ranked_pages
from engine.policies.schedule_victims import PROTECTED, ScheduleVictims
from engine.pool import CLEAN
from engine.scenario.overrides import with_overrides

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("name", "ms"),
    [("nvme_8vm_2x", 200), ("patent_demo", 300), ("real_programs", 400), ("scan_vs_lru", 300)],
)
def test_compiled_ranking_is_the_reference_call_by_call(
    monkeypatch: pytest.MonkeyPatch, name: str, ms: int
) -> None:
    compiled = ScheduleVictims.ranked_victims
    asked: list[tuple[int, bool, int]] = []

    def both(
        self: ScheduleVictims, n: int, now_ns: int, clean_only: bool = False,
        above: int = PROTECTED - 1,
    ) -> np.ndarray:  # fmt: skip
        chosen = compiled(self, n, now_ns, clean_only, above)
        expected = self.ranked_victims_reference(n, now_ns, clean_only, above)
        assert np.array_equal(chosen, expected), (n, now_ns, clean_only, above)
        asked.append((n, clean_only, above))
        return chosen

    monkeypatch.setattr(ScheduleVictims, "ranked_victims", both)
    scenario = load_scenario(ROOT / "scenarios" / f"{name}.toml")
    for seed in (1, 2):
        simulate(with_overrides(scenario, [f"seed={seed}", f"duration_ms={ms}"]), "predictive")
    assert len(asked) > 20, f"{name}: ranked_victims was asked {len(asked)} times"


def test_restores_ask_for_keys_past_a_start_and_get_the_reference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A restore asks only for pages whose key is past its start (`above`): the case of the
    ranking that stops early, met here in real runs."""
    compiled = ScheduleVictims.ranked_victims
    past_a_start = []

    def both(
        self: ScheduleVictims, n: int, now_ns: int, clean_only: bool = False,
        above: int = PROTECTED - 1,
    ) -> np.ndarray:  # fmt: skip
        chosen = compiled(self, n, now_ns, clean_only, above)
        assert np.array_equal(chosen, self.ranked_victims_reference(n, now_ns, clean_only, above))
        if above > PROTECTED:
            past_a_start.append(chosen.size)
        return chosen

    monkeypatch.setattr(ScheduleVictims, "ranked_victims", both)
    for name in ("real_programs", "nvme_8vm_2x"):
        scenario = load_scenario(ROOT / "scenarios" / f"{name}.toml")
        simulate(with_overrides(scenario, ["duration_ms=400"]), "predictive", record=False)
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
    work = np.empty((2, n_pages), dtype=np.int64)

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
