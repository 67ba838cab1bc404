"""Every edit path without a browser: table cells, form fields, add/duplicate/remove, rename.

A valid value runs again; an invalid one is refused with a message in words, the widget shows
the value the scenario kept, and the next valid edit (or a policy change) still runs.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import param
import pytest

from engine.scenario import SECTIONS
from webapp.controller import DEBOUNCE_S
from webapp.views.sidebar import SchemaForm, Sidebar


@pytest.fixture
def edit(app: Any) -> Any:
    """(state, controller, sidebar, timers-advance) with the editors built."""
    state, controller, _ = app
    sidebar = Sidebar(state, controller)
    return state, controller, sidebar


def settle(timers: Any) -> None:
    timers.advance(DEBOUNCE_S + 0.01)


def cell(sidebar: Sidebar, row: int, column: str, value: Any) -> None:
    """What Tabulator sends when a cell is edited: the frame already holds the new value."""
    frame = sidebar.table.value.astype(object)
    frame.loc[row, column] = value
    sidebar.table.value = frame
    sidebar._table_edited(SimpleNamespace(row=row, column=column, value=value))


def run_vm(state: Any, i: int) -> dict[str, Any]:
    return state.runs.scenario_dict["vms"][i]


@pytest.mark.parametrize(
    ("column", "value", "field", "expected"),
    [
        ("memory_mib", np.int64(48), ("memory_mib",), 48),
        ("vcpus", np.int64(2), ("vcpus",), 2),
        ("memory_mib", np.float64(8.0), ("memory_mib",), 8),
        ("workload", "uniform", ("workload", "kind"), "uniform"),
        ("activity", "duty", ("activity", "kind"), "duty"),
        ("name", "web", ("name",), "web"),
    ],
)
def test_a_valid_table_cell_runs_and_later_edits_still_run(
    edit, timers, column, value, field, expected
):
    """A table cell (numpy scalars and all) reaches the run as a plain Python value, and a
    later policy change runs too."""
    state, _, sidebar = edit
    cell(sidebar, 1, column, value)
    settle(timers)
    got: Any = run_vm(state, 1)
    for key in field:
        got = got[key]
    assert got == expected and type(got) is type(expected), state.message
    assert state.message == ""
    state.policy_b.switches.victims = "random"
    settle(timers)
    assert state.runs.policy_b["victims"] == "random" and state.message == ""


@pytest.mark.parametrize(
    ("column", "value", "words"),
    [
        ("memory_mib", np.int64(-5), "-5 is not allowed; expected an integer from 1 MiB to 4 TiB"),
        ("memory_mib", np.int64(5_000_000), "5000000 is not allowed"),
        ("memory_mib", np.float64(1.5), "1.5 is not allowed"),
        ("memory_mib", np.int64(1), "pages exceed the VM's 256 pages"),
        ("vcpus", np.int64(0), "0 is not allowed; expected an integer from 1 to 64"),
        ("name", "a", "VM name 'a' is used twice"),
        ("workload", "zipff", "unknown value 'zipff'"),
    ],
)
def test_an_invalid_table_cell_is_refused_in_words(edit, timers, column, value, words):
    """An invalid cell is refused with a readable message naming the VM, the cell shows the
    kept value, nothing runs, and the next valid edit runs."""
    state, c, sidebar = edit
    good, started = state.runs, c.runs_started
    kept = sidebar.table.value.loc[1, column]
    cell(sidebar, 1, column, value)
    settle(timers)
    assert words in state.message and "np." not in state.message, state.message
    assert "e+0" not in state.message and state.message.startswith("Not changed")
    assert "vms[1] (b)." in state.message  # the VM named as the table shows it
    assert sidebar.table.value.loc[1, column] == kept
    assert state.runs is good and c.runs_started == started
    cell(sidebar, 1, "vcpus", np.int64(2))
    settle(timers)
    assert run_vm(state, 1)["vcpus"] == 2 and state.message == ""


def test_renaming_in_the_table_renames_the_vm_everywhere(edit, timers):
    """A rename reaches the VM, the run's VM names and the selected VM's form title."""
    state, _, sidebar = edit
    state.selected_vm = 1
    cell(sidebar, 1, "name", "web")
    settle(timers)
    assert state.scenario.vms[1].name == "web" and state.runs.vm_names[1] == "web"
    sidebar.vm_detail.card.collapsed = False
    assert "<b>web</b>" in sidebar.vm_detail.built[0].object


def vm_form(sidebar: Sidebar, section: str = "") -> SchemaForm:
    sidebar.vm_detail.card.collapsed = False
    forms = [f for f in sidebar.vm_detail.built if isinstance(f, SchemaForm)]
    return {"": forms[0], "workload": forms[1], "activity": forms[2]}[section]


def test_a_form_field_refuses_minus_five_and_shows_the_kept_value(edit, timers):
    """Typing -5 into the memory field says why in words and shows the kept value again; a
    later valid value runs."""
    state, _, sidebar = edit
    form = vm_form(sidebar)
    kept = state.scenario.vms[0].memory_mib
    form.widgets["memory_mib"].value = -5
    assert "expected an integer from 1 MiB to 4 TiB" in state.message
    assert f"It stays {kept}." in state.message
    assert form.widgets["memory_mib"].value == kept == state.scenario.vms[0].memory_mib
    form.widgets["memory_mib"].value = 48
    settle(timers)
    assert run_vm(state, 0)["memory_mib"] == 48 and state.message == ""


def test_a_table_edit_shows_in_the_form_and_the_form_in_the_table(edit, timers):
    """The table and the form show the same VM: an edit in one appears in the other."""
    _, _, sidebar = edit
    form = vm_form(sidebar)
    cell(sidebar, 0, "vcpus", np.int64(3))
    assert form.widgets["vcpus"].value == 3
    form.widgets["vcpus"].value = 2
    assert sidebar.table.value.loc[0, "vcpus"] == 2


def _bad_value(p: param.Parameter) -> Any:
    lo, hi = p.bounds
    return hi * 2 + 1 if hi is not None else lo - 1


def _bounded(section: Any) -> list[str]:
    return [
        n
        for n in section.fields()
        if isinstance(section.param[n], param.Number)
        and section.param[n].bounds
        and (section.param[n].bounds[1] is not None or section.param[n].bounds[0] is not None)
    ]


def test_every_bounded_form_field_refuses_out_of_range_in_words(edit, timers):
    """Each numeric field of every form (scenario, its sections, a VM, its workload and
    activity) refuses a value outside its bounds: a message naming the field with its range
    in words, the kept value on the widget and in the scenario, and no run started."""
    state, c, sidebar = edit
    started = c.runs_started
    vm = state.scenario.vms[0]
    sections = [state.scenario, vm, vm.workload, vm.activity]
    sections += [getattr(state.scenario, k) for k in SECTIONS]
    checked = 0
    for section in sections:
        form = SchemaForm(section, sidebar.controller.set_field)
        for field in _bounded(section):
            kept = getattr(section, field)
            form.widgets[field].value = _bad_value(section.param[field])
            where = f"{type(section).__name__}.{field}: {state.message}"
            assert f"{field}: " in state.message, where
            assert "is not allowed; expected" in state.message, where
            assert "e+" not in state.message.split("expected", 1)[1], where
            assert form.widgets[field].value == kept == getattr(section, field), where
            checked += 1
        form.dispose()
    settle(timers)
    assert c.runs_started == started and checked >= 30


@pytest.mark.parametrize(
    ("where", "field", "value"),
    [
        ("", "seed", 9),
        ("", "duration_ms", 40.0),
        ("host", "pcpus", 3),
        ("host", "fault_mode", "yield"),
        ("device", "preset", "sata-ssd"),
        ("scheduler", "slice_ms", 4.0),
        ("recording", "frame_ms", 10.0),
        ("vm", "weight", 512),
        ("workload", "pages", 300),
        ("activity", "kind", "duty"),
    ],
)
def test_a_valid_form_field_runs(edit, timers, where, field, value):
    """A valid value in a form reaches the run."""
    state, _, sidebar = edit
    vm = state.scenario.vms[0]
    section = {"": state.scenario, "vm": vm, "workload": vm.workload, "activity": vm.activity}.get(
        where
    ) or getattr(state.scenario, where)
    form = SchemaForm(section, sidebar.controller.set_field)
    form.widgets[field].value = value
    settle(timers)
    got = state.runs.scenario_dict
    got = {
        "": got,
        "vm": got["vms"][0],
        "workload": got["vms"][0]["workload"],
        "activity": got["vms"][0]["activity"],
    }.get(where) or got[where]
    assert got[field] == value and state.message == ""


def test_a_policy_switch_form_refuses_and_keeps(edit, timers):
    """A policy's switches go through the same check: a bad value is refused in words."""
    state, _, sidebar = edit
    switches = state.policy_b.switches
    numeric = _bounded(switches)
    assert numeric, "the policy in B declares no bounded switch"
    field = numeric[0]
    kept = getattr(switches, field)
    form = SchemaForm(switches, sidebar.controller.set_field)
    form.widgets[field].value = _bad_value(switches.param[field])
    assert "policy B" in state.message and field in state.message
    assert getattr(switches, field) == kept == form.widgets[field].value


def test_add_and_duplicate_past_a_limit_are_refused_in_words(edit, timers, monkeypatch):
    """Adding or duplicating past the web app's VM limit is refused with the reason; the VMs
    stay as they were and a later edit still runs."""
    from webapp import runner

    state, c, _ = edit
    n = len(state.scenario.vms)
    monkeypatch.setitem(runner.LIMITS, "vms", n)
    for action in (c.add_vm, c.duplicate_vm):
        action()
        assert len(state.scenario.vms) == n
        assert state.message.startswith("Not changed") and f"at most {n}" in state.message
    c.remove_vm(0)
    settle(timers)
    assert len(state.runs.vm_names) == n - 1 and state.message == ""


def test_forms_stop_following_a_replaced_section(edit, timers):
    """A form that was replaced no longer watches its section (no leak, no stale updates)."""
    state, _, sidebar = edit
    form = SchemaForm(state.scenario.host, sidebar.controller.set_field)
    form.dispose()
    state.scenario.host.pcpus = 3
    assert form.widgets["pcpus"].value != 3


def test_changing_a_policy_rebuilds_only_its_switches_form(edit, timers):
    """Picking another policy runs it and shows its own switches; the old form stops
    following the old switches and the select itself is kept."""
    state, _, sidebar = edit
    select = sidebar.policy_selects["B"]
    old_form = sidebar.policy_forms["B"][0]
    other = next(n for n in select.options if n != state.policy_b.policy)
    select.value = other
    settle(timers)
    assert state.runs.policy_b["name"] == other and state.message == ""
    form = sidebar.policy_forms["B"][0]
    assert form is not old_form and form.section is state.policy_b.switches
    assert old_form._watcher is None
    assert sidebar.policy_boxes["B"].objects[0] is select


def test_a_cleared_field_and_a_bad_component_list_are_refused(edit, timers):
    """An emptied number field and a components list of non-tables are refused in words; the
    widgets show the kept values."""
    state, _, sidebar = edit
    form = vm_form(sidebar)
    form.widgets["memory_mib"].value = None
    assert "an empty value is not allowed" in state.message
    assert form.widgets["memory_mib"].value == state.scenario.vms[0].memory_mib
    workload = vm_form(sidebar, "workload")
    workload.widgets["components"].value = [1, 2]
    assert "components" in state.message and state.message.startswith("Not changed")
    assert workload.widgets["components"].value == state.scenario.vms[0].workload.components
