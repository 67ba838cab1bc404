"""What a visitor types or uploads reaches the page as text: hostile file names, scenario and
VM names and descriptions run no script, open no dialog and load nothing from another host;
an upload over the cap is refused with the app's own message and the session goes on; a
decompression bomb is refused while the server keeps answering every session."""

from __future__ import annotations

import itertools
import re
import threading
import time
import urllib.request
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from engine.policies import validate_policy
from tests.helpers import small_scenario
from tests.ui.test_app import FIRST_FRAME_MS, open_app
from webapp import urlcodec
from webapp.state import default_policies
from webapp.trace_view import MAX_EXPANDED_BYTES, MAX_UPLOAD_BYTES

pytestmark = pytest.mark.ui

# Each sets window.__pwned if it ever runs; the URLs are TEST-NET addresses nobody serves.
IMG = "<img src=x onerror=window.__pwned=1>"
SCRIPT = "<script>window.__pwned=1</script>"
MD_IMAGE = "![i](http://203.0.113.7/i.png)"
MD_LINK = "[l](http://203.0.113.7/l)"
# A file name holds no "/": no closing tag, but an unclosed <script> or an <svg onload>.
HOSTILE_FILE_NAMES = [
    f"{IMG}.trace",
    "<script>window.__pwned=1.trace",
    "<svg onload=window.__pwned=1>.trace",
    "![i](http:\\203.0.113.7\\i.png)[l](x.trace)",
    "__proto__.trace",
    "$$x^2$$ <b>bold<b> `tick`.trace",
]
MESSAGE_MS = 60_000  # an upload is parsed on a worker thread of a (possibly busy) server


@dataclass
class Watch:
    """Everything a page did that hostile text could cause."""

    origin: str
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def outside(self) -> list[str]:
        return [u for u in self.requests if not u.startswith((self.origin, "data:", "blob:"))]

    def check(self, page: Page) -> None:
        assert page.evaluate("window.__pwned") is None, "a payload ran"
        assert self.dialogs == [], f"dialogs opened: {self.dialogs}"
        assert self.outside() == [], f"requests left the server: {self.outside()}"


def watch(page: Page, app_url: str) -> Watch:
    w = Watch("{0.scheme}://{0.netloc}".format(urlsplit(app_url)))

    def dialog(d) -> None:
        w.dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", dialog)
    page.on("request", lambda r: w.requests.append(r.url))
    page.on("pageerror", lambda e: w.errors.append(str(e)))
    return w


def hostile_link() -> str:
    """The small scenario with hostile VM names and description, as a share link."""
    data = small_scenario().to_dict()
    data["name"] = SCRIPT
    data["description"] = f"{IMG} {SCRIPT} {MD_IMAGE} {MD_LINK} __proto__ and $$x$$"
    for vm, name in zip(data["vms"], (IMG, "__proto__", MD_IMAGE), strict=True):
        vm["name"] = name
    a, b = default_policies(data["policy"])
    return urlcodec.encode(data, validate_policy(a), validate_policy(b))


def open_traces(page: Page, url: str | None = None) -> None:
    """The Traces tab (of the page at `url` first, not waiting for the simulation's frames)."""
    if url is not None:
        page.goto(url)
        page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0")
    page.locator(".bk-tab").filter(has_text="Traces").click()
    page.locator("input[type=file]").wait_for(state="attached")


def upload(page: Page, name: str, data: bytes) -> None:
    page.locator("input[type=file]").set_input_files(
        files=[{"name": name, "mimeType": "application/octet-stream", "buffer": data}]
    )


def trace_bytes(n: int = 2000) -> bytes:
    return b"".join(b"%d\n" % (i % 97) for i in range(n))


@pytest.mark.slow  # 13-22 s quiet: a page on a link, then twelve uploads, each parsed on a
# worker thread of the server and its message waited for
def test_a_hostile_link_and_hostile_file_names_show_as_text(page: Page, app_url: str, shot) -> None:
    """A link's hostile names and description, then uploads with hostile names (read and
    refused), show their characters literally; no script, dialog or outside request."""
    w = watch(page, app_url)
    open_app(page, f"{app_url}?run={hostile_link()}")
    description = page.locator(".vm-desc .vm-plain")
    expect(description).to_contain_text(f"{IMG} {SCRIPT} {MD_IMAGE}")
    expect(description).to_contain_text("__proto__ and $$x$$")
    expect(page.locator(".vm-legend")).to_contain_text(IMG)
    open_traces(page)
    status, error = page.locator(".vm-trace-status .vm-plain"), page.locator(".vm-trace-error")
    for name in HOSTILE_FILE_NAMES:
        upload(page, name, trace_bytes())  # read: the status quotes the name
        expect(status).to_contain_text(f"{name}: 2,000 references", timeout=MESSAGE_MS)
        upload(page, name, b"\x00\x01 not a trace \xff")  # refused: the error quotes it
        expect(error).to_contain_text(name, timeout=MESSAGE_MS)
    for pane in (status, error, description):
        assert pane.locator("img, script, strong, em, a, b, code").count() == 0
    shot("hostile-names")
    w.check(page)


def test_a_message_quoting_a_hostile_link_is_text(page: Page, app_url: str) -> None:
    """A link refused for a hostile value shows the value as text in the page's message."""
    w = watch(page, app_url)
    data = small_scenario().to_dict()
    data["vms"][0]["workload"]["kind"] = f"{IMG}{MD_IMAGE}__proto__"
    a, b = default_policies(data["policy"])
    link = urlcodec.encode(data, validate_policy(a), validate_policy(b))
    open_app(page, f"{app_url}?run={link}")
    message = page.locator(".vm-message")
    expect(message).to_contain_text("Could not open the shared link", timeout=30_000)
    expect(message).to_contain_text(IMG)
    assert message.locator("img, strong, a").count() == 0
    w.check(page)


@pytest.mark.slow  # 14-19 s quiet: Chromium reads a 16 MiB file, then a second upload
def test_an_upload_over_the_cap_gets_the_apps_message_and_the_session_goes_on(
    page: Page, app_url: str
) -> None:
    """A file well over the cap (and over the websocket's message limit) is refused in the
    browser with the app's message; a later upload in the same session is read."""
    w = watch(page, app_url)
    open_traces(page, app_url)
    big = b"1\n" * ((MAX_UPLOAD_BYTES + 2 * 2**20) // 2)  # 16 MiB: 21 MiB once base64-encoded
    upload(page, "big.trace", big)
    error = page.locator(".vm-trace-error")
    expect(error).to_contain_text(
        f"big.trace: 16.0 MiB is more than the {MAX_UPLOAD_BYTES // 2**20} MiB", timeout=MESSAGE_MS
    )
    upload(page, "after.trace", trace_bytes(500))
    expect(page.locator(".vm-trace-status")).to_contain_text(
        "after.trace: 500 references", timeout=MESSAGE_MS
    )
    w.check(page)


@dataclass
class Liveness:
    """Polls /liveness back to back on a thread: when each answer came, and any failure."""

    url: str
    answered_at: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.is_set():
            try:  # generous: a busy two-core machine may be slow, never this slow
                with urllib.request.urlopen(self.url, timeout=60) as r:
                    r.read()
                self.answered_at.append(time.monotonic())
            except OSError as exc:
                self.failures.append(repr(exc))
            time.sleep(0.05)


@pytest.fixture
def liveness(app_url: str) -> Iterator[Liveness]:
    poll = Liveness("{0.scheme}://{0.netloc}/liveness".format(urlsplit(app_url)))
    thread = threading.Thread(target=poll.run, daemon=True)
    thread.start()
    yield poll
    poll.stop.set()
    thread.join(70)


@pytest.mark.slow  # 14-19 s quiet: the server inflates the bomb up to its cap to refuse it
def test_a_decompression_bomb_is_refused_while_the_server_answers(
    page: Page, app_url: str, liveness: Liveness
) -> None:
    """A 0.6 MB gzip of 600 MiB of blank lines is parsed off the event loop: /liveness answers
    while the page shows the upload in progress, and the uploader reads a refusal."""
    w = watch(page, app_url)
    open_traces(page, app_url)
    pack = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip
    mib = MAX_EXPANDED_BYTES // 2**20 + 88
    bomb = b"".join(pack.compress(b"\n" * 2**20) for _ in range(mib)) + pack.flush()
    assert len(bomb) < 2**20
    upload(page, "bomb.trace.gz", bomb)
    page.locator("input[type=file]:disabled").wait_for(state="attached", timeout=MESSAGE_MS)
    busy_from = time.monotonic()  # the server took the file and is parsing it
    expect(page.locator(".vm-trace-error")).to_contain_text(
        re.compile(r"bomb\.trace\.gz: (expands to )?more than"), timeout=FIRST_FRAME_MS
    )
    busy_until = time.monotonic()
    during = [t for t in liveness.answered_at if busy_from < t < busy_until]
    assert liveness.failures == []
    # Parsing on the event loop holds every answer for the parse's seconds: one gap fills most
    # of the window. Off the loop answers keep coming, a round trip apart. (A ratio, so a busy
    # machine, slower at both, changes nothing.)
    points = [busy_from, *during, busy_until]
    longest_gap_s = max(b - a for a, b in itertools.pairwise(points))
    window_s = busy_until - busy_from
    assert longest_gap_s < window_s / 2, f"/liveness held {longest_gap_s:.1f} of {window_s:.1f} s"
    w.check(page)
