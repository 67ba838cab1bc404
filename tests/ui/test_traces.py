"""The Traces tab as a newcomer without a trace file uses it: open a real program's trace
that comes with vmswap, see its figures, attach it to a VM and find the VM replaying it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.ui.test_edits import column, open_small

README_ROW = "| `sort.npz`"  # scenarios/traces/README.md: the figures the page must state


@pytest.mark.ui
def test_a_shipped_trace_opens_and_drives_a_vm(page: Page, app_url: str, root, shot) -> None:
    """Pick "sort" among the shipped traces and Open: the status gives its references,
    distinct pages and writes as the traces' README does, the heatmap and the curve show;
    attached to VM b, the Compare tab's table has b replaying a trace."""
    row = next(
        line
        for line in (root / "scenarios/traces/README.md").read_text().splitlines()
        if line.startswith(README_ROW)
    )
    refs, pages, writes = (cell.strip() for cell in row.split("|")[3:6])
    open_small(page, app_url)
    page.locator(".bk-tab", has_text="Traces").click()
    shipped = page.get_by_label("Or a real program's trace that comes with vmswap", exact=True)
    expect(shipped.locator("option")).to_have_text(["gzip", "sort", "sqlite3", "xz"])
    shipped.select_option("sort")
    page.locator(".vm-trace-open button").click()
    status = page.locator(".vm-trace-status")
    expect(status).to_contain_text(
        f"sort.npz: {refs} references to {pages} distinct pages, {writes} writes",
        timeout=60_000,
    )
    expect(page.locator(".vm-trace-error")).to_be_hidden()
    expect(page.locator(".bk-Canvas").last).to_be_visible()
    page.get_by_label("VM the trace drives", exact=True).select_option(label="b")
    page.get_by_role("button", name="Attach to VM").click()
    expect(page.locator(".vm-trace-attached")).to_contain_text(
        "Trace sort.npz now drives VM b", timeout=30_000
    )
    shot("shipped-trace")
    page.locator(".bk-tab", has_text="Compare").click()
    names = column(page, "name")
    expect(names).to_have_text(["a", "b", "c"])
    expect(column(page, "workload").nth(1)).to_have_text("trace", timeout=30_000)
