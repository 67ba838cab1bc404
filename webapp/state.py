"""Per-session state of the web app as plain param classes; no Panel import.

Each browser session builds one SessionState. Widgets bind to its parameters, views are
functions of it, and the controller reacts to its changes (re-simulate, move frames, write
the URL). The scenario is the engine's own param object, so widgets come from its schema.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import param

from engine.policies import REGISTRY, validate_policy
from engine.scenario import VM, Scenario, Section
from webapp.seeds import DEFAULT_SEEDS, MAX_SEEDS

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"
CUSTOM = ""  # scenario_file when the scenario came from a link or was edited past its file
SPEEDS_MS_PER_S = (0, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)  # 0: as fast as painted


def scenario_files() -> list[str]:
    """Names (file stems) of the scenarios shipped in scenarios/, sorted. A symlink that
    leads out of scenarios/ is not a shipped scenario."""
    root = SCENARIO_DIR.resolve()
    return sorted(
        p.stem
        for p in SCENARIO_DIR.glob("*.toml")
        if p.resolve().is_relative_to(root) and p.resolve().is_file()
    )


def default_scenario_file() -> str:
    files = scenario_files()
    return "quickstart" if "quickstart" in files else (files[0] if files else CUSTOM)


def policy_names() -> list[str]:
    """Registered policies, never a hard-coded list."""
    return list(REGISTRY)


class PolicyChoice(param.Parameterized):
    """One pane's policy: a registered name and the switches its own Params class declares."""

    policy = param.Selector(default="demand", objects=["demand"], doc="Registered paging policy.")
    switches = param.ClassSelector(class_=Section, doc="The policy's switches (its Params).")
    best_demand = param.Boolean(
        default=False,
        label="best demand: tune readahead for this scenario",
        doc="Demand paging only: run it under each readahead setting and show the one that"
        " loses the least time (chosen on the scenario's own seed, kept for the other seeds).",
    )

    def __init__(self, config: dict[str, Any] | None = None, **params: Any):
        names = policy_names()
        self.param.policy.objects = names
        params.setdefault("policy", names[0] if names else "demand")
        super().__init__(**params)
        self._make_switches({})
        if config:
            self.load(config)

    @param.depends("policy", watch=True)
    def _policy_changed(self) -> None:
        keep = (
            {k: getattr(self.switches, k) for k in self.switches.fields()} if self.switches else {}
        )
        self._make_switches(keep)

    def _make_switches(self, keep: dict[str, Any]) -> None:
        params_cls = REGISTRY[self.policy].Params
        fresh = params_cls()
        shared = {k: v for k, v in keep.items() if k in fresh.fields()}
        if shared:
            fresh.param.update(**shared)
        self.switches = fresh

    def load(self, config: dict[str, Any]) -> None:
        """Take a validated policy dict (name and switches)."""
        cfg = validate_policy(dict(config))
        self.policy = cfg.pop("name")
        self.switches.param.update(**{k: v for k, v in cfg.items() if k in self.switches.fields()})

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.policy,
            **{k: getattr(self.switches, k) for k in self.switches.fields()},
        }

    @property
    def tuned(self) -> bool:
        """Whether this side is best demand: demand paging with its readahead tuned."""
        return self.best_demand and self.policy == "demand"

    def label(self) -> str:
        if self.tuned:
            return "best demand (readahead tuned for this scenario)"
        return policy_label(self.to_dict())


def policy_label(policy: dict[str, Any]) -> str:
    """Short text: the name and the switches that differ from the policy's defaults."""
    name = str(policy.get("name", "?"))
    if name not in REGISTRY:
        return name
    default = REGISTRY[name].Params()
    diff = [
        f"{k}={v}"
        for k, v in policy.items()
        if k != "name" and k in default.fields() and v != getattr(default, k)
    ]
    return name + (f" ({', '.join(diff)})" if diff else "")


class SessionState(param.Parameterized):
    """Everything one browser session shows and edits."""

    scenario_file = param.Selector(default=CUSTOM, objects=[CUSTOM], doc="Shipped scenario.")
    scenario = param.ClassSelector(class_=Scenario, doc="The scenario being edited (live).")
    policy_a = param.ClassSelector(class_=PolicyChoice)
    policy_b = param.ClassSelector(class_=PolicyChoice)
    runs = param.Parameter(default=None, doc="The RunPair on display (None before the first).")
    frame = param.Integer(default=0, bounds=(0, None), doc="Frame on display.")
    playing = param.Boolean(default=False)
    speed = param.Selector(
        default=100, objects=list(SPEEDS_MS_PER_S), doc="Simulated ms per second (0: max)."
    )
    loop = param.Boolean(default=True, doc="Start again at the end.")
    step_n = param.Integer(default=10, bounds=(2, 1000), doc="Frames one big step moves.")
    follow = param.Boolean(default=False, doc="The timeline follows the now-cursor (zoomed in).")
    selected_vm = param.Integer(default=0, bounds=(0, None), doc="VM of the event log.")
    message = param.String(default="", doc="A readable problem with the last input, or ''.")
    busy = param.Boolean(default=False, doc="A simulation is running.")
    progress = param.String(
        default="", doc="How far the running simulation has got ('computing A …: 37 % …')."
    )
    edits = param.Integer(default=0, doc="Bumped on every edit of the scenario or a policy.")
    share_url = param.String(default="", doc="The share link of what is on display.")
    n_seeds = param.Integer(
        default=DEFAULT_SEEDS,
        bounds=(1, MAX_SEEDS),
        doc="Seeds per scenario: the first is shown at once, the others run in the background"
        " for the mean and 95 % interval of each figure.",
    )
    shown_seed = param.Integer(
        default=None, allow_None=True, doc="The seed whose runs are on display (None: no run)."
    )
    seeds_done = param.List(default=[], item_type=int, doc="Seeds whose runs are in, in order.")
    seed_stats = param.Parameter(
        default=None, doc="SeedStats over seeds_done (None before the first run is in)."
    )
    seeds_progress = param.String(
        default="", doc="How far the seeds have got ('seeds: 3 of 5'), or ''."
    )

    def __init__(self, **params: Any):
        super().__init__(**params)
        self.param.scenario_file.objects = [CUSTOM, *scenario_files()]
        if self.scenario is None:
            self.scenario = Scenario(vms=[VM(name="vm0")])
        if self.policy_a is None:
            self.policy_a = PolicyChoice()
        if self.policy_b is None:
            self.policy_b = PolicyChoice()


def default_policies(scenario_policy: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(A, B) for a freshly loaded scenario: demand paging against the invention when both
    are registered. A scenario whose own policy is not demand puts that policy in B."""
    names = policy_names()
    own = dict(scenario_policy) if scenario_policy else {"name": names[0]}
    if own["name"] != "demand" and "demand" in names:
        return {"name": "demand"}, own
    others = [n for n in names if n != own["name"]]
    b = "predictive" if "predictive" in others else (others[0] if others else own["name"])
    return own, {"name": b}


def watch_tree(obj: param.Parameterized, fn: Callable[[Any], None]) -> list[tuple[Any, Any]]:
    """Watch every parameter of a scenario section and of the sections nested in it (VMs,
    their activity and workload). Returns (object, watcher) pairs for `unwatch_tree`."""
    out: list[tuple[Any, Any]] = []
    names = [n for n in obj.param if n != "name" or isinstance(obj, VM | Scenario)]
    out.append((obj, obj.param.watch(fn, names)))
    for n in names:
        value = getattr(obj, n)
        children = value if isinstance(value, list) else [value]
        for child in children:
            if isinstance(child, Section):
                out.extend(watch_tree(child, fn))
    return out


def unwatch_tree(watchers: list[tuple[Any, Any]]) -> None:
    for obj, w in watchers:
        obj.param.unwatch(w)


def new_vm_name(existing: list[str], base: str = "vm") -> str:
    """A VM name not yet used: base, base-2, base-3..."""
    if base not in existing:
        return base
    stem = base.rsplit("-", 1)[0] if base.rsplit("-", 1)[-1].isdigit() else base
    n = 2
    while f"{stem}-{n}" in existing:
        n += 1
    return f"{stem}-{n}"


def copy_vm(vm: VM, name: str) -> VM:
    """A deep copy of a VM under a new name."""
    data = {
        k: copy.deepcopy(getattr(vm, k)) for k in vm.fields() if k not in ("activity", "workload")
    }
    data["name"] = name
    return VM(
        **data,
        activity=vm.activity.__class__(
            **{k: getattr(vm.activity, k) for k in vm.activity.fields()}
        ),
        workload=vm.workload.__class__(
            **{k: copy.deepcopy(getattr(vm.workload, k)) for k in vm.workload.fields()}
        ),
    )
