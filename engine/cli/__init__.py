"""The `vmswap` command line: one module per sub-command, each with `register(subparsers)`."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from engine.errors import VmswapError

# Each module defines register(subparsers) and sets a `func(args) -> int` default on its parser.
COMMAND_MODULES = (
    "engine.cli.run",
    "engine.cli.validate",
    "engine.cli.replay",
    "engine.cli.mrc",
    "engine.cli.capture",
    "engine.cli.sweep",
    "engine.cli.density",
    "engine.cli.compare",
    "engine.cli.ablate",
)


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one line, never a usage dump longer than the message."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"vmswap: error: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="vmswap", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: user errors print one line and exit 2; results go to stdout."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except VmswapError as exc:
        sys.stderr.write(f"vmswap: error: {exc}\n")
        return 2
    except (OSError, KeyboardInterrupt) as exc:
        sys.stderr.write(f"vmswap: error: {exc}\n")
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
