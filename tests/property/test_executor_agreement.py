"""The compiled executor (engine.hotpath) computes exactly what the per-reference model computes."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings

from engine import simulate
from tests.helpers import small_scenario
from tests.property.strategies import scenarios


def _same(a, b) -> bool:
    return json.dumps(a.to_json(), sort_keys=True) == json.dumps(b.to_json(), sort_keys=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
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
