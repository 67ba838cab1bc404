"""The scenario: one schema, declared once as param classes, drives TOML, --set, links and widgets.

Every field carries its bounds and a doc string. `from_dict` validates a whole nested dict and
either returns a complete Scenario or raises one ScenarioError naming the field path
(`vms[2].memory_mib`), the value and what is allowed; nothing is ever half-loaded.

One module per concern: `schema` (the param classes, `to_dict`), `validation` (`from_dict`),
`budget` (work and memory limits), `toml_io` (files and TOML text), `overrides` (`--set`).
Every name is importable from `engine.scenario` itself.
"""

from engine.scenario.budget import (
    MAX_GUEST_PAGES,
    MAX_RECORDING_BYTES,
    MAX_WORK_REFS,
    check_budget,
    check_recording,
    recording_bytes,
    work_estimate,
)
from engine.scenario.overrides import parse_value, set_path, with_overrides
from engine.scenario.schema import (
    SCHEMA_VERSION,
    SECTIONS,
    VM,
    Activity,
    Device,
    Faults,
    Host,
    Recording,
    Scenario,
    Scheduler,
    Section,
    Workload,
    to_dict,
)
from engine.scenario.toml_io import (
    dumps_toml,
    load_scenario,
    loads_scenario,
    parse_toml,
    read_toml_file,
)
from engine.scenario.validation import from_dict

__all__ = [
    "MAX_GUEST_PAGES",
    "MAX_RECORDING_BYTES",
    "MAX_WORK_REFS",
    "SCHEMA_VERSION",
    "SECTIONS",
    "VM",
    "Activity",
    "Device",
    "Faults",
    "Host",
    "Recording",
    "Scenario",
    "Scheduler",
    "Section",
    "Workload",
    "check_budget",
    "check_recording",
    "dumps_toml",
    "from_dict",
    "load_scenario",
    "loads_scenario",
    "parse_toml",
    "parse_value",
    "read_toml_file",
    "recording_bytes",
    "set_path",
    "to_dict",
    "with_overrides",
    "work_estimate",
]
