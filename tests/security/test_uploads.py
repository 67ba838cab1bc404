"""Uploaded traces are untrusted: size-capped, parsed as data only (never unpickled), kept in
the session's own folder, and every bad file (truncated, bomb-like, garbage, hostile archive)
ends in a readable message, never an exception."""

from __future__ import annotations

import gzip
import io
import os
import pathlib
import tokenize
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.security import problems_of
from webapp import trace_view
from webapp.trace_view import MAX_REFS, MAX_UPLOAD_BYTES, MAX_UPLOADS, TraceState

GARBAGE = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


@pytest.fixture
def traces() -> Any:
    state = TraceState()
    yield state
    state.close()


def text_trace(n: int = 5000) -> bytes:
    return b"\n".join(str(i % 300).encode() for i in range(n)) + b"\n"


def assert_refused(state: TraceState, name: str, data: bytes) -> str:
    """Upload `data`: no exception, refused, with a readable message that shows no folder."""
    try:
        ok = state.load_bytes(name, data)
    except Exception as exc:  # the property under test
        pytest.fail(f"{type(exc).__name__}: {exc} escaped load_bytes for {name}")
    assert ok is False
    assert problems_of(state.error) == [], state.error
    assert str(state.upload_dir) not in state.error
    return state.error


def files_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_a_good_upload_is_taken_and_kept_in_the_session_folder(traces: TraceState) -> None:
    """A plain text trace loads; what is kept lies in the session's own folder."""
    assert traces.load_bytes("ok.trace", text_trace()), traces.error
    assert Path(traces.saved).parent == traces.upload_dir
    assert [p.suffix for p in files_in(traces.upload_dir)] == [".npz"]


def test_an_empty_upload_is_refused(traces: TraceState) -> None:
    assert_refused(traces, "empty.trace", b"")


def test_an_upload_over_the_size_cap_is_refused_before_it_is_written(traces: TraceState) -> None:
    """One byte over MAX_UPLOAD_BYTES: refused with the cap in MiB, nothing kept on disk."""
    message = assert_refused(traces, "big.trace", b"1\n" * (MAX_UPLOAD_BYTES // 2 + 1))
    assert f"{MAX_UPLOAD_BYTES // 2**20} MiB" in message
    assert files_in(traces.upload_dir) == []


def test_the_size_cap_fits_the_websocket_message_limit() -> None:
    """A capped upload, base64-encoded, fits in one message of the server's websocket; larger
    files are kept back in the browser by the view's guard (tests/ui/test_hostile_input.py)."""
    from bokeh.server.tornado import DEFAULT_WEBSOCKET_MAX_MESSAGE_SIZE_BYTES

    assert MAX_UPLOAD_BYTES * 4 / 3 + 2**16 < DEFAULT_WEBSOCKET_MAX_MESSAGE_SIZE_BYTES
    assert trace_view.TraceView().guard.max_bytes == MAX_UPLOAD_BYTES


def test_uploads_per_session_are_capped(traces: TraceState) -> None:
    """After MAX_UPLOADS files the session refuses more (each stays on disk for its VM)."""
    small = text_trace(50)
    for _ in range(MAX_UPLOADS):
        assert traces.load_bytes("t.trace", small), traces.error
    assert "At most" in assert_refused(traces, "t.trace", small)
    assert len(files_in(traces.upload_dir)) == MAX_UPLOADS


def test_a_truncated_gzip_is_refused(traces: TraceState) -> None:
    packed = gzip.compress(text_trace(100_000))
    assert "truncated" in assert_refused(traces, "cut.trace.gz", packed[: len(packed) // 2])


def test_a_gzip_expanding_past_the_reference_cap_is_refused(traces: TraceState) -> None:
    """40 KB of gzip that expands to 40 MB of references stops at MAX_REFS with a message."""
    bomb = gzip.compress(b"1\n" * (MAX_REFS + 10), 9)
    assert len(bomb) < 100_000
    assert "max_refs" in assert_refused(traces, "bomb.trace.gz", bomb)


def blank_lines_bomb(expanded: int) -> bytes:
    """Two references, then `expanded` bytes of blank lines (gzip members, each a few KB)."""
    member = gzip.compress(b"\n" * (1 << 22), 9)
    return gzip.compress(b"1\n2\n", 9) + member * max(1, expanded >> 22)


def npz_spill_bomb(expanded: int) -> bytes:
    """A gzip that looks like an .npz (PK header) and expands to `expanded` bytes of zeros."""
    member = gzip.compress(b"\0" * (1 << 22), 9)
    return gzip.compress(b"PK\x03\x04", 9) + member * max(1, expanded >> 22)


@pytest.mark.parametrize("bomb", [blank_lines_bomb, npz_spill_bomb], ids=["text", "npz"])
def test_an_upload_expanding_past_the_cap_is_refused_unparsed(
    bomb: Any, traces: TraceState, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A compressed upload that expands past MAX_EXPANDED_BYTES is refused before the parser
    sees it (the cap is lowered to 1 MiB here, so the test stays quick either way)."""
    monkeypatch.setattr(trace_view, "MAX_EXPANDED_BYTES", 1 << 20, raising=False)
    parsed: list[Any] = []
    real = trace_view.read_trace
    monkeypatch.setattr(trace_view, "read_trace", lambda *a, **k: parsed.append(a) or real(*a, **k))
    message = assert_refused(traces, "bomb.gz", bomb(16 << 20))
    assert parsed == [], "the parser read it"
    assert "MiB" in message


@pytest.mark.parametrize(
    "name, data",
    [
        ("garbage.bin", bytes(range(256)) * 400),
        ("zeros.bin", b"\0" * 100_001),
        ("npy.npy", b"\x93NUMPY\x01\x00" + b"\0" * 100),
        ("zip-no-pages.npz", None),
        ("xz-cut.xz", b"\xfd7zXZ\x00" + b"\x01" * 100),
        ("zstd-cut.zst", b"\x28\xb5\x2f\xfd" + b"\x01" * 100),
        ("text-binary.trace", b"12\n13\n\xff\xfe\n"),
        ("long-line.trace", b"1" * (2 << 20)),
        ("huge-number.trace", b"1\n" + b"9" * 400 + b"\n"),
    ],
)
def test_malformed_files_are_refused_readably(
    name: str, data: bytes | None, traces: TraceState
) -> None:
    """Garbage, zeros, a lone .npy, an archive without pages, cut xz/zstd, binary in text, an
    endless line, a number past int64: each refused with a message."""
    if data is None:
        buf = io.BytesIO()
        np.savez(buf, other=np.arange(10))
        data = buf.getvalue()
    assert_refused(traces, name, data)


def two_member_npz() -> bytearray:
    """A deflated .npz of 500 pages and their write flags."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, arr in (("pages", np.arange(500) % 50), ("writes", np.arange(500) % 2 == 0)):
            inner = io.BytesIO()
            np.save(inner, arr)
            z.writestr(f"{name}.npy", inner.getvalue())
    return bytearray(buf.getvalue())


def hostile_npz(how: str) -> bytes:
    """An .npz whose pages member claims encryption, uses an unknown compression method, or
    has a header numpy's tokenizer cannot finish."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as z:
        inner = io.BytesIO()
        np.save(inner, np.arange(10, dtype=np.int64))
        member = inner.getvalue()
        if how == "unclosed-header":
            member = member.replace(b"'shape': (10,)", b"'shape': (10, ")
        z.writestr("pages.npy", member)
    raw = bytearray(buf.getvalue())
    local, central = raw.find(b"PK\x03\x04"), raw.find(b"PK\x01\x02")
    if how == "encrypted":
        raw[local + 6] |= 1
        raw[central + 8] |= 1
    if how == "unknown-method":
        raw[local + 8] = raw[central + 10] = 97
    return bytes(raw)


@pytest.mark.parametrize("how", ["encrypted", "unknown-method", "unclosed-header"])
def test_a_hostile_npz_member_is_refused(how: str, traces: TraceState) -> None:
    """An .npz whose member is 'encrypted', compressed by an unknown method or has an
    unfinished header: a message."""
    assert_refused(traces, f"{how}.npz", hostile_npz(how))


class _Touch:
    """Unpickling this creates a file: the proof that a pickle was loaded."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self) -> Any:
        return (pathlib.Path.touch, (self.marker,))


@pytest.mark.parametrize("member", ["pages", "writes"])
def test_an_npz_holding_a_pickle_is_refused_and_never_unpickled(
    member: str, traces: TraceState, tmp_path: Path
) -> None:
    """An object array (a pickle inside the .npz) is refused; its payload never runs."""
    marker = tmp_path / "unpickled"
    arrays = {"pages": np.arange(3, dtype=np.int64)}
    arrays[member] = np.array([_Touch(marker)] * 3, dtype=object)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    for name, data in (
        ("evil.npz", buf.getvalue()),
        ("evil.npz.gz", gzip.compress(buf.getvalue())),
    ):
        assert "object" in assert_refused(traces, name, data)
    assert not marker.exists()


@pytest.mark.parametrize(
    "filename", ["../../../../tmp/evil.trace", "/etc/passwd", "..", ".", "", "a\x00b", "é" * 300]
)
def test_an_uploaded_file_name_cannot_choose_where_it_is_written(
    filename: str, traces: TraceState, tmp_path: Path
) -> None:
    """Whatever the browser says the file is called, it is written in the session folder."""
    outside = sorted(os.listdir(tmp_path))
    assert traces.load_bytes(filename, text_trace(100)), traces.error
    assert all(p.is_relative_to(traces.upload_dir) for p in files_in(traces.upload_dir))
    assert Path(traces.saved).parent == traces.upload_dir
    assert sorted(os.listdir(tmp_path)) == outside
    assert not Path("/tmp/evil.trace").exists()


def test_sessions_keep_uploads_apart_and_remove_them() -> None:
    """Two sessions get two folders; closing one removes its folder and nothing else."""
    a, b = TraceState(), TraceState()
    try:
        assert a.upload_dir != b.upload_dir
        assert a.load_bytes("a.trace", text_trace(100)) and b.load_bytes("b.trace", text_trace(9))
        a.close()
        assert not a.upload_dir.exists()
        assert Path(b.saved).exists()
    finally:
        a.close()
        b.close()


MAGIC = [b"", b"\x1f\x8b", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd", b"PK\x03\x04", b"\x93NUMPY"]


@GARBAGE
@given(st.sampled_from(MAGIC), st.binary(max_size=2000))
def test_random_bytes_never_raise(magic: bytes, body: bytes) -> None:
    """Random bytes behind each magic number (gzip, xz, zstd, zip, npy, none): an upload is
    taken or refused with a message, never an exception."""
    state = TraceState()
    try:
        ok = state.load_bytes("random.bin", magic + body)
    except Exception as exc:  # the property under test
        pytest.fail(f"{type(exc).__name__}: {exc} escaped for {(magic + body)[:60]!r}")
    finally:
        state.close()
    assert ok or problems_of(state.error) == [], state.error


@GARBAGE
@given(st.binary(min_size=1, max_size=600), st.integers(0, 10_000))
def test_a_damaged_gzip_trace_never_raises(noise: bytes, at: int) -> None:
    """A good gzip trace with bytes overwritten or cut: taken or refused, never raised."""
    packed = bytearray(gzip.compress(text_trace(3000)))
    at %= len(packed)
    packed[at : at + len(noise)] = noise
    state = TraceState()
    try:
        ok = state.load_bytes("damaged.trace.gz", bytes(packed))
    except Exception as exc:  # the property under test
        pytest.fail(f"{type(exc).__name__}: {exc} escaped")
    finally:
        state.close()
    assert ok or problems_of(state.error) == [], state.error


# Raised today by hostile zip members (test_a_hostile_npz_member_is_refused): tolerated
# below until its fix lands, so that this fuzz keeps looking for anything else.
KNOWN_NPZ_ERRORS = (RuntimeError, NotImplementedError, SyntaxError, tokenize.TokenError)


@GARBAGE
@given(st.binary(min_size=1, max_size=200), st.integers(0, 10_000))
def test_a_damaged_npz_never_raises(noise: bytes, at: int) -> None:
    """A good .npz with bytes overwritten: taken or refused, never raised."""
    packed = two_member_npz()
    at %= len(packed)
    packed[at : at + len(noise)] = noise
    state = TraceState()
    try:
        ok = state.load_bytes("damaged.npz", bytes(packed))
    except KNOWN_NPZ_ERRORS:
        return
    except Exception as exc:  # the property under test
        pytest.fail(f"{type(exc).__name__}: {exc} escaped")
    finally:
        state.close()
    assert ok or problems_of(state.error) == [], state.error
