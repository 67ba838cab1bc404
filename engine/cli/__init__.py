"""The `vmswap` command line: one module per sub-command, each with `register(subparsers)`."""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

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


# The sub-command each module adds is named as the module is.
COMMANDS = tuple(name.rsplit(".", 1)[1] for name in COMMAND_MODULES)


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one line, never a usage dump longer than the message."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"vmswap: error: {message}\n")
        raise SystemExit(2)


def build_parser(commands: Sequence[str] = COMMANDS) -> argparse.ArgumentParser:
    """The parser of the named sub-commands (all by default): only their modules are imported,
    so a command does not wait for the others' (the sweep package, trace capture, density)."""
    parser = _Parser(prog="vmswap", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in COMMAND_MODULES:
        if name.rsplit(".", 1)[1] not in commands:
            continue
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: user errors print one line and exit 2; results go to stdout. Without
    argv it runs the process's own command line (`vmswap`, `python -m engine.cli`), and ends
    the process with the command's exit status."""
    code = run_command(sys.argv[1:] if argv is None else argv, own_process=argv is None)
    if argv is None:
        end_process(code)
    return code


def end_process(code: int) -> NoReturn:
    """End this process at once with status code, its output flushed. Python's own exit
    would first run the libraries' exit handlers (numba's compiled libraries taken out of
    LLVM one by one) and free every module's objects: 20-50 ms of `vmswap run`, none of it
    for the command, whose files are closed and whose children are reaped by now."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # the reader closed stdout (`| head`): Python's own exit says 120 too
        code = 120
    os._exit(code)


def run_command(argv: Sequence[str], own_process: bool = False) -> int:
    """Parse argv and run its command; the exit status. With own_process (the command is
    all this process does) the objects made by the imports are frozen before it runs."""
    words = list(argv)
    if own_process:
        # The command's modules (numba, param: a few hundred thousand objects that live to
        # the end) are imported next; the collector's passes among them would free nothing.
        gc.disable()
    # A known command first: its parser alone. Anything else (help, a typo) sees them all.
    parser = build_parser(words[:1] if words[:1] and words[0] in COMMANDS else COMMANDS)
    args = parser.parse_args(words)
    if own_process:
        # Every module the command needs is imported now: out of the collector's generations,
        # the collections the run's own allocations trigger never walk those objects.
        gc.freeze()
        gc.enable()
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
