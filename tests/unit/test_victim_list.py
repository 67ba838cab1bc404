"""The kept list of the oldest pages (victims.Oldest) hands out exactly what a full selection
over the pool would, on every call of whole runs, for LRU and FIFO and several pCPUs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine import Simulation, load_scenario, with_overrides
from engine.policies import victims

ROOT = Path(__file__).resolve().parents[2]


class Checked(victims.Oldest):
    """Oldest that compares each answer with a full selection made at the same moment."""

    def __init__(self, key: str) -> None:
        super().__init__(key, keep=512)  # a short list: it is remade often, and kept long
        self.calls = 0
        self.from_list = 0

    def __call__(self, pool, n, step_start_ns, clean_only=False):  # type: ignore[no-untyped-def]
        pages = victims.candidates(pool, clean_only)
        expected = victims.smallest(getattr(pool, self.key)[pages], pages, n)
        before = self.pages.size
        got = super().__call__(pool, n, step_start_ns, clean_only)
        self.calls += 1
        self.from_list += int(not clean_only and 0 < got.size <= before)
        np.testing.assert_array_equal(got, expected)
        return got


@pytest.mark.parametrize(
    ("scenario", "victim_order", "overrides", "reused"),
    [
        ("quickstart", "lru", (), False),  # pages rescued from writes void the list often
        ("quickstart", "fifo", ("faults.write_error_rate=0.05", "duration_ms=2000"), False),
        ("nvme_8vm_2x", "lru", ("duration_ms=300",), True),
        ("nvme_8vm_2x", "fifo", ("duration_ms=300", "faults.write_error_rate=0.01"), True),
        ("hdd_4vm", "fifo", ("duration_ms=400",), True),
    ],
)
def test_the_kept_list_equals_a_full_selection(
    scenario: str, victim_order: str, overrides: tuple[str, ...], reused: bool
) -> None:
    sc = load_scenario(ROOT / "scenarios" / f"{scenario}.toml")
    sc = with_overrides(sc, [*overrides, f"policy.victims={victim_order}"])
    sim = Simulation(sc, {"name": "demand", "victims": victim_order}, record=False)
    key = "last_use_ns" if victim_order == "lru" else "load_ns"
    checked = Checked(key)
    setattr(sim.policy, victim_order, checked)
    sim.run(until=sim.end_ns)
    assert checked.calls >= 10
    if reused:
        assert checked.from_list > 5  # the kept list was used, not only remade
