"""Deterministic reference streams, consumed as a vCPU makes progress.

A stream is generated in fixed blocks from its own seeded generator, so the references a VM
makes never depend on how fast it runs, on the policy, or on the other VMs (common random
numbers): position i of a stream is the same in every run of a scenario and seed.

The stream kinds are in `sources`, traces read and mapped once for every run in `prepared`,
the blocks drawn and kept for the next run in `blocks`, the seeding in `seeding`, and a
vCPU's view of its stream in `stream`.
"""

from __future__ import annotations

from engine.workloads.blocks import BLOCK_REFS as BLOCK_REFS
from engine.workloads.blocks import STREAM_CACHE_BYTES as STREAM_CACHE_BYTES
from engine.workloads.blocks import forget_kept_blocks as forget_kept_blocks
from engine.workloads.seeding import skip_draws as skip_draws
from engine.workloads.seeding import stream_seed as stream_seed
from engine.workloads.sources import NEVER as NEVER
from engine.workloads.stream import RefStream as RefStream
