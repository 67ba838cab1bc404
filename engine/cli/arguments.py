"""Arguments that `run`, `compare` and `ablate` share, written once so that they read and
behave the same in each."""

from __future__ import annotations

import argparse


def add_scenario_arguments(parser: argparse.ArgumentParser, *, set_help: str) -> None:
    """The scenario file, `--set PATH=VALUE` (repeatable, into `args.overrides`) and `--json`.

    Only `--set`'s help differs by command: what a PATH may name. Call this after the
    command's own options, so that `--help` lists those first."""
    parser.add_argument("scenario", help="a scenario TOML file")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        dest="overrides",
        help=set_help,
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
