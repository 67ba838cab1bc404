"""Offline everywhere: every tab and every action of the served app, in Chromium, with every
request that is not to the server itself recorded, and none allowed."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.ui.test_app import open_app

pytestmark = pytest.mark.ui

SWEEP_MS = 240_000  # a local cluster starts, then runs 2 short runs (slower on a busy host)


def download(page: Page, button: str, where: str) -> str:
    """Click a FileDownload button; the name of the file the browser saved."""
    with page.expect_download(timeout=60_000) as got:
        page.locator(where).get_by_role("button", name=button).first.click()
    return got.value.suggested_filename


def fill(page: Page, label: str, value: str) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(value)
    box.press("Enter")


@pytest.mark.slow  # starts a local Dask cluster (worker processes) and runs a sweep on it
def test_no_request_leaves_the_server_in_any_tab_or_action(
    page: Page, app_url: str, shot, tmp_path: Path
) -> None:
    """Open every tab, attach a trace to a VM picked by name, run a small sweep and download
    each file: every request the page makes goes to the server that serves it."""
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(app_url))
    outside: list[str] = []

    def record(url: str) -> None:
        if not url.startswith((origin, "data:", "blob:")):
            outside.append(url)

    page.on("request", lambda r: record(r.url))
    page.set_viewport_size({"width": 1600, "height": 1000})
    open_app(page, app_url)
    main = "#main"
    saved = [download(page, label, main) for label in ("Scenario TOML", "Results CSV")]
    saved.append(download(page, "Results JSON", main))
    assert [Path(name).suffix for name in saved] == [".toml", ".csv", ".json"]

    page.locator(".bk-tab", has_text="Traces").click()
    trace = tmp_path / "loop.txt"
    trace.write_text("".join(f"{i % 40}\n" for i in range(3000)))
    page.locator("input[type=file]").set_input_files(str(trace))
    expect(page.locator(".vm-trace-status")).to_contain_text("3,000 references", timeout=60_000)
    picker = page.get_by_label("VM the trace drives", exact=True)
    names = picker.locator("option").all_inner_texts()
    assert len(names) >= 2
    picker.select_option(label=names[1])
    page.get_by_role("button", name="Attach to VM").click()
    expect(page.locator(".vm-trace-attached")).to_contain_text(
        f"Trace loop.txt now drives VM {names[1]}", timeout=30_000
    )
    shot("offline-traces")

    page.locator(".bk-tab", has_text="Sweep").click()
    fill(page, "Policies (NAME or NAME:KEY=VALUE)", "demand, leap")
    fill(page, "VM counts", "1")
    fill(page, "Seeds", "1")
    fill(page, "Local workers", "1")
    page.get_by_label("Fixed settings (TOML)", exact=True).fill("duration_ms = 50.0")
    page.get_by_label("Base scenario", exact=True).focus()  # a text area sends on blur
    assert download(page, "Download sweep.toml", main) == "sweep.toml"
    page.get_by_role("button", name="Launch").click()
    # "2 of 2 runs" shows while it runs; a fast sweep may go straight to "2 runs done".
    done = re.compile(r"2 of 2 runs|2 runs done")
    expect(page.locator(".vm-sweep-status")).to_contain_text(done, timeout=SWEEP_MS)
    saved = [download(page, f"sweep-results.{ext}", main) for ext in ("csv", "parquet")]
    assert saved == ["sweep-results.csv", "sweep-results.parquet"]
    shot("offline-sweep")

    page.locator(".bk-tab", has_text="Compare").click()
    expect(page.locator(".vm-card").first).to_be_visible(timeout=30_000)
    page.wait_for_timeout(1_000)  # what the tab shows on its return is fetched by now
    shot("offline-compare")
    assert outside == [], f"requests left the server: {outside}"


def test_the_page_loads_no_mathjax_or_webgl_bundle(page: Page, app_url: str) -> None:
    """The served page draws on canvases and shows no mathematics: it loads BokehJS and its
    widgets, not the MathJax (1.8 MB) or WebGL bundles (webapp.page_scripts), and its first
    frame still paints."""
    open_app(page, app_url)
    scripts = page.evaluate("() => [...document.scripts].map(s => s.src).filter(Boolean)")
    names = [urlsplit(src).path.rsplit("/", 1)[-1] for src in scripts]
    assert "bokeh.min.js" in names and "bokeh-widgets.min.js" in names, names
    assert not [n for n in names if n.startswith(("bokeh-mathjax", "bokeh-gl"))], names
