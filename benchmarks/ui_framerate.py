"""UI frame rate: headless Chromium opens the app, switches scenario, and plays the side-by-side
view of the 8-VM scenario.

Measures (and prints, with the targets of issues 4 and 15; a benchmark, never a pass/fail on time):
- the first frame of the default scenario painted after a cold server start (the page opened
  the moment the server answers /liveness, as `make run` serves it: its warm-up computes the
  default scenario's runs at start), and warm (opened again);
- the time to switch to each shipped scenario from the Scenario select until its first frame
  is painted (the server's warm-up computes every shipped scenario after the default one,
  VMSWAP_WARM=all as in `make run`; --warm default measures runs computed on demand), picked
  once the page is complete (its editors are in), split into the server's part (pick to the
  frame leaving it), the page's (to the frame applied) and the paint; and the first of them
  again on a fresh page, picked the moment its first frame is painted (the page's editors
  and the default scenario's other seeds still coming: the page's own work, not the switch's);
- first paint of the 8-VM link (cold: the server simulates it first; warm: cached);
- painted frames per second during playback at "max" speed (every frame, paced by the
  browser's paint acknowledgements);
- lag between a frame leaving the server and its paint (and its arrival in the document);
- as a peer measured in the same run on the same machine: the browser's own animation-frame
  rate with nothing to draw, i.e. the ceiling of any paced playback here.

Run: .venv/bin/python benchmarks/ui_framerate.py [--seconds 10] [--scenario nvme_8vm_2x]
     [--warm all|default]
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_FPS, TARGET_LAG_MS, TARGET_FIRST_PAINT_S, TARGET_SWITCH_S = 20.0, 250.0, 3.0, 2.0
FIRST_FRAME_MS = 600_000  # a cold, busy server may simulate for minutes


def eight_vm_link(name: str) -> tuple[str, str]:
    """The share query of the scenario with its default A and B, and a one-line description."""
    from engine import from_dict, load_scenario
    from engine.policies import validate_policy
    from webapp import urlcodec
    from webapp.state import default_policies

    path = ROOT / "scenarios" / f"{name}.toml"
    if path.exists():
        scenario = load_scenario(path)
    else:  # the quickstart doubled: 8 VMs on 4 pCPUs
        base = load_scenario(ROOT / "scenarios" / "quickstart.toml").to_dict()
        base["vms"] = base["vms"] + [dict(v, name=v["name"] + "2") for v in base["vms"]]
        base["host"] = {**base["host"], "pcpus": 4, "memory_mib": 512}
        base["name"] = "quickstart-x2"
        scenario = from_dict(base)
    a, b = default_policies(scenario.policy)
    a, b = validate_policy(a), validate_policy(b)
    query = "?run=" + urlcodec.encode(scenario.to_dict(), a, b, 0)
    what = (
        f"{scenario.name}: {len(scenario.vms)} VMs on {scenario.host.pcpus} pCPUs, "
        f"A = {a['name']}, B = {b['name']}"
    )
    return query, what


def first_paints(browser, url: str) -> tuple[float, float]:
    """Seconds from navigation to the first painted canvas and to the run's first frame."""
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    t0 = time.perf_counter()
    page.goto(url)
    page.wait_for_selector(".bk-Canvas")
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    canvas = time.perf_counter() - t0
    page.wait_for_function("() => (window.vmswapFrames || []).length > 0", timeout=FIRST_FRAME_MS)
    frame = time.perf_counter() - t0
    page.close()
    return canvas, frame


def wait_warm(log_text, timeout_s: float = 1800.0) -> float | None:
    """Seconds until the server's log says its warm-up finished (None: it did not say so)."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout_s:
        if "warm: finished" in log_text():
            return time.perf_counter() - t0
        time.sleep(0.5)
    return None


def switch_to(page, name: str) -> tuple[str, float, float, float, float]:
    """(name, seconds from picking `name` in the Scenario select to its first frame painted,
    and of those: until the frame left the server, until the page had applied it, the paint).
    A frame is sent only when a new pair of runs is shown while paused. The frame's times
    are the server's and the page's clocks: one machine, one clock."""
    picker = page.locator("select").filter(has_text="patent_demo").first
    picker.wait_for(timeout=FIRST_FRAME_MS)
    n0 = page.evaluate("window.vmswapFrames.length")
    picked_ms = time.time() * 1000.0
    t0 = time.perf_counter()
    picker.select_option(label=name)
    page.wait_for_function("n => window.vmswapFrames.length > n", arg=n0, timeout=FIRST_FRAME_MS)
    total = time.perf_counter() - t0
    f = page.evaluate("n => window.vmswapFrames[n]", n0)
    server = (f["sent"] - picked_ms) / 1000
    applied = (f["applied"] - f["sent"]) / 1000
    return name, total, server, applied, (f["painted"] - f["applied"]) / 1000


def switch_times(browser, url: str) -> list[tuple[str, float, float, float, float]]:
    """Each shipped scenario but the default picked in turn on a page that is complete (its
    editors in, the browser idle, two seconds to settle), then the first of them again (the
    first switch of a page against a later one): see switch_to."""
    from webapp.state import default_scenario_file, scenario_files

    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(url)
    page.wait_for_function("() => (window.vmswapFrames || []).length > 0", timeout=FIRST_FRAME_MS)
    page.wait_for_selector(".tabulator", timeout=FIRST_FRAME_MS)  # the VM table: editors in
    page.evaluate("() => new Promise(r => requestIdleCallback(r, {timeout: 20000}))")
    page.wait_for_timeout(2000)
    names = [n for n in scenario_files() if n != default_scenario_file()]
    out = [switch_to(page, n) for n in names]
    if names:
        name, *rest = switch_to(page, names[0])
        out.append((f"{name} again", *rest))
    page.close()
    return out


def switch_at_once(browser, url: str, name: str) -> tuple[str, float, float, float, float]:
    """`name` picked on a fresh page the moment its first frame is painted."""
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(url)
    page.wait_for_function("() => (window.vmswapFrames || []).length > 0", timeout=FIRST_FRAME_MS)
    out = switch_to(page, name)
    page.close()
    return out


def idle_raf_rate(page, seconds: float = 2.0) -> float:
    """requestAnimationFrame callbacks per second with nothing changing (the paced ceiling)."""
    return page.evaluate(
        """(ms) => new Promise(resolve => {
            let n = 0; const t0 = performance.now();
            const tick = () => { n++; if (performance.now() - t0 < ms) requestAnimationFrame(tick);
                                 else resolve(n * 1000 / (performance.now() - t0)); };
            requestAnimationFrame(tick);
        })""",
        seconds * 1000,
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="playback measured, s")
    ap.add_argument("--scenario", default="nvme_8vm_2x")
    ap.add_argument(
        "--warm", choices=("all", "default"), default="all", help="what the server warms at start"
    )
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from tests.served import CHROMIUM_ARGS, AppDidNotStart, chromium_path, served_app

    exe = chromium_path()
    if exe is None:
        print("ui_framerate: Chromium not found; skipped")
        return 0
    query, what = eight_vm_link(args.scenario)
    os.environ["VMSWAP_WARM"] = args.warm  # the server inherits it
    try:
        launched = time.perf_counter()
        served = served_app(name="ui-framerate-server", timeout_s=120.0)
        with served as app, sync_playwright() as pw:
            answered = time.perf_counter() - launched
            browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
            _, default_cold = first_paints(browser, app.url)
            _, default_warm = first_paints(browser, app.url)
            warm_s = wait_warm(app.log_text) if args.warm == "all" else None
            switches = switch_times(browser, app.url)
            at_once = switch_at_once(browser, app.url, switches[0][0]) if switches else None
            url = app.url + query
            cold_canvas, cold_frame = first_paints(browser, url)
            warm_canvas, warm_frame = first_paints(browser, url)

            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(url)
            page.wait_for_function("() => (window.vmswapFrames || []).length > 0", timeout=600_000)
            page.wait_for_timeout(500)
            peer = idle_raf_rate(page)
            page.locator("select").filter(has_text="ms/s").first.select_option(
                label="max (every frame)"
            )
            page.wait_for_timeout(300)
            page.locator(".vm-btn-play button").click()
            page.wait_for_timeout(2000)  # warm-up
            n0 = page.evaluate("window.vmswapFrames.length")
            page.wait_for_timeout(args.seconds * 1000)
            frames = page.evaluate("window.vmswapFrames")[n0:]
            page.locator(".vm-btn-play button").click()
            browser.close()
    except AppDidNotStart as exc:
        raise SystemExit(str(exc)) from None

    span_s = (frames[-1]["painted"] - frames[0]["painted"]) / 1000 if len(frames) > 1 else 0.0
    fps = (len(frames) - 1) / span_s if span_s > 0 else 0.0
    lag = sorted(f["painted"] - f["sent"] for f in frames) or [0.0]
    arrive = sorted(f["applied"] - f["sent"] for f in frames) or [0.0]
    p95 = lag[min(len(lag) - 1, int(0.95 * len(lag)))]
    steps = [b["frame"] - a["frame"] for a, b in itertools.pairwise(frames)]
    skipped = sum(1 for s in steps if s > 1)

    def mark(ok: bool) -> str:
        return "meets" if ok else "misses"

    print(f"vmswap UI, headless Chromium; server warm-up scope: {args.warm}")
    print(f"  server answered /liveness {answered:5.2f} s after launch")
    print(
        f"  first frame of the default scenario, cold server (opened at once): "
        f"{default_cold:5.2f} s   target < {TARGET_FIRST_PAINT_S:g} s "
        f"({mark(default_cold < TARGET_FIRST_PAINT_S)})"
    )
    print(f"  first frame of the default scenario, warm (opened again): {default_warm:5.2f} s")
    if warm_s is not None:
        print(f"  (the server's warm-up of every shipped scenario ended {warm_s:.0f} s later)")
    for name, dt, server, applied, paint in switches:
        print(
            f"  switch to {name:<19} first frame painted {dt:6.2f} s   target < "
            f"{TARGET_SWITCH_S:g} s ({mark(dt < TARGET_SWITCH_S)}); server {server:4.2f} s, "
            f"page {applied:4.2f} s, paint {paint:4.2f} s"
        )
    if at_once is not None:
        name, dt, server, applied, paint = at_once
        print(
            f"  switch to {name} the moment a fresh page painted its first frame (its editors "
            f"and seeds still coming): {dt:5.2f} s; server {server:4.2f} s, page {applied:4.2f} "
            f"s, paint {paint:4.2f} s"
        )
    print(f"vmswap UI frame rate, side-by-side view of {what}")
    print(
        f"  first paint after navigation, page with plots:  first {cold_canvas:5.2f} s, "
        f"warm {warm_canvas:5.2f} s"
    )
    print(
        f"  first frame of the run painted, warm (cached):  {warm_frame:5.2f} s   "
        f"target < {TARGET_FIRST_PAINT_S:g} s ({mark(warm_frame < TARGET_FIRST_PAINT_S)})"
    )
    print(
        f"  first frame of the run painted, first open (simulated then, unless warmed): "
        f"{cold_frame:5.2f} s"
    )
    print(
        f"  playback at max speed: {len(frames)} frames painted in {span_s:4.1f} s = "
        f"{fps:5.1f} fps   target >= {TARGET_FPS:g} ({mark(fps >= TARGET_FPS)}); "
        f"frames skipped: {skipped}"
    )
    print(
        f"  server -> paint lag: median {statistics.median(lag):5.0f} ms, p95 {p95:5.0f} ms, "
        f"max {lag[-1]:5.0f} ms   target < {TARGET_LAG_MS:g} ms "
        f"({mark(statistics.median(lag) < TARGET_LAG_MS)})"
    )
    print(f"  server -> applied in the page: median {statistics.median(arrive):5.0f} ms")
    print(
        f"  peer, same browser and machine: animation frames with nothing to draw "
        f"{peer:5.1f}/s; playback reaches {fps / peer:4.0%} of it"
        if peer
        else ""
    )
    print(
        f"  host load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores "
        "(shared: absolute figures drift, see ../shared/TESTING.md)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
