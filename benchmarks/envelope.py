"""The operating envelope: the two envelope sweeps on a local Dask cluster, drawn as heatmaps.

Runs scenarios/sweeps/envelope_footprint.toml (host memory × swap device) and
envelope_slice.toml (slice length × plan error rate): predictive's lost time ÷ the best demand
paging's (the best swap-readahead setting per cell and seed). For each it writes
docs/data/NAME.csv (one row per cell: mean ratio over seeds, 95 % interval, seeds, measured
overcommit, the best demand settings) and docs/img/NAME.png, and prints the cells.

The PNG is the app's Sweep-tab heatmap (`webapp.sweep_charts.ratio_heatmap`). Bokeh's own
export needs Selenium and a chromedriver, which this machine lacks, so the figure is saved as
standalone HTML with BokehJS inline (nothing is fetched) and Chromium headless screenshots it.
Journals in build/envelope/ make a second run instant (`--fresh` discards them).
Usage: python benchmarks/envelope.py [--workers 2] [--only footprint|slice] [--fresh]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from engine.stats import is_number
from engine.sweep import Journal, load_sweep, ratio_cells, ratio_rows, run_sweep
from tests.served import CHROMIUM_ARGS, chromium_path

ROOT = Path(__file__).resolve().parents[1]
SWEEPS = {
    "footprint": ("envelope_footprint", "overcommit", "device.preset"),
    "slice": ("envelope_slice", "scheduler.slice_ms", "faults.plan_error_rate"),
}
# Chromium as the browser tests start it (no request off this machine), headless, and given
# time for BokehJS to render before the shot.
SHOT_ARGS = ["--headless=new", "--hide-scrollbars", "--virtual-time-budget=10000"]


def chromium() -> str:
    """Debian's Chromium, or $CHROMIUM."""
    exe = chromium_path()
    if exe is None:
        raise SystemExit("no Chromium: apt-get install chromium, or set CHROMIUM")
    return exe


def write_png(fig: Any, out: Path) -> None:
    """Render a Bokeh figure to PNG: standalone HTML (inline BokehJS), Chromium's screenshot."""
    from bokeh.embed import file_html
    from bokeh.resources import INLINE

    width, height = int(fig.width or 720) + 40, int(fig.height or 360) + 40
    with tempfile.TemporaryDirectory(prefix="vmswap-envelope-") as tmp:
        html = Path(tmp) / "figure.html"
        html.write_text(file_html(fig, INLINE, title=out.stem), encoding="utf-8")
        subprocess.run(
            [
                chromium(),
                *CHROMIUM_ARGS,
                *SHOT_ARGS,
                f"--user-data-dir={tmp}/profile",
                f"--window-size={width},{height}",
                f"--screenshot={out}",
                html.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


def run_one_sweep(key: str, workers: int, fresh: bool) -> None:
    from webapp.sweep_charts import ratio_heatmap

    name, x, y = SWEEPS[key]
    sweep = load_sweep(ROOT / "scenarios" / "sweeps" / f"{name}.toml")
    assert sweep.ratio is not None, f"{name} has no [ratio] table"
    journal = Journal(ROOT / "build" / "envelope" / f"{name}.runs.jsonl")
    if fresh:
        journal.discard()

    def progress(p: Any) -> None:
        print(f"\r{name}: {p.done}/{p.total} runs, {p.elapsed_s:.0f} s", end="", file=sys.stderr)

    outcome = run_sweep(sweep, journal=journal, workers=workers, progress=progress)
    print(file=sys.stderr)
    rows = ratio_rows(sweep, outcome.frame)
    cells = ratio_cells(rows, x, y)
    data_dir, img_dir = ROOT / "docs" / "data", ROOT / "docs" / "img"
    data_dir.mkdir(parents=True, exist_ok=True)
    img_dir.mkdir(parents=True, exist_ok=True)
    cells.to_csv(data_dir / f"{name}.csv", index=False, float_format="%.4f")
    r = sweep.ratio
    fig = ratio_heatmap(rows, x, y, of_label=r.of_label, to_label=r.to_label, metric=r.metric)
    write_png(fig, img_dir / f"{name}.png")
    print(
        f"{name}: {outcome.total} runs ({outcome.cached} from the journal) in "
        f"{outcome.elapsed_s:.0f} s; {len(sweep.seeds)} seeds per cell"
    )
    print(f"{r.of_label} {r.metric} ÷ {r.to_label}'s, mean [95 % interval]:")
    with_real = "real_overcommit" in cells
    for c in cells.to_dict("records"):
        ci = f"[{c['lo']:.3f}, {c['hi']:.3f}]" if is_number(c["lo"]) else "[one seed]"
        real = f"  real overcommit {c['real_overcommit']:.2f}" if with_real else ""
        print(
            f"  {x}={c[x]!s:<8} {y}={c[y]!s:<10} {c['ratio']:.3f} {ci}{real}"
            f"  best: {c['baselines']}"
        )
    print(f"wrote docs/data/{name}.csv and docs/img/{name}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="local Dask workers (default 2)")
    parser.add_argument("--only", choices=sorted(SWEEPS), help="run one of the two sweeps")
    parser.add_argument("--fresh", action="store_true", help="discard the journals first")
    args = parser.parse_args()
    for key in [args.only] if args.only else list(SWEEPS):
        run_one_sweep(key, args.workers, args.fresh)


if __name__ == "__main__":
    main()
