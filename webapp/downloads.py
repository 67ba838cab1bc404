"""What the download buttons hand out: the scenario as TOML, the results as CSV and JSON.

A side that is best demand says so in both: the readahead setting chosen, the seed it was
chosen on and every candidate's lost time (CSV: one row per candidate after the side's rows).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from engine import dumps_toml, from_dict
from engine.best_demand import setting_label
from webapp.runs import RunPair

PANES = ("A", "B")


def scenario_toml(
    scenario: dict[str, Any],
    policy_a: dict[str, Any],
    policy_b: dict[str, Any],
    tunings: dict[str, Any] | None = None,
) -> str:
    """The scenario with policy A as its own [policy]; policy B is noted in a comment so the
    file stays a plain scenario that `vmswap run` reads. A best-demand side (`tunings`) is
    saved as the setting chosen, and a comment says how it was chosen."""
    data = {**scenario, "policy": policy_a}
    b = ", ".join(f"{k} = {json.dumps(v)}" for k, v in policy_b.items())
    head = f"# vmswap scenario saved by the web app\n# policy B: {{ {b} }}\n"
    for pane, tuned in sorted((tunings or {}).items()):
        head += f"# policy {pane} is {tuned.label()}: {tuned.note()}\n"
    return head + dumps_toml(from_dict(data))


def results_rows(runs: RunPair) -> list[dict[str, Any]]:
    """One row per pane and VM, then one per pane for the whole host, then for a best-demand
    pane one per readahead setting tried (its lost time, and whether it was chosen)."""
    rows: list[dict[str, Any]] = []
    for pane, series, pol in ((PANES[0], runs.a, runs.policy_a), (PANES[1], runs.b, runs.policy_b)):
        res = series.result
        tuned = runs.tunings.get(pane)
        setting = {} if tuned is None else {"best_demand_setting": setting_label(tuned.chosen)}
        for vm in res.vms:
            rows.append({"pane": pane, "policy": pol["name"], **setting, **vm})
        rows.append(
            {"pane": pane, "policy": pol["name"], **setting, "name": "(host)", **res.summary}
        )
        if tuned is None:
            continue
        for c in tuned.candidates:
            rows.append(
                {
                    "pane": pane,
                    "policy": pol["name"],
                    "name": f"(best demand candidate, seed {tuned.seed})",
                    "best_demand_setting": c["label"],
                    "chosen": c["config"] == tuned.chosen,
                    "lost_time_ms": c["lost_time_ms"],
                }
            )
    return rows


def results_csv(runs: RunPair) -> str:
    rows = results_rows(runs)
    keys: list[str] = []
    for row in rows:
        keys.extend(k for k in row if k not in keys)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def results_json(runs: RunPair, frame: int) -> str:
    doc = {
        "scenario": runs.scenario_dict,
        "policies": {PANES[0]: runs.policy_a, PANES[1]: runs.policy_b},
        "frame": int(frame),
        "results": {PANES[0]: runs.a.result.to_json(), PANES[1]: runs.b.result.to_json()},
    }
    if runs.tunings:
        doc["best_demand"] = {pane: t.to_json() for pane, t in runs.tunings.items()}
    return json.dumps(doc, indent=2, sort_keys=True, default=_plain)


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
