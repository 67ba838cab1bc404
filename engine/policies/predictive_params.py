"""The switches of `predictive` (a param class, so TOML, --set, links and widgets take them)
and the mechanisms `vmswap ablate` switches off one at a time."""

from __future__ import annotations

import param

from engine.policies.demand import DemandParams

# The mechanisms `vmswap ablate` switches off one at a time (each a boolean switch).
MECHANISMS = (
    "restore",
    "device_lead",
    "schedule_victims",
    "swap_out",
    "write_back",
    "gating",
    "cancel",
    "backoff",
)

# Switches that are gone. Every share link and saved scenario of `predictive` made while the
# benefit ledger existed carries `benefit_backoff = false` (links and downloads write every
# switch), so false is still read and ignored: it is exactly what the policy does now. True
# asked for the ledger, which no longer exists: that is refused rather than run differently.
RETIRED: dict[str, tuple[object, str]] = {
    "benefit_backoff": (
        False,
        "the benefit ledger was removed (the back-off on measured benefit, backoff_on = "
        "'benefit', is the default)",
    ),
}


class PredictiveParams(DemandParams):
    """The switches of `predictive`; victims/readahead/page_cluster are demand's fallbacks."""

    horizon_ms = param.Number(
        150.0,
        bounds=(0.0, 60_000.0),
        doc="How far ahead the policy reads the scheduler's plan, ms (0: no scheduling "
        "information, i.e. demand paging exactly).",
    )
    restore = param.Boolean(
        True, doc="Working-set restore: read a VM's recent pages in before its planned slice."
    )
    restore_periods = param.Integer(
        6, bounds=(1, 64), doc="k: the working set is the pages used in the last k active periods."
    )
    restore_order = param.Selector(
        default="recency",
        objects=["recency", "frequency"],
        doc="Which pages go first: most recently used, or used in most of the k periods.",
    )
    restore_cap_pct = param.Number(
        50.0, bounds=(0.0, 100.0), doc="Most pages one VM's restore reads, % of host frames."
    )
    device_lead = param.Boolean(
        True,
        doc="Start a restore a lead time before the slice computed from the device (latency, "
        "per-lane transfer, lanes, queue); off: as soon as the VM enters the horizon.",
    )
    lead_margin_us = param.Number(
        300.0, bounds=(0.0, 1e7), doc="Slack added to the computed lead time, µs."
    )
    prefetch_batch_pages = param.Integer(
        32, bounds=(1, 4096), doc="Pages per restore read operation."
    )
    schedule_victims = param.Boolean(
        True,
        doc="Victims from the VM whose next planned start is farthest (not in the plan: "
        "farthest of all), LRU within a VM; off: the demand victims setting.",
    )
    swap_out = param.Boolean(
        True,
        doc="Proactive swap-out: when a VM goes inactive for long, swap out (in the background) "
        "the frames the restores planned before its return will need.",
    )
    swap_out_min_idle_ms = param.Number(
        5.0, bounds=(0.0, 1e6), doc="Inactive time (planned) that counts as long, ms."
    )
    write_back = param.Boolean(
        True,
        doc="Background writing: shortly before a VM's slice ends, write back (keeping them "
        "resident) the dirty pages the coming swap-out will take, so that it frees frames at once.",
    )
    gating = param.Boolean(
        True, doc="Dispatch gating: a VM's slice starts only once its restore has landed."
    )
    gate_max_wait_ms = param.Number(
        3.0, bounds=(0.0, 1e5), doc="Longest a vCPU is held back by gating, ms."
    )
    cancel = param.Boolean(
        True, doc="Cancel queued restore reads of a VM that left the plan horizon."
    )
    backoff = param.Boolean(
        True,
        doc="While the plan has been mostly wrong, be demand paging (no restore, swap-out, "
        "write-back, gating or schedule-aware victims); it starts so until the plan proves right.",
    )
    backoff_on = param.Selector(
        default="benefit",
        objects=["benefit", "plan"],
        doc="What the back-off decides from. benefit (the default): once the VMs have touched "
        "1.5x the host's frames, epochs of acting on the plan, each judged by the host's stall "
        "against the faults demand paging (a shadow LRU) would have taken on the same "
        "references; an epoch that does not pay stops gating, swap-out and write-back (restores "
        "go on) for a probation that doubles while trials fail (below 1.5x the shadow is not "
        "precise enough: plan accuracy decides). plan: recent plan accuracy below backoff_below "
        "only. benefit holds the do-no-harm grid where plan does not (docs/results.md).",
    )
    backoff_below = param.Number(
        0.7,
        bounds=(0.0, 1.0),
        doc="Recent plan accuracy below which the policy backs off; it engages again at "
        "this plus 0.15 (at most 0.95).",
    )
