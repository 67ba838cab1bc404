"""`vmswap capture`: record the page references of a real program with valgrind lackey."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, TextIO

from engine.capture import capture, check_output, estimate, find_valgrind, resolve_program
from engine.cli.replay import UsageError, parse_int


def register(subparsers: Any) -> None:
    """Add the `capture` sub-command."""
    parser = subparsers.add_parser(
        "capture",
        help="trace a real program's memory references into an .npz (valgrind lackey)",
        description=__doc__,
        usage="vmswap capture --out FILE.npz [options] -- PROGRAM [ARGS...]",
    )
    parser.add_argument("--out", required=True, metavar="FILE.npz", help="the trace to write")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="record instruction fetches too (marked in a 'fetches' array)",
    )
    parser.add_argument(
        "--page-shift",
        default="12",
        metavar="K",
        help="page = byte address >> K (default 12: 4 KiB pages; 21: 2 MiB)",
    )
    parser.add_argument(
        "--max-refs",
        default=None,
        metavar="N",
        help="stop the program after N references (the trace is marked truncated)",
    )
    parser.add_argument("--valgrind", default=None, metavar="PATH", help="valgrind to use")
    parser.add_argument(
        "command",
        nargs=argparse.REMAINDER,
        metavar="-- PROGRAM [ARGS...]",
        help="the program to trace and its arguments (a wrapper script is followed to its "
        "binary); its stdin, stdout and stderr are vmswap's",
    )
    parser.set_defaults(func=run)


class ProgressLine:
    """References so far and their rate on stderr: one line redrawn on a terminal, else a
    line every `every_s` seconds."""

    def __init__(self, stream: TextIO, every_s: float | None = None) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.every_s = every_s if every_s is not None else (0.5 if self.tty else 10.0)
        self.last = time.monotonic()

    def __call__(self, references: int, seconds: float) -> None:
        now = time.monotonic()
        if now - self.last < self.every_s:
            return
        self.last = now
        rate = references / seconds if seconds > 0 else 0.0
        text = f"vmswap: {references:,} references, {rate / 1000:,.0f} k/s, {seconds:,.0f} s"
        self.stream.write(f"\r{text}\033[K" if self.tty else f"{text}\n")
        self.stream.flush()

    def done(self) -> None:
        if self.tty:
            self.stream.write("\r\033[K")


def run(args: argparse.Namespace) -> int:
    """Resolve the program, say what to expect, capture, and report what was written."""
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise UsageError("no program given: vmswap capture --out FILE.npz -- PROGRAM [ARGS...]")
    page_shift = parse_int(args.page_shift, "--page-shift", low=0, high=40)
    max_refs = None if args.max_refs is None else parse_int(args.max_refs, "--max-refs")
    check_output(args.out)
    find_valgrind(args.valgrind)
    program = resolve_program(command[0], command[1:])
    for note in program.notes:
        sys.stderr.write(f"vmswap: {note}\n")
    sys.stderr.write(f"vmswap: {estimate(program, max_refs)}\n")
    sys.stderr.flush()
    progress = ProgressLine(sys.stderr)
    try:
        result = capture(
            command,
            args.out,
            page_shift=page_shift,
            instructions=args.instructions,
            max_refs=max_refs,
            valgrind=args.valgrind,
            progress=progress,
            program=program,
        )
    finally:
        progress.done()
    rate = result.references / result.seconds if result.seconds > 0 else 0.0
    sys.stderr.write(
        f"vmswap: wrote {result.path}: {result.meta['description']}; "
        f"{result.seconds:,.1f} s, {rate / 1000:,.0f} k references/s\n"
    )
    if result.exit_status != 0 and not result.truncated:
        sys.stderr.write(
            f"vmswap: warning: {program.argv[0]} exited with status {result.exit_status}; "
            "the trace holds what it did before that\n"
        )
        return 1
    return 0
