"""`vmswap replay`: count the faults of one page-reference trace under one textbook policy."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from engine.errors import VmswapError, unknown_name
from engine.replay import POLICIES, replay
from engine.traces import FORMATS, Trace, read_trace


class UsageError(VmswapError, ValueError):
    """A command-line flag has a value outside what it allows."""


def register(subparsers: Any) -> None:
    """Add the `replay` sub-command."""
    parser = subparsers.add_parser(
        "replay",
        help="replay a page-reference trace through N frames (fifo, lru, clock, opt)",
        description=__doc__,
    )
    add_trace_arguments(parser)
    parser.add_argument(
        "--frames", required=True, metavar="N", help="number of frames (whole number ≥ 1)"
    )
    parser.add_argument(
        "--policy", default="lru", help=f"eviction policy: {', '.join(POLICIES)} (default lru)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def add_trace_arguments(parser: argparse.ArgumentParser) -> None:
    """The trace file and how to read it; shared by `replay` and `mrc`."""
    parser.add_argument("trace", metavar="TRACE", help="trace file (gzip, xz, zstd are undone)")
    parser.add_argument(
        "--format",
        default="auto",
        help=f"trace format: auto, {', '.join(FORMATS)} (default auto: detect and say so)",
    )
    parser.add_argument("--column", default="page", help="CSV column of page numbers")
    parser.add_argument(
        "--page-shift",
        default="12",
        metavar="K",
        help="page = byte address >> K for ucsd and lackey traces (default 12: 4 KiB pages)",
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="lackey: count instruction fetches (I lines) as references too",
    )


def load_trace(args: argparse.Namespace) -> Trace:
    """Read the trace the flags describe (note_format says which format 'auto' chose)."""
    if args.format != "auto" and args.format not in FORMATS:
        raise UsageError(f"--format: {unknown_name('format', args.format, ('auto', *FORMATS))}")
    page_shift = parse_int(args.page_shift, "--page-shift", low=0, high=62)
    trace = read_trace(
        args.trace,
        args.format,
        page_shift=page_shift,
        instructions=args.instructions,
        column=args.column,
    )
    return trace


def note_format(args: argparse.Namespace, trace: Trace) -> None:
    """Say on stderr which format 'auto' chose; once the work is done, so that a refusal
    stays the one line on stderr."""
    if args.format == "auto":
        sys.stderr.write(f"vmswap: {args.trace}: format auto-detected as '{trace.format}'\n")


def parse_int(text: str, flag: str, *, low: int = 1, high: int | None = None) -> int:
    """`text` as a whole number in [low, high], else a UsageError naming `flag`."""
    allowed = (
        f"a whole number from {low} to {high}" if high is not None else f"a whole number ≥ {low}"
    )
    try:
        value = int(text, 10)
    except (TypeError, ValueError):
        raise UsageError(f"{flag}: got {text!r}, expected {allowed}") from None
    if value < low or (high is not None and value > high):
        raise UsageError(f"{flag}: got {value}, expected {allowed}")
    return value


def parse_policy(text: str, flag: str = "--policy") -> str:
    """`text` if it names a replay policy, else a UsageError with a "did you mean" hint."""
    name = text.strip().lower()
    if name not in POLICIES:
        raise UsageError(f"{flag}: {unknown_name('policy', text, POLICIES)}")
    return name


def run(args: argparse.Namespace) -> int:
    """Replay the trace and print the counts."""
    frames = parse_int(args.frames, "--frames")
    policy = parse_policy(args.policy)
    trace = load_trace(args)
    result = replay(trace.pages, frames, policy)
    note_format(args, trace)
    if args.json:
        out = {
            "references": result.references,
            "faults": result.faults,
            "hits": result.hits,
            "policy": policy,
            "frames": frames,
            "format": trace.format,
        }
        print(json.dumps(out))
    else:
        print(
            f"{args.trace} ({trace.format}): {result.references} references, {frames} frames, "
            f"{policy}: {result.faults} faults, {result.hits} hits "
            f"(fault ratio {result.fault_ratio:.4f})"
        )
    return 0
