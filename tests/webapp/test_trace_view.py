"""The trace import panel without a browser: per-session state, parsing an upload, the
heatmap and miss-ratio curve, readable errors, attaching to a VM, and cleaning up."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.mrc import mrc
from engine.scenario import from_dict
from engine.simulator import simulate
from engine.traces import read_trace
from tests.helpers import QueuedRunner
from webapp.trace_view import (
    MAX_COLUMNS,
    MAX_NAME_CHARS,
    MAX_UPLOAD_BYTES,
    TraceState,
    TraceView,
    attach_to_session,
    create_trace_view,
    curve_figure,
    heatmap,
    heatmap_figure,
)

ROOT = Path(__file__).resolve().parents[2]


def text_trace(pages: Any) -> bytes:
    return ("\n".join(str(int(p)) for p in pages) + "\n").encode()


def test_each_view_has_its_own_state_and_folder() -> None:
    """Two sessions share nothing: separate states, separate upload folders."""
    a, b = create_trace_view(), create_trace_view()
    try:
        assert a.state is not b.state
        assert a.state.upload_dir != b.state.upload_dir
        a.state.compact = False
        assert b.state.compact
        assert a.__panel__() is not b.__panel__()
    finally:
        a.state.close()
        b.state.close()


def test_an_upload_shows_its_heatmap_and_curve() -> None:
    """A text trace: counts add up to the references; the curve is the exact LRU one."""
    pages = np.random.default_rng(1).integers(0, 300, 10_000)
    state = TraceState()
    try:
        assert state.load_bytes("t.txt", text_trace(pages)), state.error
        assert state.detected == "text" and "auto-detected as text" in state.status
        heat = state.heat
        assert heat is not None and heat.counts.sum() == 10_000
        assert heat.counts.shape[1] <= MAX_COLUMNS
        curve = state.mrc
        assert curve is not None
        expected = mrc(pages, curve.frames.tolist(), ("lru",))["lru"]
        assert np.allclose(curve.miss_ratio, expected)
    finally:
        state.close()


def test_heatmap_is_downsampled_to_at_most_2048_columns() -> None:
    """A long trace is binned into 2,048 time columns; sparse pages are ranked, not spread."""
    pages = np.repeat(np.array([10, 1 << 40, 5], dtype=np.int64), 100_000)
    heat = heatmap(pages)
    assert heat.counts.shape == (3, MAX_COLUMNS) and heat.counts.sum() == 300_000
    assert heat.distinct_pages == 3
    # rows by rank: 5, 10, 2**40; time: 10 first, then 2**40, then 5
    assert heat.counts[1, 0] > 0 and heat.counts[2, MAX_COLUMNS // 2] > 0
    assert heat.counts[0, -1] > 0 and heat.counts[0, 0] == 0


def test_figures_are_bokeh_images_and_lines() -> None:
    """The heatmap is one Bokeh image no wider than 2,048 columns; the curve a line."""
    heat = heatmap(np.arange(50_000) % 700)
    fig = heatmap_figure(heat).object
    image = next(r for r in fig.renderers if type(r.glyph).__name__ == "Image")
    assert np.asarray(image.data_source.data["image"][0]).shape[1] <= MAX_COLUMNS
    assert "Markdown" in type(heatmap_figure(None)).__name__
    assert "Markdown" in type(curve_figure(None)).__name__


def test_compressed_and_npz_uploads_are_read(tmp_path: Path) -> None:
    """gzip is undone; a captured .npz from scenarios/traces loads as npz."""
    state = TraceState()
    try:
        assert state.load_bytes("t.txt.gz", gzip.compress(text_trace(range(100))))
        assert state.heat is not None and state.heat.references == 100
        data = (ROOT / "scenarios" / "traces" / "gzip.npz").read_bytes()
        assert state.load_bytes("gzip.npz", data), state.error
        assert state.detected == "npz" and state.heat.references > 1_000_000
    finally:
        state.close()


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("bad.txt", b"1\n2\nthree\n", "bad.txt:3"),
        ("empty.txt", b"", "empty"),
        ("x.npz", b"PK\x03\x04garbage", "damaged archive"),
        ("big.txt", b"1\n" * (MAX_UPLOAD_BYTES // 2 + 1), "MiB"),
    ],
)
def test_a_bad_upload_is_a_readable_message(name: str, data: bytes, message: str) -> None:
    """Malformed, empty, damaged or too large: a message naming the file, nothing shown."""
    state = TraceState()
    try:
        assert not state.load_bytes(name, data)
        assert message in state.error and "upload-" not in state.error
        assert state.heat is None and not state.saved
        assert list(state.upload_dir.iterdir()) == []  # nothing left behind
    finally:
        state.close()


def test_attach_hands_a_valid_trace_workload_to_the_callback() -> None:
    """Attach: on_attach gets a trace workload whose file lies in the session folder and
    replays exactly what was uploaded; a VM runs on it."""
    got: list[dict[str, Any]] = []
    view = create_trace_view(lambda w: got.append(w))
    state = view.state
    try:
        assert view.attach_button.disabled  # nothing to attach yet
        state.format, state.page_shift = "ucsd", 13
        lines = b"".join(b"l 0x%x 4\ns 0x%x 8\n" % (a, a + 4) for a in range(0, 1 << 20, 3000))
        assert state.load_bytes("u.trace", lines), state.error
        assert not view.attach_button.disabled
        state.loop, state.time_scale = False, 2.0
        view.attach_button.clicks += 1  # as a click in the browser does
        assert len(got) == 1 and state.error == ""
        w = got[0]
        assert w["kind"] == "trace" and w["format"] == "npz" and w["loop"] is False
        assert Path(w["path"]).parent == state.upload_dir
        shown = read_trace(w["path"])
        assert shown.pages.tolist() == [a >> 13 for a in range(0, 1 << 20, 3000) for a in (a, a)]
        assert shown.writes.tolist() == [False, True] * (len(shown) // 2)
        scenario = from_dict({"duration_ms": 20.0, "vms": [{"memory_mib": 8, "workload": w}]})
        run = simulate(scenario, "demand", record=False)
        assert run.vms[0]["references"] == -(-len(shown) // 2)  # finished, at time_scale 2
    finally:
        state.close()


def test_attach_without_a_trace_or_a_callback_says_why() -> None:
    """Nothing uploaded, or no VM to attach to: a message, and no callback."""
    got: list[dict[str, Any]] = []
    state = TraceState(lambda w: got.append(w))
    try:
        assert state.attach() is None and "Upload a trace first" in state.error
        lonely = TraceState()
        assert lonely.load_bytes("t.txt", b"1\n2\n")
        assert lonely.attach() is None and "no VM" in lonely.error
        lonely.close()
        assert got == []
    finally:
        state.close()


def test_the_file_input_widget_drives_the_state() -> None:
    """Setting the FileInput's filename and value (as the browser does) loads the trace."""
    view = create_trace_view()
    try:
        view.file_input.filename = "w.txt"
        view.file_input.value = text_trace([1, 2, 3, 1])
        assert view.state.heat is not None and view.state.heat.references == 4
        assert "w.txt" in view.state.status
    finally:
        view.state.close()


def test_close_removes_the_session_folder() -> None:
    """close() (run when the session ends) deletes the uploaded traces."""
    state = TraceState()
    assert state.load_bytes("t.txt", b"5\n6\n")
    folder = state.upload_dir
    assert any(folder.iterdir())
    state.close()
    assert not folder.exists()
    state.close()  # twice is fine


def test_an_upload_is_parsed_by_the_runner_not_in_the_callback() -> None:
    """The widget's callback only checks the upload and hands the parse to the runner (a
    worker thread when served): nothing is parsed, and the input is disabled, until it runs."""
    runner = QueuedRunner()
    view = TraceView(TraceState(), runner=runner)
    try:
        view.file_input.filename = "w.txt"
        view.file_input.value = text_trace([1, 2, 3, 1])
        assert len(runner.jobs) == 1
        assert view.state.heat is None and view.state.status == "Reading w.txt…"
        assert view.file_input.disabled
        runner.run_all()
        assert view.state.heat is not None and "w.txt: 4 references" in view.state.status
        assert not view.file_input.disabled
    finally:
        view.close()


def test_a_stale_parse_is_not_shown_and_a_failed_one_is_a_message() -> None:
    """Only the last upload's result is shown; a parse that raised becomes a message."""
    runner = QueuedRunner()
    view = TraceView(TraceState(), runner=runner)
    try:
        view.file_input.filename = "old.txt"
        view.file_input.value = text_trace([1, 2])
        view.file_input.filename = "new.txt"
        view.file_input.value = text_trace([3, 4, 5])
        runner.run_all()
        assert "new.txt" in view.state.status and "old.txt" not in view.state.status
        view._parsed(view._jobs, "", RuntimeError("boom"))
        assert "cannot read this file" in view.state.error and "boom" not in view.state.error
    finally:
        view.close()


def test_a_file_refused_in_the_browser_gets_the_size_message() -> None:
    """The guard's report of a file over the cap becomes the app's own message (name, size)."""
    view = create_trace_view()
    try:
        view.guard.refused = {"name": "<b>huge.trace", "size": 40 * 2**20, "n": 1}
        assert view.state.error.startswith("<b>huge.trace: 40.0 MiB is more than the")
    finally:
        view.close()


def test_a_long_file_name_is_cut_in_messages() -> None:
    """A message quotes at most MAX_NAME_CHARS of a file name."""
    state = TraceState()
    try:
        assert not state.load_bytes("x" * 10_000 + ".trace", b"")
        assert not state.load_bytes("y" * 10_000, b"\x00garbage\xff")
        assert len(state.error) < MAX_NAME_CHARS + 200
    finally:
        state.close()


def test_random_bytes_are_a_readable_error_that_clears_the_last_trace() -> None:
    """Random bytes read as no trace in words (no raw 64-bit field), and the plots and the
    attachable file of the trace shown before go away with them."""
    view = create_trace_view(lambda w: None)
    state = view.state
    try:
        assert state.load_bytes("good.txt", text_trace(range(200)))
        assert state.heat is not None and not view.attach_button.disabled
        noise = np.random.default_rng(3).bytes(5000)
        assert not state.load_bytes("noise.bin", noise)
        assert state.error.startswith("noise.bin: not a trace: binary data")
        assert "oracleGeneral" in state.error and "choose the Format" in state.error
        assert "obj_id" not in state.error and "922337" not in state.error
        assert state.heat is None and state.mrc is None and state.saved == ""
        assert state.status == "" and view.attach_button.disabled
    finally:
        state.close()


def test_attach_drives_the_vm_picked_and_says_so(app: Any, timers: Any) -> None:
    """The picker lists the scenario's VMs; attaching drives the VM picked (not the first),
    the page says which in words, and the run that follows replays the trace there."""
    from webapp.controller import DEBOUNCE_S
    from webapp.state import default_scenario_file

    session, controller, _ = app
    view = create_trace_view()
    controller.trace_roots.append(view.state.upload_dir)
    attach_to_session(view, session, controller.attach_trace)
    state = view.state
    try:
        names = [vm.name for vm in session.scenario.vms]
        assert len(names) >= 2 and state.param.vm.objects == names and state.vm == names[0]
        assert state.load_bytes("loop.txt", text_trace(np.arange(3000) % 40)), state.error
        state.vm = names[1]
        view.attach_button.clicks += 1
        assert state.error == ""
        assert state.attached.startswith(f"Trace loop.txt now drives VM {names[1]}:")
        assert session.selected_vm == 1
        timers.advance(DEBOUNCE_S + 0.01)
        vms = session.runs.scenario_dict["vms"]
        assert vms[1]["workload"]["kind"] == "trace" and vms[0]["workload"]["kind"] != "trace"
        controller.load_file(default_scenario_file(), run=False)  # no VM replays it any more
        assert state.attached == ""
        assert state.param.vm.objects == [vm.name for vm in session.scenario.vms]
    finally:
        state.close()


def test_a_refused_attach_is_an_error_not_a_confirmation(app: Any) -> None:
    """A trace outside the session's folders is refused by the controller: the Traces tab
    shows why, and no confirmation."""
    session, controller, _ = app
    view = create_trace_view()  # its folder is not among the controller's trace roots
    attach_to_session(view, session, controller.attach_trace)
    state = view.state
    try:
        assert state.load_bytes("t.txt", text_trace(range(100)))
        before = session.scenario.vms[0]
        assert state.attach() is None
        assert state.error and state.attached == ""
        assert session.scenario.vms[0] is before
    finally:
        state.close()


def test_a_shipped_trace_opens_as_an_upload_and_attaches() -> None:
    """Each trace that comes with vmswap opens (read as .npz whatever the Format says) with
    the figures its README gives, through the runner as an upload is; it attaches like one."""
    got: list[dict[str, Any]] = []
    runner = QueuedRunner()
    view = TraceView(TraceState(lambda w: got.append(w) or None), runner=runner)
    try:
        assert view.shipped.options == ["gzip", "sort", "sqlite3", "xz"]
        view.state.format = "auto"  # (a shipped trace is an .npz whatever this says)
        view.shipped.value = "sort"
        view.open_shipped.clicks += 1
        assert len(runner.jobs) == 1 and view.open_shipped.disabled
        assert view.state.status == "Reading sort.npz…"
        view.state.format = "lirs"  # changed while it is read: the status says how it was
        runner.run_all()
        assert not view.open_shipped.disabled and view.state.error == ""
        readme = (ROOT / "scenarios/traces/README.md").read_text()
        row = next(line for line in readme.splitlines() if line.startswith("| `sort.npz`"))
        refs, pages, writes = (c.strip() for c in row.split("|")[3:6])
        assert view.state.status == (
            f"sort.npz: {refs} references to {pages} distinct pages, {writes} writes; read as npz."
        )
        assert view.attach_button.disabled is False
        assert view.state.attach() is not None and got[0]["path"] == view.state.saved
        assert Path(view.state.saved).parent == view.state.upload_dir  # the session's copy
    finally:
        view.close()


def test_a_name_not_shipped_is_refused_in_words() -> None:
    """A name that is not one of the shipped traces (a forged widget value, a path) reads
    nothing and says which names there are."""
    state = TraceState()
    try:
        for name in ("../../etc/passwd", "gzip.npz", ""):
            assert state.begin_shipped(name) is None
            assert "not a trace that comes with vmswap; those are gzip, sort, sqlite3, xz" in (
                state.error
            )
        assert not any(state.upload_dir.iterdir())
    finally:
        state.close()
