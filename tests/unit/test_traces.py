"""Trace readers: every format, every compression, auto-detection, streaming and bad input."""

from __future__ import annotations

import gzip
import lzma
import tempfile
from pathlib import Path

import numpy as np
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import TraceError, VmswapError
from engine.traces import FORMATS, TraceBlock, detect_format, iter_blocks, read_trace

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
LIRS_DIR = SHARED / "traces" / "lirs"
ORACLE = np.dtype([("time", "<u4"), ("obj_id", "<u8"), ("size", "<u4"), ("next", "<i8")])

COMPRESSORS = {
    "gzip": gzip.compress,
    "xz": lzma.compress,
    "zstd": lambda data: zstandard.ZstdCompressor().compress(data),
}


def write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def oracle_bytes(pages: list[int]) -> bytes:
    records = np.zeros(len(pages), dtype=ORACLE)
    records["time"] = np.arange(len(pages))
    records["obj_id"] = pages
    records["size"] = 1
    records["next"] = -1
    return records.tobytes()


def npz_bytes(tmp: Path, pages: list[int], writes: list[bool] | None = None) -> bytes:
    arrays = {"pages": np.array(pages, dtype=np.int64)}
    if writes is not None:
        arrays["writes"] = np.array(writes, dtype=bool)
    np.savez(tmp / "scratch.npz", **arrays)
    return (tmp / "scratch.npz").read_bytes()


LACKEY = """==4242== Lackey, an example Valgrind tool
==4242== Command: ./a.out
I  04015e4c,3
 L 00001ff8,8
 S 00002000,4
 M 00003ffe,4
I  04015e50,5
 L 7ff000a88,8
==4242== Counted 1 call to main()
"""


# --- each format -----------------------------------------------------------------------------


def test_text_reads_decimal_hex_and_skips_blanks_and_comments(tmp_path: Path) -> None:
    """text: one page per line, decimal or 0x-hex; blank lines and # comments are not references."""
    path = write(tmp_path / "t.txt", "# a comment\n7\n\n0x1F\n  42  \r\n0X10\n# end\n3")
    trace = read_trace(path, "text")
    assert trace.pages.tolist() == [7, 31, 42, 16, 3]
    assert trace.pages.dtype == np.int64 and trace.writes.dtype == np.bool_
    assert not trace.writes.any()
    assert trace.format == "text" and trace.path == str(path)


def test_lirs_skips_checkpoint_markers(tmp_path: Path) -> None:
    """lirs: a line '*' is a checkpoint marker, not a reference; CRLF line ends are fine."""
    path = write(tmp_path / "x.trace", "5\r\n6\r\n*\r\n5\r\n*\r\n9\r\n")
    assert read_trace(path, "lirs").pages.tolist() == [5, 6, 5, 9]


def test_ucsd_pages_are_addresses_shifted_and_s_writes(tmp_path: Path) -> None:
    """ucsd: page = address >> page_shift, 's' lines write, 'l' lines read."""
    path = write(tmp_path / "u.trace", "l 0x1fff 4\ns 0x2000 8\nl 0x7fff0010 1\n")
    trace = read_trace(path, "ucsd")
    assert trace.pages.tolist() == [1, 2, 0x7FFF0]
    assert trace.writes.tolist() == [False, True, False]
    assert read_trace(path, "ucsd", page_shift=0).pages.tolist() == [0x1FFF, 0x2000, 0x7FFF0010]


def test_lackey_data_accesses_page_crossing_and_modify(tmp_path: Path) -> None:
    """lackey: L reads, S writes, M is one write, a page-crossing access touches both pages."""
    path = write(tmp_path / "lackey.out", LACKEY)
    trace = read_trace(path, "lackey")
    # 0x1ff8+8 stays in page 1; 0x3ffe+4 crosses from page 3 into page 4.
    assert trace.pages.tolist() == [1, 2, 3, 4, 0x7FF000]
    assert trace.writes.tolist() == [False, True, True, True, False]


def test_lackey_instruction_fetches_only_when_asked(tmp_path: Path) -> None:
    """lackey: I lines are references only with instructions=True, and never writes."""
    path = write(tmp_path / "lackey.out", LACKEY)
    trace = read_trace(path, "lackey", instructions=True)
    assert trace.pages.tolist() == [0x4015, 1, 2, 3, 4, 0x4015, 0x7FF000]
    assert trace.writes.tolist() == [False, False, True, True, True, False, False]


def test_oracle_general_records_give_obj_id_pages(tmp_path: Path) -> None:
    """oracle: 24-byte little-endian records; the page is obj_id, in record order."""
    pages = [3, 1, 2**40, 3, 0]
    trace = read_trace(write(tmp_path / "o.bin", oracle_bytes(pages)), "oracle")
    assert trace.pages.tolist() == pages
    assert not trace.writes.any()


def test_csv_named_column_and_write_flags(tmp_path: Path) -> None:
    """csv: the header names the page column (default 'page'); an optional 'write' column."""
    text = "time,page,write\n0,10,0\n1,0x20,1\n2,10,true\n3,11,r\n"
    trace = read_trace(write(tmp_path / "t.csv", text), "csv")
    assert trace.pages.tolist() == [10, 32, 10, 11]
    assert trace.writes.tolist() == [False, True, True, False]
    other = write(tmp_path / "o.csv", "vpn;cpu\n5;0\n6;1\n")
    assert read_trace(other, "csv", column="vpn").pages.tolist() == [5, 6]


def test_npz_pages_and_writes(tmp_path: Path) -> None:
    """npz: arrays 'pages' and 'writes'; without 'writes' every reference reads."""
    data = npz_bytes(tmp_path, [4, 5, 4], [True, False, True])
    trace = read_trace(write(tmp_path / "cap.npz", data), "npz")
    assert trace.pages.tolist() == [4, 5, 4]
    assert trace.writes.tolist() == [True, False, True]
    bare = write(tmp_path / "bare.npz", npz_bytes(tmp_path, [9, 8]))
    assert read_trace(bare, "npz").writes.tolist() == [False, False]


# --- auto-detection and compression ----------------------------------------------------------

SAMPLES = {
    "text": "1\n0x2\n# c\n3\n",
    "lirs": "1\n2\n*\n3\n",
    "ucsd": "l 0x1000 4\ns 0x2000 4\nl 0x3000 4\n",
    "lackey": LACKEY,
    "csv": "page,write\n1,0\n2,1\n3,0\n",
}
SAMPLE_PAGES = {
    "text": [1, 2, 3],
    "lirs": [1, 2, 3],
    "ucsd": [1, 2, 3],
    "lackey": [1, 2, 3, 4, 0x7FF000],
    "csv": [1, 2, 3],
    "oracle": [1, 2, 3],
    "npz": [1, 2, 3],
}


def sample_bytes(fmt: str, tmp: Path) -> bytes:
    if fmt == "oracle":
        return oracle_bytes(SAMPLE_PAGES["oracle"])
    if fmt == "npz":
        return npz_bytes(tmp, SAMPLE_PAGES["npz"])
    return SAMPLES[fmt].encode()


def test_formats_tuple_lists_every_reader() -> None:
    """FORMATS names exactly the seven readers, in a fixed order."""
    assert FORMATS == ("text", "lirs", "ucsd", "lackey", "oracle", "csv", "npz")


@pytest.mark.parametrize("fmt", FORMATS)
def test_auto_detects_every_format(tmp_path: Path, fmt: str) -> None:
    """format='auto' picks the right reader from the content and reports it in Trace.format."""
    path = write(tmp_path / "trace.dat", sample_bytes(fmt, tmp_path))
    assert detect_format(path) == fmt
    trace = read_trace(path)
    assert trace.format == fmt
    assert trace.pages.tolist() == SAMPLE_PAGES[fmt]


@pytest.mark.parametrize("compression", sorted(COMPRESSORS))
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_compression_by_magic_bytes(tmp_path: Path, fmt: str, compression: str) -> None:
    """gzip, xz and zstd are undone by magic bytes, whatever the name; content is unchanged."""
    data = sample_bytes(fmt, tmp_path)
    path = write(tmp_path / "trace.txt", COMPRESSORS[compression](data))  # misleading name
    assert detect_format(path) == fmt
    trace = read_trace(path)
    assert trace.format == fmt
    assert trace.pages.tolist() == SAMPLE_PAGES[fmt]


def test_zstd_multiple_frames_are_concatenated(tmp_path: Path) -> None:
    """A zstd file of several frames reads as their concatenation."""
    zc = zstandard.ZstdCompressor()
    path = write(tmp_path / "t.zst", zc.compress(b"1\n2\n") + zc.compress(b"3\n4\n"))
    assert read_trace(path, "text").pages.tolist() == [1, 2, 3, 4]


# --- streaming -------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["text", "oracle", "npz", "csv"])
def test_streamed_blocks_concatenate_to_the_whole(tmp_path: Path, fmt: str) -> None:
    """iter_blocks yields blocks of exactly block_refs (the last shorter) adding up to the trace."""
    pages = list(range(1000, 1100)) * 3
    if fmt == "text":
        data = "\n".join(map(str, pages)).encode()
    elif fmt == "oracle":
        data = oracle_bytes(pages)
    elif fmt == "npz":
        data = npz_bytes(tmp_path, pages, [p % 2 == 0 for p in pages])
    else:
        data = ("page,write\n" + "".join(f"{p},{p % 2 == 0}\n" for p in pages)).encode()
    path = write(tmp_path / "t", gzip.compress(data))
    blocks = list(iter_blocks(path, block_refs=7))
    assert all(isinstance(b, TraceBlock) and b.format == fmt for b in blocks)
    assert [len(b.pages) for b in blocks] == [7] * 42 + [6]
    whole = read_trace(path)
    assert np.concatenate([b.pages for b in blocks]).tolist() == whole.pages.tolist() == pages
    assert np.array_equal(np.concatenate([b.writes for b in blocks]), whole.writes)


@settings(max_examples=40, deadline=None)
@given(
    pages=st.lists(st.integers(0, 2**63 - 1), min_size=1, max_size=300),
    block_refs=st.integers(1, 64),
    fmt=st.sampled_from(["text", "oracle", "npz", "csv"]),
)
def test_round_trip_any_pages_any_block_size(pages: list[int], block_refs: int, fmt: str) -> None:
    """Any int64 page list written in a format reads back identically, in any block size."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if fmt == "text":
            data = "".join(f"{p:#x}\n" if p % 3 else f"{p}\n" for p in pages).encode()
        elif fmt == "oracle":
            data = oracle_bytes(pages)
        elif fmt == "npz":
            data = npz_bytes(root, pages)
        else:
            data = ("page\n" + "".join(f"{p}\n" for p in pages)).encode()
        path = write(root / "t", data)
        blocks = list(iter_blocks(path, fmt, block_refs=block_refs))
        assert np.concatenate([b.pages for b in blocks]).tolist() == pages
        assert max(len(b.pages) for b in blocks) <= block_refs


def test_large_text_file_spans_many_read_chunks(tmp_path: Path) -> None:
    """A text trace bigger than one read chunk keeps every line, in order, across chunk edges."""
    pages = np.arange(300_000, dtype=np.int64) * 7919 % 1_000_003
    path = write(tmp_path / "big.txt.gz", gzip.compress("\n".join(map(str, pages)).encode()))
    assert np.array_equal(read_trace(path).pages, pages)


# --- bad input -------------------------------------------------------------------------------


def message(excinfo: pytest.ExceptionInfo[TraceError]) -> str:
    return str(excinfo.value)


def test_missing_file_names_it(tmp_path: Path) -> None:
    """A missing file is a TraceError naming the path."""
    missing = tmp_path / "nope.trace"
    with pytest.raises(TraceError, match="no such trace file") as excinfo:
        read_trace(missing)
    assert str(missing) in message(excinfo)
    assert isinstance(excinfo.value, VmswapError)


@pytest.mark.parametrize("content", [b"", b"# only a comment\n\n", b"page,write\n"])
def test_empty_trace_is_an_error(tmp_path: Path, content: bytes) -> None:
    """A file with no references (empty, only comments, only a CSV header) is a TraceError."""
    path = write(tmp_path / "e.txt", content)
    with pytest.raises(TraceError, match="empty") as excinfo:
        read_trace(path)
    assert str(path) in message(excinfo)


def test_bad_text_line_gives_line_number_found_and_expected(tmp_path: Path) -> None:
    """A malformed text line: the message names file:line, what was found, what was expected."""
    path = write(tmp_path / "t.txt", "1\n2\nbanana\n4\n")
    with pytest.raises(TraceError) as excinfo:
        read_trace(path, "text")
    text = message(excinfo)
    assert f"{path}:3:" in text and "'banana'" in text and "expected a page number" in text


def test_bad_line_number_is_right_deep_in_a_compressed_file(tmp_path: Path) -> None:
    """The line number counts every line of the decompressed file, across read chunks."""
    lines = [str(i) for i in range(200_000)]
    lines[150_000] = "-5"
    path = write(tmp_path / "t.gz", gzip.compress("\n".join(lines).encode()))
    with pytest.raises(TraceError, match=r":150001: found '-5'"):
        read_trace(path, "text")


@pytest.mark.parametrize(
    ("fmt", "content", "line", "found"),
    [
        ("lirs", "1\n0x10\n", 2, "0x10"),
        ("lirs", "1\n2\n# note\n", 3, "# note"),
        ("ucsd", "l 0x10 4\nx 0x10 4\n", 2, "x 0x10 4"),
        ("ucsd", "l 0x10\n", 1, "l 0x10"),
        ("lackey", "I  0400,3\n L 04zz,8\n", 2, "L 04zz,8"),
        ("csv", "page\n1\nzz\n", 3, "zz"),
        ("csv", "page,write\n1,maybe\n", 2, "maybe"),
        ("csv", "page,write\n1\n", 2, "1 fields"),
    ],
)
def test_bad_lines_in_each_text_format(
    tmp_path: Path, fmt: str, content: str, line: int, found: str
) -> None:
    """Every text format rejects a bad line with file:line and the offending text."""
    path = write(tmp_path / "bad", content)
    with pytest.raises(TraceError) as excinfo:
        read_trace(path, fmt)
    text = message(excinfo)
    assert f"{path}:{line}:" in text and found in text and "expected" in text


def test_csv_missing_column_lists_the_header(tmp_path: Path) -> None:
    """A CSV without the asked-for column says which columns it found."""
    path = write(tmp_path / "t.csv", "addr,op\n1,r\n")
    with pytest.raises(TraceError, match=r"found header columns addr, op.*'page'"):
        read_trace(path, "csv")


def test_truncated_oracle_gives_byte_offset(tmp_path: Path) -> None:
    """An oracleGeneral file cut inside a record names the byte offset of that record."""
    path = write(tmp_path / "o.bin", oracle_bytes([1, 2, 3])[:-5])
    with pytest.raises(TraceError) as excinfo:
        read_trace(path, "oracle")
    text = message(excinfo)
    assert "byte offset 48" in text and "19 bytes" in text and "24-byte" in text


@pytest.mark.parametrize("compression", sorted(COMPRESSORS))
def test_truncated_compressed_file_is_an_error(tmp_path: Path, compression: str) -> None:
    """A compressed file cut short is a TraceError naming the compression and an offset."""
    data = "\n".join(str(i) for i in range(50_000)).encode()
    packed = COMPRESSORS[compression](data)
    path = write(tmp_path / "cut", packed[: len(packed) // 2])
    with pytest.raises(TraceError) as excinfo:
        read_trace(path, "text")
    text = message(excinfo)
    assert compression in text and "byte offset" in text and str(path) in text


def test_npz_without_pages_names_what_it_found(tmp_path: Path) -> None:
    """An npz without a 'pages' array lists the arrays it has."""
    np.savez(tmp_path / "x.npz", addrs=np.arange(3))
    with pytest.raises(TraceError, match=r"found arrays addrs, expected an array named 'pages'"):
        read_trace(tmp_path / "x.npz", "npz")


def test_npz_object_array_is_never_unpickled(tmp_path: Path) -> None:
    """An npz holding an object (pickled) array is refused, not loaded."""
    np.savez(tmp_path / "x.npz", pages=np.array([1, "a"], dtype=object))
    with pytest.raises(TraceError, match="never unpickled"):
        read_trace(tmp_path / "x.npz", "npz")


def test_npz_writes_of_another_length(tmp_path: Path) -> None:
    """'writes' must have one flag per page."""
    np.savez(tmp_path / "x.npz", pages=np.arange(3), writes=np.zeros(2, dtype=bool))
    with pytest.raises(TraceError, match="found 2 items in 'writes' and 3 in 'pages'"):
        read_trace(tmp_path / "x.npz", "npz")


def test_npz_negative_page_is_refused(tmp_path: Path) -> None:
    """Page numbers in an npz are ≥ 0; the message gives the item index."""
    np.savez(tmp_path / "x.npz", pages=np.array([1, 2, -7]))
    with pytest.raises(TraceError, match=r"'pages' item 2: found -7"):
        read_trace(tmp_path / "x.npz", "npz")


def test_single_npy_is_explained(tmp_path: Path) -> None:
    """A bare .npy (not .npz) is refused with a message saying what is expected."""
    np.save(tmp_path / "x.npy", np.arange(3))
    with pytest.raises(TraceError, match=r"expected an \.npz archive"):
        read_trace(tmp_path / "x.npy")


def test_undetectable_content_says_so(tmp_path: Path) -> None:
    """Auto-detection of prose fails with the line it could not place and the format list."""
    path = write(tmp_path / "prose.txt", "Once upon a time\nthere was a page\n")
    with pytest.raises(TraceError, match=r":1: cannot tell the trace format.*lackey"):
        read_trace(path)


def test_number_beyond_int64_is_refused(tmp_path: Path) -> None:
    """A page number that does not fit int64 is a TraceError, not an overflow."""
    path = write(tmp_path / "t.txt", f"1\n{2**64}\n")
    with pytest.raises(TraceError, match="expected at most"):
        read_trace(path, "text")


def test_max_refs_is_enforced(tmp_path: Path) -> None:
    """read_trace stops with a clear message once a trace exceeds max_refs."""
    path = write(tmp_path / "t.txt", "\n".join(map(str, range(100))))
    assert len(read_trace(path, max_refs=100)) == 100
    with pytest.raises(TraceError, match=r"more than max_refs=99 references"):
        read_trace(path, max_refs=99)


def test_unknown_format_suggests_a_name(tmp_path: Path) -> None:
    """An unknown format name is a TraceError with a 'did you mean' hint and the allowed list."""
    path = write(tmp_path / "t.txt", "1\n")
    with pytest.raises(TraceError, match=r"unknown trace format 'lirz' \(did you mean 'lirs'\?\)"):
        read_trace(path, "lirz")


@pytest.mark.parametrize("shift", [-1, 63, 2.5])
def test_page_shift_out_of_range(tmp_path: Path, shift: object) -> None:
    """page_shift must be a whole number from 0 to 62."""
    path = write(tmp_path / "t.txt", "1\n")
    with pytest.raises(TraceError, match="page_shift must be a whole number from 0 to 62"):
        read_trace(path, page_shift=shift)  # type: ignore[arg-type]


# --- the real LIRS traces --------------------------------------------------------------------

LIRS_FILES = sorted(LIRS_DIR.glob("*.trace.gz")) if LIRS_DIR.is_dir() else []


@pytest.mark.skipif(not LIRS_FILES, reason=f"LIRS traces not found in {LIRS_DIR}")
@pytest.mark.parametrize("path", LIRS_FILES, ids=[p.name for p in LIRS_FILES])
def test_lirs_traces_parse(path: Path) -> None:
    """Each shared LIRS trace reads to exactly its numeric lines, markers and blanks left out."""
    with gzip.open(path, "rb") as fh:
        expected = [int(s) for line in fh if (s := line.strip()) and s != b"*"]
    trace = read_trace(path)
    assert trace.format in ("text", "lirs")
    assert trace.pages.tolist() == expected
    assert read_trace(path, "lirs").pages.tolist() == expected
