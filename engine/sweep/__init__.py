"""Sweeps: a grid of scenario variants (axes × seeds) run as Dask tasks, journalled, resumable.

Every run is keyed by a hash of its full, validated scenario. Finished runs go to an append-only
journal, so an interrupted sweep resumes, and the results table is a function of the sweep file
alone, whatever the number of workers or the order of completion. Dask and pandas are imported
only inside the functions that use them: the engine core and the Dask tasks need neither.

One module per concern: `schema` (the sweep file), `grid` (axes, runs, keys), `task` (what a
worker runs), `cluster` (the Dask client and `execute`), `journal` (finished runs), `results`
(the table and its file), `runner` (a whole sweep) and `ratio` (one policy ÷ the best of a
baseline's settings, per grid point). Import from here: `engine.sweep.NAME`.
"""

from __future__ import annotations

from engine.sweep.cluster import DEFAULT_TIMEOUT_S, default_workers, execute, open_client
from engine.sweep.errors import ClusterError, SweepCancelled, SweepError
from engine.sweep.grid import (
    KEY_VERSION,
    SPECIAL,
    Axis,
    Ratio,
    Run,
    Sweep,
    assign,
    build,
    make_run,
    policy_label,
    run_key,
    set_overcommit,
    set_policy,
    set_vm_count,
)
from engine.sweep.journal import Journal, journal_path
from engine.sweep.ratio import (
    BEST_DEMAND,
    DEFAULT_RATIO_METRIC,
    best_demand_settings,
    ratio_axes,
    ratio_cells,
    ratio_rows,
    ratio_text,
)
from engine.sweep.results import check_out_path, results_frame, write_results
from engine.sweep.runner import Progress, ProgressFn, SweepOutcome, run_sweep
from engine.sweep.schema import (
    DEFAULT_METRICS,
    MAX_RUNS,
    MAX_VMS,
    TOP_KEYS,
    known_metrics,
    load_sweep,
    parse_policy_spec,
    sweep_from_dict,
)
from engine.sweep.task import FOOTPRINT_METRICS, run_one

__all__ = [
    "BEST_DEMAND",
    "DEFAULT_METRICS",
    "DEFAULT_RATIO_METRIC",
    "DEFAULT_TIMEOUT_S",
    "FOOTPRINT_METRICS",
    "KEY_VERSION",
    "MAX_RUNS",
    "MAX_VMS",
    "SPECIAL",
    "TOP_KEYS",
    "Axis",
    "ClusterError",
    "Journal",
    "Progress",
    "ProgressFn",
    "Ratio",
    "Run",
    "Sweep",
    "SweepCancelled",
    "SweepError",
    "SweepOutcome",
    "assign",
    "best_demand_settings",
    "build",
    "check_out_path",
    "default_workers",
    "execute",
    "journal_path",
    "known_metrics",
    "load_sweep",
    "make_run",
    "open_client",
    "parse_policy_spec",
    "policy_label",
    "ratio_axes",
    "ratio_cells",
    "ratio_rows",
    "ratio_text",
    "results_frame",
    "run_key",
    "run_one",
    "run_sweep",
    "set_overcommit",
    "set_policy",
    "set_vm_count",
    "sweep_from_dict",
    "write_results",
]
