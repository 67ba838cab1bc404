"""`vmswap validate`: check a scenario file against the schema; exit 0 or print the error.

Its overcommit is the configured one (guest memory ÷ host memory), which says little: a VM
may touch a fraction of its memory. `--real` also runs the scenario with unlimited memory
and gives the real overcommit, the distinct pages touched ÷ frames (engine.overcommit), the
figure the scenario descriptions and the sweeps use."""

from __future__ import annotations

import argparse
from typing import Any

from engine.overcommit import touched_pages
from engine.scenario import load_scenario


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("validate", help="check a scenario file", description=__doc__)
    p.add_argument("scenario", help="a scenario TOML file")
    p.add_argument(
        "--real",
        action="store_true",
        help="also run it with unlimited memory and give the real overcommit "
        "(distinct pages touched ÷ frames)",
    )
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    s = load_scenario(args.scenario)
    frames = s.host_frames
    pages = sum(s.vm_pages(vm) for vm in s.vms)
    print(
        f"{args.scenario}: ok ({len(s.vms)} VMs, {pages:,} guest pages on {frames:,} frames, "
        f"configured overcommit {pages / frames:.2f}x)"
    )
    if args.real:
        touched = touched_pages(s)
        print(
            f"real overcommit {touched / frames:.2f}x: {touched:,} distinct pages touched "
            f"in {s.duration_ms:,g} ms with unlimited memory, on {frames:,} frames"
        )
    return 0
