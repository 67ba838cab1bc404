"""Numbers in messages read as a user writes them: plain values, ranges in words with units."""

from __future__ import annotations

import numpy as np
import pytest

from engine import from_dict
from engine.errors import ScenarioError, show_range, show_value


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (np.int64(48), "48"),
        (48, "48"),
        (np.float64(0.5), "0.5"),
        (60.0, "60"),
        (True, "true"),
        (None, "an empty value"),
        ("web", "'web'"),
    ],
)
def test_values_read_as_written(value, text):
    """A value is shown as typed: no numpy wrapper, no trailing .0, true/false for booleans."""
    assert show_value(value) == text


@pytest.mark.parametrize(
    ("lo", "hi", "field", "text"),
    [
        (1, 4 << 20, "memory_mib", "1 MiB to 4 TiB"),
        (1, 1 << 24, "memory_mib", "1 MiB to 16 TiB"),
        (0, 1536, "swap_mib", "0 MiB to 1.5 GiB"),
        (1, 1000, "memory_mib", "1 MiB to 1,000 MiB"),
        (0.01, 1e6, "latency_us", "0.01 to 1,000,000 µs"),
        (0.0, 50.0, "low_watermark_pct", "0 to 50 %"),
        (0, 2**63 - 1, "seed", "0 to 9,223,372,036,854,775,807"),
        (1, 256, "pcpus", "1 to 256"),
    ],
)
def test_ranges_read_in_words_with_units(lo, hi, field, text):
    """A range carries the unit its field's name declares, in the largest unit that stays exact."""
    assert show_range(lo, hi, field) == text


def test_a_scenario_error_has_no_raw_forms():
    """The error for an out-of-range memory says '1 MiB to 4 TiB', never 4.1943e+06."""
    with pytest.raises(ScenarioError) as err:
        from_dict({"vms": [{"name": "a", "memory_mib": 5_000_000}]})
    assert str(err.value) == (
        "vms[0].memory_mib: 5000000 is not allowed; expected an integer from 1 MiB to 4 TiB"
    )
