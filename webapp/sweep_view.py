"""The Sweep tab: set the axes (or pick a shipped sweep file), launch on a local cluster or a
given address, watch progress, read the results table, plot density per policy and a heatmap
over two axes, and for a ratio sweep (the operating envelope) its ratio heatmap; download.

`SweepState` holds one session's sweep and its results (param only, no Panel); `SweepView`
displays it. The sweep runs in a background thread through `engine.sweep.run_sweep`, whose
every wait is bounded, so a dead worker ends as a readable message, never a silent hang.
`create_sweep_view()` builds a fresh pair for each browser session: no module state. The
charts, pure functions of the results table, are in `webapp.sweep_charts`.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import threading
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import panel as pn
import param

import engine
from engine.errors import VmswapError
from engine.policies import REGISTRY
from engine.presets import DEVICE_PRESETS
from engine.scenario import read_toml_file
from engine.sweep import (
    DEFAULT_METRICS,
    Journal,
    Progress,
    SweepError,
    default_workers,
    known_metrics,
    parse_policy_spec,
    ratio_axes,
    ratio_rows,
    run_sweep,
)
from webapp.doc_timers import LoopPoster
from webapp.runner import (
    Runner,
    SyncRunner,
    ThreadRunner,
)
from webapp.sweep_charts import density_figure, heatmap_figure, ratio_figure, varying_axes
from webapp.sweep_limits import (
    MAX_TOML_DEPTH,
    Form,
    Plan,
    nesting_depth,
    validate_sweep,
)
from webapp.views.text import PlainAlert, PlainText

SCENARIOS_DIR = Path(engine.__file__).resolve().parents[1] / "scenarios"
SWEEPS_DIR = SCENARIOS_DIR / "sweeps"
FORM = "the form below"  # the sweep-file choice that means: build the sweep from the form
# A Dask client unpickles what its scheduler sends: a visitor must not choose the scheduler.
# Whoever runs the server may allow some: VMSWAP_SWEEP_ADDRESSES=tcp://10.0.0.5:8786,...
ADDRESSES_ENV = "VMSWAP_SWEEP_ADDRESSES"
MAX_LOCAL_WORKERS = max(2, os.cpu_count() or 1)  # one session's local cluster: its cores


def sweep_addresses() -> list[str]:
    """The scheduler addresses the server's operator allows (none unless set)."""
    return [a.strip() for a in os.environ.get(ADDRESSES_ENV, "").split(",") if a.strip()]


def _scenario_files() -> list[str]:
    return sorted(p.name for p in SCENARIOS_DIR.glob("*.toml"))


def _sweep_files() -> list[str]:
    return sorted(p.name for p in SWEEPS_DIR.glob("*.toml"))


def _numbers(text: str, label: str, cast: Callable[[str], Any]) -> list[Any]:
    """'1, 2, 4' as numbers; '' as no axis. The message names the widget."""
    out = []
    for part in (p.strip() for p in text.replace(";", ",").split(",")):
        if not part:
            continue
        try:
            out.append(cast(part))
        except ValueError:
            raise SweepError(f"{part!r} is not a number", field=label) from None
    return out


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else _toml(key)


class SweepState(param.Parameterized):
    """One session's sweep form, progress and results."""

    source = param.Selector(
        default=FORM, objects=[FORM], doc="A shipped sweep file, or the sweep the form builds."
    )
    base = param.Selector(objects=[], doc="The scenario every run starts from.")
    policies = param.String("", doc="Comma list of NAME or NAME:KEY=VALUE.")
    vm_counts = param.String("1, 2, 3, 4, 6, 8", doc="VM counts (the scenario's VMs in turn).")
    overcommit = param.String("", doc="Overcommit ratios (VM memory ÷ host memory); blank: none.")
    devices = param.ListSelector(default=[], objects=list(DEVICE_PRESETS), doc="Swap devices.")
    extra_axes = param.String("", doc='More axes, TOML lines: "host.pcpus" = [2, 4]')
    fixed = param.String("duration_ms = 300.0", doc="Fixed settings, TOML lines.")
    seeds = param.Integer(2, bounds=(1, 1000), doc="Seeds 1..N.")
    metrics = param.ListSelector(default=list(DEFAULT_METRICS), objects=known_metrics())
    target_slowdown = param.Number(1.10, bounds=(1.0, 1000.0), step=0.05)
    cluster = param.Selector(default="local", objects=["local", "address"])
    address = param.String("", doc="A Dask scheduler, e.g. tcp://10.0.0.5:8786")
    workers = param.Integer(
        2, bounds=(1, MAX_LOCAL_WORKERS), doc="Worker processes of the local cluster."
    )
    timeout_s = param.Number(300.0, bounds=(5.0, 86400.0), doc="Fail when no run ends for this.")

    running = param.Boolean(False)
    done = param.Integer(0)
    total = param.Integer(0)
    cached = param.Integer(0)
    status = param.String("Set the axes and launch.")
    error = param.String("")
    results = param.DataFrame(default=None, allow_None=True)
    heat_x = param.Selector(default=None, objects=[], allow_None=True)
    heat_y = param.Selector(default=None, objects=[], allow_None=True)
    heat_metric = param.Selector(default=None, objects=[], allow_None=True)
    # A ratio sweep's table (engine.sweep.ratio_rows) and its [ratio]; None for other sweeps.
    ratio_rows = param.DataFrame(default=None, allow_None=True)
    ratio = param.Parameter(default=None)
    ratio_x = param.Selector(default=None, objects=[], allow_None=True)
    ratio_y = param.Selector(default=None, objects=[], allow_None=True)

    def __init__(self, **params: Any):
        files = _scenario_files()
        self.param.base.objects = files
        self.param.source.objects = [FORM, *_sweep_files()]
        params.setdefault("base", "quickstart.toml" if "quickstart.toml" in files else files[0])
        params.setdefault("policies", ", ".join(sorted(REGISTRY)))
        params.setdefault("workers", min(default_workers(), 4, MAX_LOCAL_WORKERS))
        super().__init__(**params)
        self._journal: Journal | None = None  # made on the first launch, kept for resumes
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()
        self.post: Callable[[Callable[[], None]], None] = lambda fn: fn()

    # -- the sweep the form describes -----------------------------------------------------------

    def sweep_dict(self) -> dict[str, Any]:
        """The form as a sweep table (what a sweep file holds, base as an absolute path)."""
        axes: dict[str, Any] = {}
        policies = [p for p in (s.strip() for s in self.policies.split(",")) if p]
        if policies:
            specs = [parse_policy_spec(p) for p in policies]
            axes["policy"] = [s["name"] if len(s) == 2 else s for s in specs]
        counts = _numbers(self.vm_counts, "VM counts", int)
        if counts:
            axes["vm_count"] = counts
        if self.devices:
            axes["device.preset"] = list(self.devices)
        ratios = _numbers(self.overcommit, "overcommit", float)
        if ratios:
            axes["overcommit"] = ratios
        axes.update(self._toml_lines(self.extra_axes, "more axes"))
        return {
            "name": f"{Path(str(self.base)).stem}-sweep",
            "base": str(SCENARIOS_DIR / str(self.base)),
            "seeds": int(self.seeds),
            "metrics": list(self.metrics),
            "set": self._toml_lines(self.fixed, "fixed settings"),
            "axes": axes,
        }

    @staticmethod
    def _toml_lines(text: str, label: str) -> dict[str, Any]:
        try:
            table = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise SweepError(f"not valid TOML: {exc}", field=label) from None
        except RecursionError:
            table = None
        if table is None or nesting_depth(table) > MAX_TOML_DEPTH:
            raise SweepError(
                f"tables and lists nest more than {MAX_TOML_DEPTH} deep; a sweep needs a few",
                field=label,
            )
        return table

    def file_dict(self) -> dict[str, Any]:
        """The chosen shipped sweep file as a sweep table (base as an absolute path)."""
        path = SWEEPS_DIR / str(self.source)
        table = read_toml_file(path, "sweep", SweepError)
        table.setdefault("name", path.stem)
        if isinstance(table.get("base"), str):
            table["base"] = str(path.parent / table["base"])
        return table

    def sweep_toml(self) -> str:
        """The form as a sweep file to run with `vmswap sweep` (base relative to scenarios/)."""
        d = self.sweep_dict()
        lines = [
            f"name = {_toml(d['name'])}",
            f"base = {_toml('../' + str(self.base))}  # relative to scenarios/sweeps/",
            f"seeds = {d['seeds']}",
            f"metrics = {_toml(d['metrics'])}",
            "",
            "[set]",
            *(f"{_key(k)} = {_toml(v)}" for k, v in d["set"].items()),
            "",
            "[axes]",
            *(f"{_key(k)} = {_toml(v)}" for k, v in d["axes"].items()),
        ]
        return "\n".join(lines) + "\n"

    def sweep_file(self) -> io.BytesIO:
        """sweep.toml for the download button; a form error is shown, and the file says so."""
        try:
            if self.source != FORM:  # the shipped file as it is
                return io.BytesIO((SWEEPS_DIR / str(self.source)).read_bytes())
            text = self.sweep_toml()
        except (VmswapError, RecursionError) as exc:
            self.error = str(exc) if isinstance(exc, VmswapError) else "the form nests too deeply"
            text = f"# not a valid sweep: {' '.join(self.error.split())}\n"
        return io.BytesIO(text.encode())

    # -- running it -----------------------------------------------------------------------------

    def launch(self) -> bool:
        """Validate the form and start the sweep in a background thread; False on a form error
        (shown in `error`) or when a sweep is already running. All in the caller's thread: the
        view runs `validate_sweep` on a worker thread between `form` and `start` instead."""
        form = self.form()
        return form is not None and self.start(validate_sweep(form))

    def form(self) -> Form | None:
        """The form as read now (quick checks only); None, with `error` set, if it is wrong."""
        if self.running:
            return None
        try:
            table = self.sweep_dict() if self.source == FORM else self.file_dict()
        except VmswapError as exc:
            self.error = str(exc)
            return None
        allowed = sweep_addresses()
        # Decided here, once: the thread must not read a field the page may change meanwhile.
        address = self.address.strip() if self.cluster == "address" else None
        if address is not None and address not in allowed:
            self.error = (
                f"address: this server may use {', '.join(allowed)}"
                if allowed
                else "address: this server runs sweeps on a local cluster only"
            ) + f" (whoever runs it lists scheduler addresses in {ADDRESSES_ENV})"
            return None
        return Form(table, address, int(self.workers))

    def start(self, plan: Plan | str | BaseException) -> bool:
        """Start a validated sweep (what `validate_sweep` returned); False, with `error` set,
        if it was refused or a sweep is already running."""
        if isinstance(plan, BaseException):  # a bug of ours, shown rather than lost
            plan = f"the sweep could not be checked: {type(plan).__name__}: {plan}"
        if isinstance(plan, str):
            self.error = plan
            return False
        if self.running:
            return False
        sweep, runs, address = plan.sweep, plan.runs, plan.form.address
        self.error = ""
        if self._journal is None:
            folder = Path(tempfile.mkdtemp(prefix="vmswap-sweep-"))
            self._journal = Journal(folder / "runs.jsonl")
        self.running = True
        self.done, self.total, self.cached = 0, len({r.key for r in runs}), 0
        self.status = f"Starting {len(runs)} runs…"
        self._cancel = threading.Event()
        self._thread = threading.Thread(
            target=self._run,
            args=(sweep, address, plan.form.workers),
            name="vmswap-sweep",
            daemon=True,
        )
        self._thread.start()
        return True

    def cancel(self) -> None:
        self._cancel.set()

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop any sweep and remove this session's journal (when its browser tab closes)."""
        self.cancel()
        self.join(timeout_s)
        if self._journal is not None:
            shutil.rmtree(self._journal.path.parent, ignore_errors=True)
            self._journal = None

    def join(self, timeout_s: float) -> bool:
        """Wait for the background sweep; True when it has ended."""
        if self._thread is not None:
            self._thread.join(timeout_s)
            return not self._thread.is_alive()
        return True

    def _run(self, sweep: Any, address: str | None, workers: int) -> None:
        where = address or f"a local cluster of {workers} workers"
        try:
            outcome = run_sweep(
                sweep,
                journal=self._journal,
                address=address,
                workers=None if address else workers,
                progress=lambda p: self.post(lambda: self._on_progress(p, where)),
                timeout_s=float(self.timeout_s),
                no_worker_grace_s=min(30.0, float(self.timeout_s)),
                cancel=self._cancel,
            )
        except VmswapError as exc:
            message = f"{exc}. Finished runs are kept: launch again to resume."
            self.post(lambda: self._on_failure(message))
        except Exception as exc:  # a bug, shown rather than lost in a thread
            message = f"the sweep failed: {type(exc).__name__}: {exc}"
            self.post(lambda: self._on_failure(message))
        else:
            self.post(lambda: self._on_results(outcome, sweep))

    def _on_progress(self, p: Progress, where: str) -> None:
        self.done, self.total, self.cached = p.done, p.total, p.cached
        rate = (p.done - p.cached) / p.elapsed_s if p.elapsed_s > 0 else 0.0
        text = f"{p.done} of {p.total} runs on {where}"
        if p.cached:
            text += f" ({p.cached} from earlier launches)"
        if rate > 0:
            text += f", {rate:.2f} runs/s"
        self.status = text

    def _on_failure(self, message: str) -> None:
        self.error = message
        self.status = f"Stopped after {self.done} of {self.total} runs."
        self.running = False

    def _on_results(self, outcome: Any, sweep: Any = None) -> None:
        frame = outcome.frame
        metrics = list(sweep.metrics) if sweep is not None else list(self.metrics)
        axes = varying_axes(frame, metrics)
        self.param.heat_x.objects = axes
        self.param.heat_y.objects = axes
        self.param.heat_metric.objects = metrics
        self.heat_x = axes[0] if axes else None
        self.heat_y = axes[1] if len(axes) > 1 else None
        self.heat_metric = "slowdown" if "slowdown" in metrics else metrics[0]
        self.show_ratio(sweep, frame)
        self.results = frame
        self.status = (
            f"{outcome.total} runs done in {outcome.elapsed_s:.1f} s "
            f"({outcome.cached} from earlier launches)."
        )
        self.running = False

    def show_ratio(self, sweep: Any, frame: pd.DataFrame) -> None:
        """A ratio sweep's table and axes for its heatmap (the operating envelope); cleared
        for any other sweep."""
        ratio = getattr(sweep, "ratio", None)
        rows = ratio_rows(sweep, frame) if ratio is not None else None
        axes = list(ratio_axes(rows, ratio.metric)) if rows is not None else []
        self.param.ratio_x.objects = axes
        self.param.ratio_y.objects = axes
        self.ratio_x = axes[0] if axes else None
        self.ratio_y = axes[1] if len(axes) > 1 else None
        self.ratio = ratio
        self.ratio_rows = rows

    # -- derived tables -------------------------------------------------------------------------

    def results_csv(self) -> io.BytesIO:
        frame = self.results if self.results is not None else pd.DataFrame()
        return io.BytesIO(frame.to_csv(index=False).encode("utf-8"))

    def results_parquet(self) -> io.BytesIO:
        buf = io.BytesIO()
        (self.results if self.results is not None else pd.DataFrame()).to_parquet(buf)
        buf.seek(0)
        return buf


# The tab's own words (no visitor's text in them): what a sweep is, before the first one.
SWEEP_INTRO = (
    "A **sweep** runs the base scenario once for every combination of its axes (each policy, "
    "VM count, overcommit ratio, swap device and further axis) and each seed, on a Dask "
    "cluster: this server's local worker processes, or a scheduler at an address. Runs done "
    "before are not run again when a sweep is launched once more.\n\n"
    "When it ends, its results show here: the **density** (the most VMs each policy runs "
    "within the target slowdown, seed by seed), a heatmap of any metric over two axes, and "
    'the table, to download as CSV or Parquet. A sweep file ("Sweep file") sets every field; '
    '"Download sweep.toml" saves the form as one, for `vmswap sweep` on the command line.'
)


class SweepView(pn.viewable.Viewer):
    """The Sweep tab for one session's SweepState. Served, Launch checks the runs on the
    session's worker thread (`runner`): thousands of runs take seconds to expand."""

    def __init__(
        self, state: SweepState | None = None, runner: Runner | None = None, **params: Any
    ):
        super().__init__(**params)
        self.state = state or SweepState()
        s = self.state
        doc = pn.state.curdoc
        served = doc is not None and doc.session_context is not None
        if served:
            # From the sweep thread: run on the session's event loop.
            s.post = LoopPoster(doc)
            pn.state.on_session_destroyed(lambda _: self.close())
        w = pn.widgets
        self.launch_button = w.Button(label="Launch", color="primary")
        self.cancel_button = w.Button(label="Cancel", disabled=True)
        self.runner: Runner = runner or (ThreadRunner(s.post) if served else SyncRunner())
        self.launch_button.on_click(self._on_launch)
        self.cancel_button.on_click(lambda _: s.cancel())
        s.param.watch(self._on_running, "running")
        self.controls = pn.Column(
            w.Select.from_param(s.param.source, label="Sweep file"),
            w.Select.from_param(s.param.base, label="Base scenario"),
            w.TextInput.from_param(s.param.policies, label="Policies (NAME or NAME:KEY=VALUE)"),
            w.TextInput.from_param(s.param.vm_counts, label="VM counts"),
            w.TextInput.from_param(s.param.overcommit, label="Overcommit ratios"),
            w.MultiChoice.from_param(s.param.devices, label="Swap devices"),
            w.TextAreaInput.from_param(s.param.extra_axes, label="More axes (TOML)", height=70),
            w.TextAreaInput.from_param(s.param.fixed, label="Fixed settings (TOML)", height=70),
            w.IntInput.from_param(s.param.seeds, label="Seeds"),
            w.MultiChoice.from_param(s.param.metrics, label="Metrics"),
            w.RadioButtonGroup.from_param(s.param.cluster, label="Cluster"),
            w.IntInput.from_param(s.param.workers, label="Local workers"),
            w.TextInput.from_param(s.param.address, label="Scheduler address"),
            w.FloatInput.from_param(s.param.timeout_s, label="Timeout without progress, s"),
            pn.Row(self.launch_button, self.cancel_button),
            w.FileDownload(
                callback=s.sweep_file,
                filename="sweep.toml",
                label="Download sweep.toml",
            ),
            width=340,
        )
        progress = pn.indicators.Progress(
            value=pn.bind(lambda d, t: int(100 * d / t) if t else 0, s.param.done, s.param.total),
            max=100,
            sizing_mode="stretch_width",
        )
        # Messages quote the form's text (names, TOML): plain text, never Markdown.
        error = PlainAlert(
            s.param.error,
            alert_type="danger",
            visible=pn.bind(bool, s.param.error),
            css_classes=["vm-sweep-error"],
        )
        self.table = w.Tabulator(
            pn.bind(lambda f: f if f is not None else pd.DataFrame(), s.param.results),
            pagination="remote",
            page_size=15,
            disabled=True,
            show_index=False,
            sizing_mode="stretch_width",
        )
        heat = (s.param.heat_x, s.param.heat_y, s.param.heat_metric)
        self.heat_controls = heat_controls = pn.Row(
            w.Select.from_param(s.param.heat_x, label="x"),
            w.Select.from_param(s.param.heat_y, label="y"),
            w.Select.from_param(s.param.heat_metric, label="metric"),
        )
        self.downloads = downloads = pn.Row(
            w.FileDownload(callback=s.results_csv, filename="sweep-results.csv"),
            w.FileDownload(callback=s.results_parquet, filename="sweep-results.parquet"),
        )
        # What only results give meaning to (their axes, their table, their files) shows
        # once there are results; before, a few lines say what a sweep does.
        has_results = pn.bind(lambda f: f is not None, s.param.results)
        for part in (heat_controls, self.table, downloads):
            part.visible = has_results
        self.intro = pn.pane.Markdown(
            SWEEP_INTRO,
            visible=pn.bind(lambda f: f is None, s.param.results),
            css_classes=["vm-sweep-intro"],
            sizing_mode="stretch_width",
        )
        self.results = pn.Column(
            PlainText(s.param.status, css_classes=["vm-sweep-status"]),
            progress,
            error,
            self.intro,
            w.FloatInput.from_param(
                s.param.target_slowdown, label="Target slowdown", visible=has_results
            ),
            pn.bind(density_figure, s.param.results, s.param.target_slowdown),
            heat_controls,
            pn.bind(heatmap_figure, s.param.results, *heat),
            pn.Row(
                w.Select.from_param(s.param.ratio_x, label="ratio x"),
                w.Select.from_param(s.param.ratio_y, label="ratio y"),
                visible=pn.bind(lambda r: r is not None, s.param.ratio_rows),
            ),
            pn.bind(
                ratio_figure, s.param.ratio_rows, s.param.ratio, s.param.ratio_x, s.param.ratio_y
            ),
            self.table,
            downloads,
            sizing_mode="stretch_width",
        )
        self._layout = pn.Row(self.controls, self.results, sizing_mode="stretch_width")

    def _on_launch(self, _event: Any) -> None:
        form = self.state.form()
        if form is None:
            return
        self.state.error = ""
        self.state.status = "Checking every run against this server's limits…"
        self.launch_button.disabled = True

        def checked(plan: Plan | str | BaseException) -> None:
            self.launch_button.disabled = False
            if not self.state.start(plan):
                self.state.status = "Set the axes and launch."

        self.runner.submit(lambda: validate_sweep(form), checked)

    def close(self) -> None:
        """Stop the worker and the sweep (the session's browser tab closed)."""
        if isinstance(self.runner, ThreadRunner):
            self.runner.shutdown()
        self.state.close()

    def _on_running(self, event: Any) -> None:
        self.launch_button.disabled = event.new
        self.cancel_button.disabled = not event.new

    def __panel__(self) -> Any:
        return self._layout


def create_sweep_view() -> SweepView:
    """A new Sweep tab with its own state: call once per browser session."""
    return SweepView(SweepState())
