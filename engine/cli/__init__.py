"""The `vmswap` command line: one module per sub-command, each with `register(subparsers)`."""

from __future__ import annotations

import argparse
import gc
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
    argv it runs the process's own command line (`vmswap`, `python -m engine.cli`), and the
    process ends when it returns."""
    code = run_command(sys.argv[1:] if argv is None else argv, own_process=argv is None)
    if argv is None:
        # The objects still alive (numba's typing tables and compiled code, param's classes)
        # would be collected and finalised one by one at interpreter exit: about 0.25 s of
        # CPU, a sixth of `vmswap run` on nvme_8vm_2x. Frozen, the collector leaves them to
        # the end of the process; atexit handlers and the flush of stdout still run.
        gc.freeze()
    return code


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
