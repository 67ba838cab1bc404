"""`vmswap sweep`: run a sweep file on a local or remote Dask cluster, resumably."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, TextIO

from engine.errors import VmswapError
from engine.sweep import (
    DEFAULT_TIMEOUT_S,
    Journal,
    Progress,
    check_out_path,
    journal_path,
    load_sweep,
    ratio_text,
    run_sweep,
    write_results,
)


def register(subparsers: Any) -> None:
    """Add the `sweep` sub-command."""
    p = subparsers.add_parser(
        "sweep", help="run a grid of scenario variants on Dask", description=__doc__
    )
    p.add_argument("sweep", help="a sweep TOML file (see docs/sweeps.md)")
    p.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="an existing Dask scheduler, e.g. tcp://10.0.0.5:8786 (default: a local cluster)",
    )
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="worker processes of the local cluster (default: one per CPU)",
    )
    p.add_argument(
        "--out",
        metavar="PATH",
        help="results file, .parquet or .csv (default: SWEEP-NAME.parquet here); finished "
        "runs are journalled next to it in PATH-without-suffix.runs.jsonl",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        metavar="S",
        help=f"fail when no run finishes for S seconds (default {DEFAULT_TIMEOUT_S:g})",
    )
    p.add_argument(
        "--fresh", action="store_true", help="discard the journal and run every run again"
    )
    p.add_argument("--dry-run", action="store_true", help="validate and list the runs; run nothing")
    p.set_defaults(func=main)


class ProgressBar:
    """One line on a terminal, redrawn in place; occasional plain lines otherwise."""

    def __init__(self, label: str, stream: TextIO = sys.stderr, width: int = 30):
        self.label = label
        self.stream = stream
        self.width = width
        self.tty = stream.isatty()
        self.last_line = 0.0
        self.drawn = False
        self.ready: tuple[float, int] | None = None  # (time, done) when the workers were up

    def __call__(self, p: Progress) -> None:
        now = time.monotonic()
        final = p.done >= p.total
        if self.ready is None and p.workers:
            self.ready = (now, p.done)
        if not self.tty and not final and now - self.last_line < 10.0:
            return
        self.last_line = now
        frac = p.done / p.total if p.total else 1.0
        filled = int(frac * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        # The rate counts from the moment the workers were up, not from cluster start-up.
        since, base = self.ready or (now, p.done)
        rate = (p.done - base) / (now - since) if now > since else 0.0
        eta = (p.total - p.done) / rate if rate > 0 else None
        text = f"{self.label} [{bar}] {p.done}/{p.total} runs"
        if p.cached:
            text += f" ({p.cached} from the journal)"
        if p.workers:
            text += f", {p.workers} workers"
        if rate > 0:
            text += f", {rate:.2f} runs/s"
        if eta is not None and not final:
            text += f", ETA {_duration(eta)}"
        if self.tty:
            self.stream.write("\r\x1b[2K" + text)
            self.drawn = True
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False


def _duration(seconds: float) -> str:
    s = int(seconds + 0.5)
    return f"{s // 3600}h{s // 60 % 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def main(args: argparse.Namespace) -> int:
    """Run the sweep; the table goes to --out, a summary line to stderr."""
    if args.workers is not None and args.cluster:
        raise VmswapError(
            "--workers sizes the local cluster; with --cluster the cluster's own workers run"
        )
    if args.workers is not None and not 1 <= args.workers <= 1024:
        raise VmswapError(f"--workers: {args.workers} is not allowed; expected 1 to 1024")
    if args.timeout <= 0:
        raise VmswapError(f"--timeout: {args.timeout:g} is not allowed; expected seconds > 0")
    sweep = load_sweep(args.sweep)
    out = check_out_path(args.out or f"{sweep.name}.parquet")
    runs = sweep.runs()
    if args.dry_run:
        print(f"{sweep.name}: {len(runs)} runs; columns: {', '.join(sweep.columns)}")
        for run in runs:
            print(f"{run.key}  {run.describe()}")
        return 0
    journal = Journal(journal_path(out))
    if args.fresh:
        journal.discard()
    bar = ProgressBar(sweep.name)
    try:
        outcome = run_sweep(
            sweep,
            journal=journal,
            address=args.cluster,
            workers=args.workers,
            progress=bar,
            timeout_s=args.timeout,
        )
    except KeyboardInterrupt:
        bar.close()
        n = len(journal.load())
        sys.stderr.write(
            f"vmswap: interrupted; {n} finished runs are kept in {journal.path}: "
            "run the same command again to resume\n"
        )
        return 130
    except VmswapError as exc:
        bar.close()
        raise VmswapError(f"{exc}; finished runs are kept in {journal.path}") from None
    bar.close()
    write_results(outcome.frame, out)
    sys.stderr.write(
        f"{sweep.name}: {outcome.total} runs ({outcome.cached} from the journal, "
        f"{outcome.ran} run now) in {outcome.elapsed_s:.1f} s; wrote {len(outcome.frame)} "
        f"rows to {out}\n"
    )
    if len(outcome.frame) <= 40:
        print(outcome.frame.drop(columns="run").to_string(index=False))
    if sweep.ratio is not None:
        print(ratio_text(sweep, outcome.frame))
    return 0
