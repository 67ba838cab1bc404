"""Ratio sweeps: one policy's metric ÷ the best of a baseline's settings, per grid point and seed.

A sweep file's `[ratio]` table names the policy (`of`, default the base scenario's), the
baseline (`to`: a policy, or "best-demand": demand paging under each swap-readahead setting of
`engine.best_demand`, the best one taken per grid point and seed, as `vmswap compare
--best-demand` does) and the metric (`metric`, default lost_time_ns; lower is better). Its runs
are ordinary sweep runs on a policy axis of `of` followed by every baseline setting, so keys,
journal, resuming and Dask work as for any sweep; the ratio is taken from their summaries.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from engine.best_demand import candidate_configs, setting_label
from engine.errors import did_you_mean
from engine.stats import interval, is_number
from engine.sweep.errors import SweepError
from engine.sweep.grid import Ratio, Sweep, policy_label

RATIO_KEYS = ("of", "to", "metric")
BEST_DEMAND = "best-demand"
DEFAULT_RATIO_METRIC = "lost_time_ns"


def best_demand_settings(base_policy: Mapping[str, Any]) -> tuple[dict[str, Any], ...]:
    """engine.best_demand's candidates (`candidate_configs`, in its order), each labelled
    `demand (<setting>)`: the base's victims are kept when the base is demand paging, as
    `vmswap compare --best-demand` keeps the compared demand's; else demand's defaults."""
    base = dict(base_policy) if base_policy.get("name") == "demand" else None
    return tuple(
        {**cfg, "label": f"demand ({setting_label(cfg)})"} for cfg in candidate_configs(base)
    )


def parse_ratio(raw: Any, base_policy: Mapping[str, Any], fail: Callable[..., SweepError]) -> Ratio:
    """Validate a `[ratio]` table (the policies themselves are checked as a policy axis)."""
    if not isinstance(raw, Mapping):
        raise fail(f"expected a table, found {type(raw).__name__}", "ratio")
    for key in raw:
        if key not in RATIO_KEYS:
            hint = did_you_mean(str(key), RATIO_KEYS)
            raise fail(f"unknown key{hint}; allowed: {', '.join(RATIO_KEYS)}", f"ratio.{key}")
    metric = raw.get("metric", DEFAULT_RATIO_METRIC)
    if not isinstance(metric, str):
        raise fail(f"{metric!r} is not allowed; expected a summary metric's name", "ratio.metric")
    of = raw.get("of", str(base_policy.get("name", "demand")))
    to = raw.get("to", BEST_DEMAND)
    for where, value in (("ratio.of", of), ("ratio.to", to)):
        if not isinstance(value, str | Mapping):
            raise fail(f"{value!r} is not allowed; expected a policy name or a table", where)
    of = of if isinstance(of, str) else dict(of)
    if to == BEST_DEMAND:
        baseline: tuple[str | dict[str, Any], ...] = best_demand_settings(base_policy)
    else:
        baseline = (to if isinstance(to, str) else dict(to),)
    labels = [policy_label(of), *(policy_label(p) for p in baseline)]
    if len(set(labels)) != len(labels):
        raise fail(f"{labels[0]!r} is also a baseline setting; compare two policies", "ratio.of")
    return Ratio(metric, of, labels[0], baseline, policy_label(to) if to != BEST_DEMAND else to)


def ratio_rows(sweep: Sweep, frame: Any) -> Any:
    """One row per grid point and seed: the axes, `of`'s metric, the best baseline's metric
    and setting, the ratio (None where the baseline's metric is 0) and the real overcommit:
    the grid point's touched pages (engine.overcommit, with unlimited memory, so the same for
    every policy) ÷ the host's frames (`real_overcommit`, when kept)."""
    import pandas as pd

    ratio = sweep.ratio
    if ratio is None:
        raise SweepError("this sweep has no [ratio] table", source=sweep.source, field="ratio")
    axes = [c for c in sweep.columns if c not in ("run", "policy", "seed", *sweep.metrics)]
    keys = [*axes, "seed"]
    order = {label: i for i, label in enumerate(ratio.baseline_labels)}
    rows = []
    for point, group in frame.groupby(keys, sort=False):
        by_policy = {str(r["policy"]): r for r in group.to_dict("records")}
        own = by_policy.get(ratio.of_label)
        candidates = [by_policy[label] for label in order if label in by_policy]
        if own is None or not candidates:
            continue
        # The least metric wins; a tie goes to the earlier setting (engine.best_demand's rule).
        best = min(candidates, key=lambda r: (float(r[ratio.metric]), order[str(r["policy"])]))
        denominator = float(best[ratio.metric])
        row = dict(zip(keys, point if isinstance(point, tuple) else (point,), strict=True))
        row.update(
            {
                ratio.metric: float(own[ratio.metric]),
                f"baseline_{ratio.metric}": denominator,
                "baseline": str(best["policy"]),
                "ratio": float(own[ratio.metric]) / denominator if denominator else None,
            }
        )
        if is_number(best.get("touched_pages")) and best.get("host_frames"):
            row["real_overcommit"] = float(best["touched_pages"]) / float(best["host_frames"])
        rows.append(row)
    return pd.DataFrame(rows)


def ratio_cells(rows: Any, x: str, y: str) -> Any:
    """Per (x, y) cell: the ratio's mean over seeds (and any other axis), its 95 % interval
    (lo, hi; None from one sample), the samples' count, the mean real overcommit and the best
    baseline settings seen. A cell whose every ratio is None is left out."""
    import pandas as pd

    out = []
    for (xv, yv), group in rows.groupby([x, y], sort=True):
        samples = [float(v) for v in group["ratio"] if is_number(v)]
        if not samples:
            continue
        iv = interval(samples)
        cell: dict[str, Any] = {
            x: xv,
            y: yv,
            "ratio": iv.mean,
            "lo": iv.lo,
            "hi": iv.hi,
            "n": iv.n,
            "baselines": ", ".join(sorted(set(map(str, group["baseline"])))),
        }
        if "real_overcommit" in group:
            cell["real_overcommit"] = float(group["real_overcommit"].mean())
        out.append(cell)
    return pd.DataFrame(out)


def ratio_axes(rows: Any, metric: str) -> Sequence[str]:
    """The axis columns of a ratio table that take more than one value (seed excluded)."""
    skip = {
        "seed",
        metric,
        f"baseline_{metric}",
        "baseline",
        "ratio",
        "real_overcommit",
    }
    return [c for c in rows.columns if c not in skip and rows[c].nunique() > 1]


def ratio_text(sweep: Sweep, frame: Any) -> str:
    """The ratio per grid point, mean over seeds and 95 % interval, a line each: what
    `vmswap sweep` prints after a ratio sweep."""
    ratio = sweep.ratio
    if ratio is None:
        raise SweepError("this sweep has no [ratio] table", source=sweep.source, field="ratio")
    rows = ratio_rows(sweep, frame)
    axes = list(ratio_axes(rows, ratio.metric)) or ["vm_count"]
    lines = [f"{ratio.of_label} {ratio.metric} ÷ {ratio.to_label}'s, mean over seeds [95 %]:"]
    for point, group in rows.groupby(axes, sort=False):
        values = point if isinstance(point, tuple) else (point,)
        where = ", ".join(f"{a}={v}" for a, v in zip(axes, values, strict=True))
        samples = [float(v) for v in group["ratio"] if is_number(v)]
        if not samples:
            lines.append(f"  {where}: no ratio (the baseline's {ratio.metric} is 0)")
            continue
        iv = interval(samples)
        spread = f"[{iv.lo:.3f}, {iv.hi:.3f}]" if iv.lo is not None else "[one seed]"
        lines.append(f"  {where}: {iv.mean:.3f} {spread}")
    return "\n".join(lines)
