"""The compiled executor (engine.hotpath) computes exactly what the per-reference model computes."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings

from engine import simulate
from tests.helpers import small_scenario
from tests.property.strategies import scenarios


def _same(a, b) -> bool:
    return json.dumps(a.to_json(), sort_keys=True) == json.dumps(b.to_json(), sort_keys=True)


# 30 random scenarios, not 60: every registered policy is already held to the per-reference
# model on three fixed scenarios (tests/unit/test_policy_contract.py), and demand paging on the
# swapping one below; these add odd mixes of host, device, scheduler, watermarks and injected
# faults under demand paging's switches, and 30 draws miss a given value of a setting sampled
# from four with odds (3/4)^30 < 1/5000. Each example runs the slow per-reference model.
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_fast_equals_reference_on_random_scenarios(scenario):
    """On random small scenarios every counter of every VM is identical."""
    fast = simulate(scenario, executor="fast", record=False)
    ref = simulate(scenario, executor="reference", record=False)
    assert fast.summary == ref.summary
    assert fast.vms == ref.vms


def test_fast_equals_reference_on_a_swapping_scenario():
    """A scenario known to fault, read ahead and write back agrees exactly, slices included."""
    s = small_scenario(duration_ms=120.0)
    fast = simulate(s, executor="fast", record=False)
    ref = simulate(s, executor="reference", record=False)
    assert fast.summary["major_faults"] > 50 and fast.summary["swap_out_pages"] > 50
    assert _same(fast, ref)
    assert [(x.pcpu, x.vcpu, x.start_ns, x.end_ns) for x in fast.slices] == [
        (x.pcpu, x.vcpu, x.start_ns, x.end_ns) for x in ref.slices
    ]
