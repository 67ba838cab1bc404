"""The scenario schema: validation messages, round trips, overrides."""

from __future__ import annotations

import pytest

from engine import ScenarioError, dumps_toml, from_dict, load_scenario, loads_scenario
from engine.scenario import parse_value, with_overrides
from tests.conftest import SCENARIOS
from tests.helpers import small_scenario


def test_every_shipped_scenario_validates():
    """Each TOML file in scenarios/ loads against the schema."""
    files = sorted(SCENARIOS.glob("*.toml"))
    assert len(files) >= 4
    for path in files:
        s = load_scenario(path)
        assert s.vms, path


def test_error_names_field_path_value_and_range():
    """A bad nested value is reported with its path, the value and the allowed range."""
    text = '[[vms]]\nname = "a"\n[[vms]]\nname = "b"\n[[vms]]\nname = "c"\nmemory_mib = -5\n'
    with pytest.raises(ScenarioError) as err:
        loads_scenario(text, source="bad.toml")
    msg = str(err.value)
    assert "bad.toml" in msg and "vms[2].memory_mib" in msg and "-5" in msg
    assert "from 1 MiB to 4 TiB" in msg


def test_unknown_key_gets_did_you_mean():
    """A misspelt key is rejected with the closest allowed key."""
    with pytest.raises(ScenarioError, match=r"did you mean 'memory_mib'"):
        from_dict({"host": {"memory_mb": 10}, "vms": [{"name": "a"}]})


def test_unknown_policy_gets_did_you_mean():
    """A misspelt policy name lists the registered ones."""
    with pytest.raises(ScenarioError, match=r"did you mean 'demand'"):
        from_dict({"policy": {"name": "demnd"}, "vms": [{"name": "a"}]})


def test_selector_value_is_checked():
    """An enumerated field names the allowed values."""
    with pytest.raises(ScenarioError, match=r"allowed: .*zipf"):
        from_dict({"vms": [{"name": "a", "workload": {"kind": "zipff"}}]})


def test_bad_toml_is_reported_with_file():
    """Unparseable TOML is a ScenarioError naming the source, not a parser traceback."""
    with pytest.raises(ScenarioError, match="x.toml: not valid TOML"):
        loads_scenario("[host\npcpus=1", source="x.toml")


def test_missing_file_is_reported():
    """A scenario path that does not exist gives one clear message."""
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load_scenario("does/not/exist.toml")


def test_duplicate_vm_names_rejected():
    """VM names seed their streams, so they must be unique."""
    with pytest.raises(ScenarioError, match="used twice"):
        from_dict({"vms": [{"name": "a"}, {"name": "a"}]})


def test_workload_larger_than_vm_rejected():
    """A workload cannot span more pages than its VM has."""
    with pytest.raises(ScenarioError, match=r"vms\[0\].workload.pages"):
        from_dict({"vms": [{"name": "a", "memory_mib": 1, "workload": {"pages": 1000}}]})


def test_watermarks_ordered():
    """The low watermark may not exceed the high one."""
    with pytest.raises(ScenarioError, match="low_watermark_pct"):
        from_dict(
            {"host": {"low_watermark_pct": 5.0, "high_watermark_pct": 1.0}, "vms": [{"name": "a"}]}
        )


def test_toml_round_trip_is_exact():
    """dumps_toml then loads_scenario gives back the same scenario."""
    for path in sorted(SCENARIOS.glob("*.toml")):
        s = load_scenario(path)
        again = loads_scenario(dumps_toml(s))
        assert again.to_dict() == s.to_dict(), path


def test_overrides_apply_and_leave_original():
    """--set changes a copy; the original scenario is untouched."""
    s = small_scenario()
    t = with_overrides(s, ["host.pcpus=3", "vms[1].memory_mib=8", 'policy.victims="clock"'])
    assert (t.host.pcpus, t.vms[1].memory_mib, t.policy["victims"]) == (3, 8, "clock")
    assert (s.host.pcpus, s.vms[1].memory_mib, s.policy["victims"]) == (2, 4, "lru")


def test_bad_override_is_not_half_applied():
    """One bad assignment rejects the whole set: nothing is half-applied."""
    s = small_scenario()
    with pytest.raises(ScenarioError, match="host.pcpus"):
        with_overrides(s, ["vms[0].memory_mib=5", "host.pcpus=0"])
    assert s.vms[0].memory_mib == 4


@pytest.mark.parametrize(
    ("assignment", "message"),
    [("hostpcpus", "path=value"), ("vms[7].name=x", "out of range"), ("vms[x].name=1", "index")],
)
def test_malformed_overrides(assignment, message):
    """Malformed --set paths get a message, not an exception from deep inside."""
    with pytest.raises(ScenarioError, match=message):
        with_overrides(small_scenario(), [assignment])


def test_parse_value_reads_toml_scalars():
    """--set values are TOML values; anything else is a string."""
    assert parse_value("3") == 3
    assert parse_value("2.5") == 2.5
    assert parse_value("true") is True
    assert parse_value("[1, 2]") == [1, 2]
    assert parse_value("clock") == "clock"


def test_integer_field_rejects_fraction_and_bool():
    """An integer field takes neither 2.5 nor true."""
    for bad in (2.5, True, "3"):
        with pytest.raises(ScenarioError, match="host.pcpus"):
            from_dict({"host": {"pcpus": bad}, "vms": [{"name": "a"}]})


def test_schema_version_checked():
    """A link or file from an unknown schema version is refused by name."""
    with pytest.raises(ScenarioError, match="version"):
        from_dict({"version": 99, "vms": [{"name": "a"}]})
