"""The results table of a sweep, and writing it as Parquet or CSV. pandas is imported only
inside the functions that use it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.sweep.errors import SweepError
from engine.sweep.grid import Sweep


def results_frame(sweep: Sweep, summaries: Mapping[str, Mapping[str, Any]]) -> Any:
    """One row per grid point, in grid order: run key, axis labels, seed, kept metrics."""
    import pandas as pd

    rows = []
    for run in sweep.runs():
        summary = summaries[run.key]
        rows.append({"run": run.key, **run.labels, **{m: summary.get(m) for m in sweep.metrics}})
    return pd.DataFrame(rows, columns=sweep.columns)


def check_out_path(out: str | Path) -> Path:
    p = Path(out)
    if p.suffix not in (".parquet", ".csv"):
        raise SweepError(f"{out}: the results file must end in .parquet or .csv", field="--out")
    return p


def write_results(frame: Any, out: str | Path) -> Path:
    """Write the table as Parquet or CSV (by suffix), atomically."""
    p = check_out_path(out)
    tmp = p.with_name(p.name + ".tmp")
    if p.suffix == ".parquet":
        frame.to_parquet(tmp, index=False)
    else:
        frame.to_csv(tmp, index=False)
    os.replace(tmp, p)
    return p
