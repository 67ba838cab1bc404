"""The sidebar: scenario picker, policies A and B, the VM table, host, device and scheduler.

Every widget is made from the scenario schema (the engine's param classes) or from a policy's
own Params class; `SchemaForm` picks the widget type from the parameter type and takes
help texts from the declaration, and sends every change through the controller's `set_field`
(which refuses an invalid value in words and leaves everything else working). Nothing here
knows a field by name except the VM table's column choice.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import pandas as pd
import panel as pn
import param

from engine.best_demand import TUNED_SWITCHES
from engine.scenario import VM, Activity, Section, Workload
from webapp.controller import Controller
from webapp.state import CUSTOM, SessionState
from webapp.views.story import scenario_help
from webapp.views.text import PlainText

VM_COLUMNS = ("name", "vcpus", "memory_mib", "workload", "activity")
TABLE_TITLES = {"vcpus": "vCPU", "memory_mib": "MiB"}
TABLE_WIDTHS = {"name": 78, "vcpus": 46, "memory_mib": 54, "workload": 72, "activity": 64}
TABLE_CSS = """
.tabulator { font-size: 12px !important; }
.tabulator .tabulator-header .tabulator-col .tabulator-col-content { padding: 3px 4px !important; }
.tabulator-row .tabulator-cell { padding: 3px 4px !important; height: 24px !important; }
.tabulator-row { min-height: 24px !important; }
"""
_NESTED = {"workload": "kind", "activity": "kind"}  # table column -> field of the nested section
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character
ADVANCED_OVER = 6  # a policy with more switches shows its on/off ones and folds the rest


def literal_markdown(text: str) -> str:
    """`text` for a widget's "?" help, which Panel renders as Markdown (with raw HTML and
    bare links): every ASCII punctuation mark backslash-escaped, so it shows exactly as
    written, as text (a scenario from a link writes its own description)."""
    return _PUNCTUATION.sub(r"\\\1", text)


def split_switches(switches: Section) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(shown, folded) switch names: all shown for a small policy; for a large one the
    on/off mechanisms are shown and the tuning numbers and choices fold into "Advanced"."""
    names = tuple(
        n for n in switches.fields() if not isinstance(switches.param[n], param.ClassSelector)
    )
    if len(names) <= ADVANCED_OVER:
        return names, ()
    shown = tuple(n for n in names if isinstance(switches.param[n], param.Boolean))
    return shown, tuple(n for n in names if n not in shown)


Commit = Callable[[Section, str, Any], bool]


def widget_spec(p: param.Parameter) -> Any:
    """The widget (and its options) for one schema parameter, by the parameter's type. No
    bounds go to the browser: it would clamp a value silently; the server refuses it in
    words instead."""
    if isinstance(p, param.Selector):
        return {"type": pn.widgets.Select}
    if isinstance(p, param.Boolean):
        return {"type": pn.widgets.Checkbox}
    if isinstance(p, param.Integer):
        return {"type": pn.widgets.IntInput}
    if isinstance(p, param.Number):
        return {"type": pn.widgets.FloatInput}
    if isinstance(p, param.List):
        return {"type": pn.widgets.LiteralInput}
    return {"type": pn.widgets.TextInput}


def set_directly(section: Section, field: str, value: Any) -> bool:
    """A commit with no controller: the parameter's own check, nothing more."""
    try:
        setattr(section, field, value)
    except (ValueError, TypeError):
        return False
    return True


class SchemaForm:
    """A form for a scenario section (or a policy's Params) built from its declaration.

    Every change a user makes goes through `commit` (the controller's `set_field`), which
    applies it or says why not; a refused value is replaced at once by the field's current
    one, so the widget never shows what the scenario does not hold. Changes made elsewhere
    (the table, a link) reach the widgets through one watcher, removed by `dispose`."""

    def __init__(
        self,
        section: Section,
        commit: Commit = set_directly,
        exclude: tuple[str, ...] = (),
        only: tuple[str, ...] | None = None,
    ):
        self.section = section
        self.commit = commit
        names = [
            n
            for n in (only or section.fields())
            if n not in exclude and not isinstance(section.param[n], param.ClassSelector)
        ]
        self.widgets = {n: self._widget(n) for n in names}
        self.layout = pn.Column(*self.widgets.values(), sizing_mode="stretch_width")
        self._watcher = section.param.watch(self._from_section, names) if names else None

    def __panel__(self) -> pn.Column:
        return self.layout

    def _widget(self, name: str) -> Any:
        p = self.section.param[name]
        spec = dict(widget_spec(p))
        kind = spec.pop("type")
        if kind is pn.widgets.Select:
            spec["options"] = list(p.objects)
        if kind is not pn.widgets.Checkbox and p.doc:
            spec["description"] = p.doc
        widget = kind(
            label=p.label or name,
            value=getattr(self.section, name),
            css_classes=[f"vm-field-{name}"],
            sizing_mode="stretch_width",
            **spec,
        )
        widget.param.watch(lambda e: self._from_widget(name, e.new), "value")
        return widget

    def _from_widget(self, name: str, value: Any) -> None:
        current = getattr(self.section, name)
        if type(value) is type(current) and value == current:
            return
        if not self.commit(self.section, name, value):
            self.widgets[name].value = getattr(self.section, name)

    def _from_section(self, *events: Any) -> None:
        for event in events:
            self.widgets[event.name].value = event.new

    def dispose(self) -> None:
        """Stop following the section (the form is being replaced)."""
        if self._watcher is not None:
            self.section.param.unwatch(self._watcher)
            self._watcher = None


def dispose_all(objects: Any) -> None:
    for obj in objects:
        if isinstance(obj, SchemaForm):
            obj.dispose()


def table_editor(p: param.Parameter) -> Any:
    """A Tabulator cell editor for a schema parameter (no bounds: the server explains them)."""
    if isinstance(p, param.Selector):
        return {"type": "list", "values": [str(o) for o in p.objects]}
    if isinstance(p, param.Integer):
        return {"type": "number", "step": 1}
    if isinstance(p, param.Number):
        return {"type": "number"}
    return {"type": "input"}


class LazyCard:
    """A collapsed card whose widgets are built the first time it opens (fewer models in the
    page: the first paint stays fast), and rebuilt when what it edits is replaced."""

    def __init__(self, title: str, build: Any, collapsed: bool = True, **kwargs: Any):
        self.build = build
        self.built: list[Any] = []
        self.card = pn.Card(title=title, collapsed=collapsed, sizing_mode="stretch_width", **kwargs)
        self.card.param.watch(lambda e: self.refresh(), "collapsed")
        self.refresh()

    def refresh(self) -> None:
        dispose_all(self.built)
        self.built = [] if self.card.collapsed else list(self.build())
        self.card.objects = self.built


class Sidebar:
    """Builds the sidebar for one session and keeps it in step with the state.

    Only the scenario picker is in the first page; `populate()` adds the editors once the first
    frame has been painted (they are most of the page's models, and the first paint should
    not wait for them)."""

    def __init__(self, state: SessionState, controller: Controller, deferred: bool = False):
        self.state = state
        self.controller = controller
        files = [f for f in state.param.scenario_file.objects if f != CUSTOM]
        self.picker = pn.widgets.Select.from_param(
            state.param.scenario_file,
            label="Scenario",
            options={"(edited or from a link)": CUSTOM, **{f: f for f in files}},
            sizing_mode="stretch_width",
        )
        # A scenario's description may come from a link: plain text, never Markdown.
        self.description = PlainText("", sizing_mode="stretch_width", css_classes=["vm-desc"])
        self.actions = self._actions()
        self.populated = False
        placeholder = pn.pane.HTML('<span class="vm-desc">loading the editors…</span>')
        self.panel = pn.Column(
            self.picker, self.actions, self.description, placeholder, sizing_mode="stretch_width"
        )
        state.param.watch(lambda e: self.rebuild(), "scenario")
        state.param.watch(lambda e: self._help(), "runs")
        self._describe()
        if not deferred:
            self.populate()

    def populate(self) -> None:
        """Build the editors (once)."""
        if self.populated:
            return
        self.populated = True
        state, controller = self.state, self.controller
        self.general = pn.Column(sizing_mode="stretch_width")
        self.general_forms: list[SchemaForm] = []
        self.policy_boxes = {p: pn.Column(sizing_mode="stretch_width") for p in ("A", "B")}
        self.policy_forms: dict[str, list[SchemaForm]] = {}
        self.advanced: dict[str, LazyCard] = {}
        self.policy_selects = {
            pane: pn.widgets.Select.from_param(
                choice.param.policy, label="policy", sizing_mode="stretch_width"
            )
            for pane, choice in (("A", state.policy_a), ("B", state.policy_b))
        }
        # Demand paging only: "best demand", its readahead tuned for the scenario.
        self.best_demand = {
            pane: pn.widgets.Checkbox.from_param(
                choice.param.best_demand,
                sizing_mode="stretch_width",
                css_classes=[f"vm-best-demand-{pane.lower()}"],
            )
            for pane, choice in (("A", state.policy_a), ("B", state.policy_b))
        }
        titles = {
            "host": "Host",
            "device": "Swap device",
            "scheduler": "CPU scheduler",
            "recording": "Recording",
        }
        self.sections = {
            k: LazyCard(t, lambda k=k: [self._form(getattr(self.state.scenario, k))])
            for k, t in titles.items()
        }
        self.table = pn.widgets.Tabulator(
            self._frame(),
            editors={c: self._column_editor(c) for c in VM_COLUMNS},
            titles=TABLE_TITLES,
            widths=TABLE_WIDTHS,
            configuration={"columnDefaults": {"headerSort": False}},
            show_index=False,
            selectable=1,
            layout="fit_data_table",
            height=200,
            sizing_mode="stretch_width",
            theme="simple",
            stylesheets=[TABLE_CSS],
            css_classes=["vm-table"],
        )
        self.table.on_edit(self._table_edited)
        self.table.param.watch(self._table_selected, "selection")
        add = pn.widgets.Button(label="Add", color="light", width=70)
        dup = pn.widgets.Button(label="Duplicate", color="light", width=90)
        rem = pn.widgets.Button(label="Remove", color="light", width=80)
        add.on_click(lambda e: controller.add_vm())
        dup.on_click(lambda e: controller.duplicate_vm())
        rem.on_click(lambda e: controller.remove_vm())
        self.vm_detail = LazyCard("Every field of the selected VM", self._vm_forms)
        self._vm_watchers: list[tuple[Any, Any]] = []
        self.panel.objects = [
            self.picker,
            self.actions,
            self.description,
            self.general,
            pn.Card(
                self.policy_boxes["A"],
                title="Policy A",
                sizing_mode="stretch_width",
                css_classes=["vm-card-a"],
            ),
            pn.Card(
                self.policy_boxes["B"],
                title="Policy B",
                sizing_mode="stretch_width",
                css_classes=["vm-card-b"],
            ),
            pn.Card(
                pn.Row(add, dup, rem),
                self.table,
                self.vm_detail.card,
                title="Virtual machines",
                sizing_mode="stretch_width",
            ),
            *[c.card for c in self.sections.values()],
            self._advanced(),
        ]
        state.param.watch(lambda e: self._select_row(), "selected_vm")
        for pane, choice in (("A", state.policy_a), ("B", state.policy_b)):
            choice.param.watch(lambda e, pane=pane: self._policy(pane), "switches")
            choice.param.watch(lambda e, pane=pane: self._tuned(pane), "best_demand")
        self.rebuild()
        self._policy("A")
        self._policy("B")

    # -- pieces ---------------------------------------------------------------------------------
    def _actions(self) -> pn.Row:
        """Reset to the shipped scenario's values, the next seed, and A and B swapped."""
        c = self.controller
        specs = (
            ("Reset", c.reset_scenario, "the shipped scenario's own values and policies", 64),
            ("New seed", c.new_seed, "the next seed: another draw of every random stream", 84),
            ("Swap A↔B", c.swap_policies, "A takes B's policy and B takes A's", 92),
        )
        buttons = []
        for label, action, help_text, width in specs:
            button = pn.widgets.Button(
                label=label,
                color="light",
                width=width,
                description=help_text,
                css_classes=[f"vm-action-{label.split()[0].lower()}"],
            )
            button.on_click(lambda e, action=action: action())
            buttons.append(button)
        return pn.Row(*buttons, margin=(0, 0, 4, 0))

    def _advanced(self) -> pn.Card:
        """The settings a first visit need not see: how many seeds run (1 to 20)."""
        p = self.state.param.n_seeds
        self.n_seeds = pn.widgets.IntSlider.from_param(
            p,
            label="seeds (the first is shown; the others run in the background)",
            start=p.bounds[0],
            end=p.bounds[1],
            sizing_mode="stretch_width",
            css_classes=["vm-n-seeds"],
        )
        return pn.Card(
            self.n_seeds,
            title="Advanced",
            collapsed=True,
            sizing_mode="stretch_width",
            css_classes=["vm-advanced-general"],
        )

    def _describe(self) -> None:
        """The scenario's description under the picker, and the picker's help, as text."""
        self.description.object = self.state.scenario.description or ""
        self._help()

    def _help(self) -> None:
        help_text = scenario_help(self.state.scenario, self.state.runs)
        self.picker.description = literal_markdown(help_text)

    def _policy(self, pane: str) -> None:
        """The pane's switches form, new for a new policy (its Params class differs); the
        policy select is made once. A policy with many switches folds its tuning numbers
        into an "Advanced" card, built when opened."""
        choice = self.state.policy_a if pane == "A" else self.state.policy_b
        dispose_all(self.policy_forms.get(pane, []))
        if pane in self.advanced:
            dispose_all(self.advanced[pane].built)
        shown, folded = split_switches(choice.switches)
        switches = choice.switches
        self.policy_forms[pane] = [self._form(switches, only=shown)] if shown else []
        extra: list[Any] = []
        if folded:
            card = LazyCard(
                "Advanced", lambda: [self._form(switches, only=folded)], css_classes=["vm-advanced"]
            )
            self.advanced[pane] = card
            extra = [card.card]
        else:
            self.advanced.pop(pane, None)
        self.policy_boxes[pane].objects = [
            self.policy_selects[pane],
            *([self.best_demand[pane]] if choice.policy == "demand" else []),
            *self.policy_forms[pane],
            *extra,
        ]
        self._tuned(pane)

    def _tuned(self, pane: str) -> None:
        """A best-demand side's readahead switches are chosen for it: shown, not editable."""
        choice = self.state.policy_a if pane == "A" else self.state.policy_b
        for form in self.policy_forms.get(pane, []):
            for name in TUNED_SWITCHES:
                if name in form.widgets:
                    form.widgets[name].disabled = choice.tuned

    def rebuild(self) -> None:
        """New widgets for a new scenario object (loaded from a file or a link)."""
        s = self.state.scenario
        self._describe()
        if not self.populated:
            return
        dispose_all(self.general_forms)
        self.general_forms = [self._form(s, only=("seed", "duration_ms"))]
        self.general.objects = list(self.general_forms)
        for card in self.sections.values():
            card.refresh()
        self._watch_vms()
        self.refresh_table()

    def _form(self, section: Section, **kwargs: Any) -> SchemaForm:
        return SchemaForm(section, self.controller.set_field, **kwargs)

    def _watch_vms(self) -> None:
        for obj, w in self._vm_watchers:
            obj.param.unwatch(w)
        self._vm_watchers = []
        s = self.state.scenario
        self._vm_watchers.append((s, s.param.watch(lambda e: self._vms_changed(), "vms")))
        for vm in s.vms:
            for obj in (vm, vm.workload, vm.activity):
                w = obj.param.watch(lambda e: self.refresh_table(), obj.fields())
                self._vm_watchers.append((obj, w))

    def _vms_changed(self) -> None:
        self._watch_vms()
        self.refresh_table()

    def _column_editor(self, column: str) -> Any:
        if column == "workload":
            return table_editor(Workload.param.kind)
        if column == "activity":
            return table_editor(Activity.param.kind)
        return table_editor(VM.param[column])

    def _frame(self) -> pd.DataFrame:
        rows = []
        for vm in self.state.scenario.vms if self.state.scenario else []:
            row = {c: getattr(vm, c) for c in VM_COLUMNS if c not in _NESTED}
            row.update({c: getattr(getattr(vm, c), f) for c, f in _NESTED.items()})
            rows.append(row)
        return pd.DataFrame(rows, columns=list(VM_COLUMNS))

    def refresh_table(self) -> None:
        self.table.value = self._frame()
        self._select_row()

    def _select_row(self) -> None:
        vms = self.state.scenario.vms
        i = min(self.state.selected_vm, len(vms) - 1)
        if self.table.selection != [i]:
            self.table.selection = [i]
        self.vm_detail.refresh()

    def _vm_forms(self) -> list[Any]:
        vms = self.state.scenario.vms
        vm = vms[min(self.state.selected_vm, len(vms) - 1)]
        return [
            pn.pane.HTML(
                f"<b>{html.escape(vm.name)}</b> (rename it in the table)", margin=(4, 5, 0, 5)
            ),
            self._form(vm, exclude=("name",)),
            pn.pane.HTML("<i>workload</i>", margin=(0, 5)),
            self._form(vm.workload),
            pn.pane.HTML("<i>activity</i>", margin=(0, 5)),
            self._form(vm.activity),
        ]

    def _table_selected(self, event: Any) -> None:
        if event.new and event.new[0] != self.state.selected_vm:
            self.state.selected_vm = event.new[0]

    def _table_edited(self, event: Any) -> None:
        vms = self.state.scenario.vms
        if not 0 <= event.row < len(vms):
            return
        vm = vms[event.row]
        if event.column in _NESTED:
            target, field = getattr(vm, event.column), _NESTED[event.column]
        else:
            target, field = vm, event.column
        if not self.controller.set_field(target, field, event.value):
            self.refresh_table()  # the cell shows the value the VM kept
