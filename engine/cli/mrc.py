"""`vmswap mrc`: the miss-ratio curve of a page-reference trace for one or more policies."""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np

from engine.cli.replay import (
    UsageError,
    add_trace_arguments,
    load_trace,
    note_format,
    parse_policy,
)
from engine.limits import quote
from engine.mrc import check_points, default_frames, mrc
from engine.replay import POLICIES, ReplayError

_FRAMES_ALLOWED = "a:b:step (1 ≤ a ≤ b, step ≥ 1, b included) or a comma list of counts ≥ 1"


def register(subparsers: Any) -> None:
    """Add the `mrc` sub-command."""
    parser = subparsers.add_parser(
        "mrc",
        help="miss ratio against number of frames (LRU exact in one pass)",
        description=__doc__,
    )
    add_trace_arguments(parser)
    parser.add_argument(
        "--policies",
        default="lru",
        help=f"comma list of policies from {', '.join(POLICIES)} (default lru)",
    )
    parser.add_argument(
        "--frames",
        metavar="A:B:STEP",
        help="frame counts A, A+STEP, … up to B (default: ~20 up to the distinct pages)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def parse_frames(text: str) -> list[int]:
    """'a:b:step' (b included; step defaults to 1) or 'n1,n2,…' as a list of frame counts.

    At most MAX_MRC_POINTS counts, checked before the list is built."""
    try:
        if ":" in text:
            parts = [int(p, 10) for p in text.split(":")]
            if len(parts) == 2:
                parts.append(1)
            if len(parts) != 3:
                raise ValueError(text)
            start, stop, step = parts
            if start < 1 or stop < start or step < 1:
                raise ValueError(text)
            check_points((stop - start) // step + 1)  # len(range) overflows past 2**63
            return list(range(start, stop + 1, step))
        check_points(text.count(",") + 1)
        counts = [int(p, 10) for p in text.split(",")]
        if min(counts) < 1:
            raise ValueError(text)
        return counts
    except ReplayError as exc:
        raise UsageError(f"--frames: {exc} (raise STEP, or list fewer)") from None
    except ValueError:
        raise UsageError(f"--frames: got {quote(text)}, expected {_FRAMES_ALLOWED}") from None


def parse_policies(text: str) -> list[str]:
    """A comma list of policy names, each known, without repeats."""
    names = [parse_policy(p, "--policies") for p in text.split(",") if p.strip()]
    if not names:
        raise UsageError(
            f"--policies: got {text!r}, expected a comma list of {', '.join(POLICIES)}"
        )
    return list(dict.fromkeys(names))


def run(args: argparse.Namespace) -> int:
    """Compute the curve and print it as a table or JSON."""
    policies = parse_policies(args.policies)
    frames = parse_frames(args.frames) if args.frames is not None else None
    trace = load_trace(args)
    distinct = len(np.unique(trace.pages))
    if frames is None:
        frames = default_frames(distinct)
    curves = mrc(trace.pages, frames, policies)
    note_format(args, trace)
    if args.json:
        out = {
            "frames": frames,
            "miss_ratio": {p: [float(x) for x in curves[p]] for p in policies},
            "references": len(trace),
            "distinct_pages": distinct,
            "format": trace.format,
        }
        print(json.dumps(out))
        return 0
    print(
        f"{args.trace} ({trace.format}): {len(trace)} references, {distinct} distinct pages; "
        "miss ratio (faults ÷ references, cold misses included)"
    )
    print(f"{'frames':>8}" + "".join(f"{p:>10}" for p in policies))
    for i, size in enumerate(frames):
        print(f"{size:>8}" + "".join(f"{curves[p][i]:>10.4f}" for p in policies))
    return 0
