"""`vmswap validate`: check a scenario file against the schema; exit 0 or print the error."""

from __future__ import annotations

import argparse
from typing import Any

from engine.scenario import load_scenario


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("validate", help="check a scenario file", description=__doc__)
    p.add_argument("scenario", help="a scenario TOML file")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    s = load_scenario(args.scenario)
    frames = s.host_frames
    pages = sum(s.vm_pages(vm) for vm in s.vms)
    print(
        f"{args.scenario}: ok ({len(s.vms)} VMs, {pages:,} guest pages on {frames:,} frames, "
        f"overcommit {pages / frames:.2f}x)"
    )
    return 0
