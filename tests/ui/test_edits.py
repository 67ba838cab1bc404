"""Every edit path in real Chromium: each VM table column and the form fields, valid and
invalid. A valid edit runs A and B again (the share link in the address bar changes); an
invalid one shows a message in words, the widget shows the kept value again, and the next
valid edit still runs."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.security import small_link
from tests.ui.test_app import FIRST_FRAME_MS, open_app

pytestmark = pytest.mark.ui

RUN_MS = 120_000  # one re-run: under a second for the small scenario, more on a busy host
EDIT_MS = 15_000  # typing into an open cell editor: at once, unless the editor closed


def open_small(page: Page, app_url: str) -> None:
    """The small test scenario (VMs a, b, c of 4 MiB) from a link: each re-run is quick."""
    page.set_viewport_size({"width": 1600, "height": 1000})
    open_app(page, f"{app_url}?run={small_link()}")
    page.wait_for_selector('.tabulator-cell[tabulator-field="name"]', timeout=FIRST_FRAME_MS)


def column(page: Page, field: str) -> Locator:
    return page.locator(f'.tabulator-row .tabulator-cell[tabulator-field="{field}"]')


def open_editor(page: Page, field: str, row: int, editor: Locator) -> None:
    """Click a cell until its editor shows: a click while the table re-renders (the editors
    are built after the first frame) opens nothing."""
    for _ in range(5):
        column(page, field).nth(row).click()
        try:
            editor.wait_for(timeout=5_000)
        except PlaywrightTimeout:
            continue
        return
    raise AssertionError(f"no editor opened on {field} row {row}")


def edit_cell(page: Page, field: str, row: int, editor: Locator, act: Callable[[], None]) -> None:
    """Open a cell's editor and act in it, again when the editor closed under the action: a
    redraw of the table while it is open (the page below the panes arriving after the first
    frame changes the table's width) closes it and the cell keeps its value, as a user would
    see, who clicks again. `act` gives up on a closed editor after EDIT_MS."""
    for _ in range(5):
        open_editor(page, field, row, editor)
        try:
            act()
        except PlaywrightTimeout:
            continue
        return
    raise AssertionError(f"the editor of {field} row {row} closed under every attempt")


def type_in_cell(page: Page, field: str, row: int, text: str) -> None:
    editor = page.locator(f'.tabulator-cell[tabulator-field="{field}"] input')
    edit_cell(page, field, row, editor, lambda: enter(editor, text, EDIT_MS))


def pick_in_cell(page: Page, field: str, row: int, option: str) -> None:
    item = page.locator(".tabulator-edit-list-item", has_text=option).first
    edit_cell(page, field, row, item, lambda: item.click(timeout=EDIT_MS))


def ran_since(page: Page, url: str) -> None:
    """A run finished after `url` was the address: the share link moved, no message shows."""
    page.wait_for_function("u => location.href !== u", arg=url, timeout=RUN_MS)
    expect(page.locator(".vm-message")).to_be_hidden()


def enter(field: Locator, text: str, timeout_ms: float | None = None) -> None:
    field.fill(text, timeout=timeout_ms)
    field.press("Enter", timeout=timeout_ms)


def refused(page: Page, words: str) -> None:
    expect(page.locator(".vm-message")).to_contain_text(words, timeout=30_000)
    text = page.locator(".vm-message").inner_text()
    assert "np." not in text and "e+0" not in text and "Traceback" not in text


@pytest.mark.slow  # 30-41 s quiet (make test, two workers): five re-runs of A and B, each
# waited for until the browser has painted it and the share link moved, and three refusals
def test_each_table_column_edits_or_refuses_in_words(page: Page, app_url: str, shot) -> None:
    """MiB, vCPU, name, workload and activity cells: valid values run (48 MiB, 2 vCPUs, a
    rename, another workload and activity); invalid ones are refused with the range in words
    and the cell shows the kept value; nothing stays blocked."""
    open_small(page, app_url)
    for field, good, bad, words in (
        ("memory_mib", "48", "-5", "from 1 MiB to 4 TiB"),
        ("vcpus", "2", "0", "from 1 to 64"),
        ("name", "bx", "a", "used twice"),
    ):
        url = page.url
        type_in_cell(page, field, 1, good)
        ran_since(page, url)
        expect(column(page, field).nth(1)).to_have_text(good)
        type_in_cell(page, field, 1, bad)
        refused(page, words)
        expect(column(page, field).nth(1)).to_have_text(good)
    shot("edit-refused")
    for field, option in (("workload", "uniform"), ("activity", "duty")):
        url = page.url
        pick_in_cell(page, field, 1, option)
        ran_since(page, url)
        expect(column(page, field).nth(1)).to_have_text(option)


@pytest.mark.slow  # 25-31 s quiet: five re-runs and three refusals, each painted in
# software-rendered Chromium
def test_form_fields_edit_or_refuse_in_words(page: Page, app_url: str, shot) -> None:
    """The selected VM's form, the host card and the seed: -5 MiB, 1.5 of writes, 0 pCPUs are
    refused in words and the field shows the kept value; valid values of each widget kind
    (integer, number, choice, checkbox) run."""
    open_small(page, app_url)
    page.get_by_text("Every field of the selected VM").click()
    memory = page.locator(".vm-field-memory_mib input")
    expect(memory).to_have_value("4")
    enter(memory, "-5")
    refused(page, "memory_mib: -5 is not allowed; expected an integer from 1 MiB to 4 TiB")
    expect(memory).to_have_value("4")
    shot("form-refused")
    url = page.url
    enter(memory, "8")
    ran_since(page, url)
    expect(column(page, "memory_mib").nth(0)).to_have_text("8")

    writes = page.locator(".vm-field-write_fraction input")
    kept = writes.input_value()
    enter(writes, "1.5")
    refused(page, "write_fraction: 1.5 is not allowed")
    expect(writes).to_have_value(kept)
    url = page.url
    enter(writes, "0.2")
    ran_since(page, url)

    url = page.url
    page.locator(".vm-field-scatter input").click()
    ran_since(page, url)

    url = page.url
    page.locator(".vm-field-kind select").nth(1).select_option("duty")  # the activity's kind
    ran_since(page, url)
    expect(column(page, "activity").nth(0)).to_have_text("duty")

    page.get_by_text("Host", exact=True).click()
    pcpus = page.locator(".vm-field-pcpus input")
    enter(pcpus, "0")
    refused(page, "pcpus: 0 is not allowed; expected an integer from 1 to 256")
    expect(pcpus).to_have_value("2")
    url = page.url
    seed = page.locator(".vm-field-seed input")
    enter(seed, "7")
    ran_since(page, url)


@pytest.mark.slow  # 17-18 s quiet: three re-runs, each with a table one row longer or shorter
def test_add_duplicate_remove_change_the_rows_and_run(page: Page, app_url: str) -> None:
    """Add, Duplicate and Remove change the table's rows and each runs A and B again."""
    open_small(page, app_url)
    names = column(page, "name")
    expect(names).to_have_count(3)
    for label, rows in (("Add", 4), ("Duplicate", 5), ("Remove", 4)):
        url = page.url
        page.get_by_role("button", name=label, exact=True).click()
        expect(names).to_have_count(rows)
        ran_since(page, url)
