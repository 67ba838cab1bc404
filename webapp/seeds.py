"""Many seeds of one scenario: which seeds run, what each seed's whole run gave, and the mean
and 95 % interval over them (engine.stats), for the cards and the per-VM slowdown chart.

A verdict is stated over seeds (DESIGN.md §2). The seeds of a scenario are its own seed and
the next ones (seed, seed + 1, …); A and B of one seed see the same reference streams, so
B − A is paired by seed. Pure functions of finished runs: no Panel, testable without a page.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.simulator import RunResult
from engine.stats import Interval, interval, paired_interval
from webapp.runs import RunPair, whole_figure

DEFAULT_SEEDS = 5
MAX_SEEDS = 20
SEED_TOP = 2**63 - 1  # the scenario schema's largest seed
# The figures the cards show (their keys); each seed keeps all of them, the cards pick.
CARD_KEYS = (
    "major_faults",
    "lost_time_ms",
    "stall_ms",
    "prefetch_accuracy",
    "coverage",
    "slowdown",
)

Figures = dict[str, float | None]


def seed_list(base: int, n: int) -> list[int]:
    """The n seeds of a scenario whose own seed is `base`: base, base + 1, … (past the
    schema's largest seed they go on from 0, so every one stays a valid seed)."""
    return [(int(base) + k) % (SEED_TOP + 1) for k in range(max(1, int(n)))]


def with_seed(scenario: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """A copy of a scenario dict with another seed (the rest, shared, is not copied deep:
    nothing here mutates it)."""
    return {**scenario, "seed": int(seed)}


@dataclass(frozen=True)
class SeedRecord:
    """What one seed's pair of runs gave over the whole run: the cards' figures of A and B
    (None where one does not apply) and each VM's slowdown."""

    seed: int
    a: Figures
    b: Figures
    vm_slowdown_a: Figures
    vm_slowdown_b: Figures


def _figures(result: RunResult, reference_major_faults: int | None) -> Figures:
    return {k: whole_figure(result.summary, reference_major_faults, k) for k in CARD_KEYS}


def _vm_slowdown(result: RunResult) -> Figures:
    out: Figures = {}
    for row in result.vms:
        value = row.get("slowdown")
        out[str(row["name"])] = None if value is None else float(value)
    return out


def seed_record(
    seed: int, a: RunResult, b: RunResult, reference_major_faults: int | None
) -> SeedRecord:
    """The record of one seed from its A and B runs and demand paging's major faults."""
    return SeedRecord(
        int(seed),
        _figures(a, reference_major_faults),
        _figures(b, reference_major_faults),
        _vm_slowdown(a),
        _vm_slowdown(b),
    )


def pair_record(seed: int, runs: RunPair) -> SeedRecord:
    """The record of the pair on display (run with `seed`)."""
    return seed_record(seed, runs.a.result, runs.b.result, runs.reference_major_faults)


@dataclass(frozen=True)
class SeedStats:
    """Mean and 95 % interval over the seeds done so far.

    `metrics[key]` holds "a", "b" (each over the seeds where the figure applies) and "delta"
    (B − A paired by seed, over the seeds where both apply); `vm_slowdown[vm]` holds "A" and
    "B". A side is missing where no seed has the figure."""

    seeds: tuple[int, ...]
    metrics: dict[str, dict[str, Interval]]
    vm_slowdown: dict[str, dict[str, Interval]]

    @property
    def n(self) -> int:
        return len(self.seeds)


def _sides(xa: Sequence[float | None], xb: Sequence[float | None]) -> dict[str, Interval]:
    out: dict[str, Interval] = {}
    for side, xs in (("a", xa), ("b", xb)):
        present = [float(x) for x in xs if x is not None]
        if present:
            out[side] = interval(present)
    pairs = [
        (float(x), float(y)) for x, y in zip(xa, xb, strict=True) if x is not None and y is not None
    ]
    if pairs:
        out["delta"] = paired_interval([p[0] for p in pairs], [p[1] for p in pairs])
    return out


def seed_stats(records: Iterable[SeedRecord]) -> SeedStats:
    """Intervals over `records` (one per seed; in seed order whatever order they came in)."""
    recs = sorted(records, key=lambda r: r.seed)
    metrics = {k: _sides([r.a.get(k) for r in recs], [r.b.get(k) for r in recs]) for k in CARD_KEYS}
    names = list(recs[0].vm_slowdown_a) if recs else []
    vm_slowdown: dict[str, dict[str, Interval]] = {}
    for name in names:
        sides = _sides(
            [r.vm_slowdown_a.get(name) for r in recs], [r.vm_slowdown_b.get(name) for r in recs]
        )
        vm_slowdown[name] = {p: sides[s] for p, s in (("A", "a"), ("B", "b")) if s in sides}
    return SeedStats(tuple(r.seed for r in recs), metrics, vm_slowdown)
