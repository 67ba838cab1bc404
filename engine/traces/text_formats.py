"""Readers of line-oriented traces: text, LIRS, UCSD, valgrind lackey and CSV.

Each reader takes a `Source` and yields (pages int64, writes bool) parts of any length; lines
are read in chunks, and a bad line is reported with its file and line number.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from typing import Any

import numpy as np

from engine.errors import TraceError
from engine.traces.compression import CHUNK_BYTES, INT64_MAX, Source, show

MAX_LINE_BYTES = 1 << 20

DECIMAL = re.compile(rb"\+?[0-9]+")
HEX = re.compile(rb"0[xX][0-9a-fA-F]+")
UCSD = re.compile(rb"[lsLS]\s+(?:0[xX])?[0-9a-fA-F]+\s+[0-9]+")
LACKEY = re.compile(rb"(?:I|[LSM])\s+[0-9a-fA-F]+,[0-9]+")
VALGRIND_NOTE = re.compile(rb"==[0-9]+==.*")
_TRUE = frozenset({"1", "true", "t", "yes", "y", "w", "write", "s", "store"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "r", "read", "l", "load"})

# Whole lackey lines found in a chunk at C speed; `_WS` is what bytes.strip() removes in a line.
_WS = rb"[ \t\r\x0b\x0c]"
_LACKEY_DATA = re.compile(
    rb"^" + _WS + rb"*([LSM])" + _WS + rb"+([0-9a-fA-F]+),([0-9]+)" + _WS + rb"*$", re.M
)
_LACKEY_ANY = re.compile(
    rb"^" + _WS + rb"*(I|[LSM])" + _WS + rb"+([0-9a-fA-F]+),([0-9]+)" + _WS + rb"*$", re.M
)
_LACKEY_FETCH = re.compile(
    rb"^" + _WS + rb"*I" + _WS + rb"+[0-9a-fA-F]+,[0-9]+" + _WS + rb"*$", re.M
)
_LACKEY_SKIP = re.compile(rb"^" + _WS + rb"*(?:==[^\n]*)?$", re.M)
_TWO_WORDS = re.compile(rb"\S[ \t\r\x0b\x0c]+\S")
_FAST_MAX_ADDRESS = 1 << 60
_FAST_MAX_SIZE = 1 << 20


def is_number(text: bytes) -> bool:
    """A decimal or 0x-hex page number."""
    return bool(DECIMAL.fullmatch(text) or HEX.fullmatch(text))


def line_chunks(src: Source) -> Iterator[tuple[int, bytes]]:
    """(number of the first line, bytes holding whole lines) until the end of the file."""
    line_no = 1
    tail = b""
    while True:
        data = src.read(CHUNK_BYTES)
        if not data:
            break
        data = tail + data
        cut = data.rfind(b"\n")
        if cut < 0:
            tail = data
            if len(tail) > MAX_LINE_BYTES:
                raise TraceError(
                    f"{src.path}:{line_no}: found a line longer than {MAX_LINE_BYTES} bytes, "
                    "expected one reference per line (is this a text trace?)"
                )
            continue
        chunk, tail = data[:cut], data[cut + 1 :]
        yield line_no, chunk
        line_no += chunk.count(b"\n") + 1
    if tail:
        yield line_no, tail


def _two_words(chunk: bytes) -> bool:
    """Whether a line of `chunk` holds whitespace between two words (memchr first: most
    traces hold no blank but the newline)."""
    return any(c in chunk for c in (b" ", b"\t", b"\r", b"\x0b", b"\x0c")) and bool(
        _TWO_WORDS.search(chunk)
    )


def _parse_numbers(src: Source, *, lirs: bool) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """One page number per line (text, lirs); a line `*` is a LIRS checkpoint, not a reference."""
    expected = (
        "a decimal block number or '*'"
        if lirs
        else "a page number (decimal or 0x-hex), a blank line or a # comment"
    )
    for first_line, chunk in line_chunks(src):
        values: list[int] | None = None
        # One number per line with blank lines anywhere: split() finds them at C speed (so a
        # file of blank lines is cheap), unless some line holds two words (an error below).
        if b"_" not in chunk and not _two_words(chunk):  # int() would accept 1_000
            try:
                values = [int(word) for word in chunk.split()]
            except ValueError:
                values = None
        if values is None or (values and min(values) < 0):
            values = []
            for line_no, line in enumerate(chunk.split(b"\n"), first_line):
                text = line.strip()
                if not text or text == b"*" or (not lirs and text[:1] == b"#"):
                    continue
                if DECIMAL.fullmatch(text):
                    values.append(int(text))
                elif not lirs and HEX.fullmatch(text):
                    values.append(int(text, 16))
                else:
                    raise TraceError(
                        f"{src.path}:{line_no}: found {show(text)}, expected {expected}"
                    )
        if values and max(values) > INT64_MAX:
            index = next(i for i, v in enumerate(values) if v > INT64_MAX)
            raise TraceError(
                f"{src.path}: line {first_line + index} or after: found page {values[index]}, "
                f"expected at most {INT64_MAX}"
            )
        pages = np.array(values, dtype=np.int64)
        yield pages, np.zeros(len(pages), dtype=bool)


def parse_text(src: Source, **_: Any) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """One page number per line, decimal or 0x-hex; blank lines and # comments are skipped."""
    return _parse_numbers(src, lirs=False)


def parse_lirs(src: Source, **_: Any) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """One decimal block number per line; `*` lines are checkpoint markers."""
    return _parse_numbers(src, lirs=True)


def parse_ucsd(
    src: Source, *, page_shift: int, **_: Any
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """`l|s 0xADDR SIZE`: page = ADDR >> page_shift (SIZE is checked, not used); `s` writes."""
    for first_line, chunk in line_chunks(src):
        pages: list[int] = []
        writes: list[bool] = []
        for line_no, line in enumerate(chunk.split(b"\n"), first_line):
            text = line.strip()
            if not text:
                continue
            if not UCSD.fullmatch(text):
                raise TraceError(
                    f"{src.path}:{line_no}: found {show(text)}, expected 'l|s 0xADDR SIZE' "
                    "(l = load, s = store, hex address, decimal size)"
                )
            op, addr, _size = text.split()
            page = int(addr, 16) >> page_shift
            if page > INT64_MAX:
                raise TraceError(f"{src.path}:{line_no}: address {show(addr)} is too large")
            pages.append(page)
            writes.append(op in (b"s", b"S"))
        yield np.array(pages, dtype=np.int64), np.array(writes, dtype=bool)


def parse_lackey(
    src: Source, *, page_shift: int, instructions: bool, **_: Any
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """valgrind lackey `--trace-mem=yes`: I (fetch, optional), L (load), S (store), M (modify).

    M is one reference that writes. An access that crosses a page boundary references every
    page it touches, in address order. `==pid==` lines are valgrind's notes and are skipped.
    """
    for pages, writes, _fetches in lackey_parts(
        src, page_shift=page_shift, instructions=instructions
    ):
        yield pages, writes


def lackey_parts(
    src: Source, *, page_shift: int, instructions: bool
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Lackey references as (pages int64, writes bool, fetches bool) parts, in program order.

    `fetches` marks instruction fetches (only present when `instructions`). A chunk whose lines
    are all well formed is parsed with whole-chunk regular expressions and numpy; any other
    chunk goes line by line, which names the first bad line.
    """
    for first_line, chunk in line_chunks(src):
        part = _lackey_chunk_fast(chunk, page_shift, instructions)
        yield (
            part
            if part is not None
            else _lackey_chunk_lines(src, first_line, chunk, page_shift, instructions)
        )


def _lackey_chunk_fast(
    chunk: bytes, page_shift: int, instructions: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The chunk's references, or None unless every line is a plain access, a note or blank."""
    found = (_LACKEY_ANY if instructions else _LACKEY_DATA).findall(chunk)
    n_fetch = 0 if instructions else len(_LACKEY_FETCH.findall(chunk))
    rest = chunk.count(b"\n") + 1 - len(found) - n_fetch
    if rest and len(_LACKEY_SKIP.findall(chunk)) != rest:
        return None
    if not found:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty.astype(bool), empty.astype(bool)
    kinds, addr_hex, size_dec = zip(*found, strict=True)
    addrs = [int(a, 16) for a in addr_hex]
    sizes = [int(s) for s in size_dec]
    if max(addrs) >= _FAST_MAX_ADDRESS or max(sizes) >= _FAST_MAX_SIZE:
        return None
    addr = np.array(addrs, dtype=np.int64)
    first = addr >> page_shift
    last = (addr + np.maximum(np.array(sizes, dtype=np.int64), 1) - 1) >> page_shift
    kind = np.frombuffer(b"".join(kinds), dtype=np.uint8)
    writes = (kind == ord("S")) | (kind == ord("M"))
    fetches = kind == ord("I")
    span = last - first + 1
    if (span == 1).all():
        return first, writes, fetches
    # An access that crosses pages: every page it touches, in address order.
    owner = np.repeat(np.arange(len(first)), span)
    starts = np.cumsum(span) - span
    pages = first[owner] + (np.arange(len(owner)) - starts[owner])
    return pages, writes[owner], fetches[owner]


def _lackey_chunk_lines(
    src: Source, first_line: int, chunk: bytes, page_shift: int, instructions: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pages: list[int] = []
    writes: list[bool] = []
    fetches: list[bool] = []
    for line_no, line in enumerate(chunk.split(b"\n"), first_line):
        text = line.strip()
        if not text or text[:2] == b"==":
            continue
        if not LACKEY.fullmatch(text):
            raise TraceError(
                f"{src.path}:{line_no}: found {show(text)}, expected a lackey line "
                "'I  ADDR,SIZE' or ' L|S|M ADDR,SIZE' (hex address, decimal size)"
            )
        kind, access = text.split()
        if kind == b"I" and not instructions:
            continue
        addr_hex, size = access.split(b",")
        addr = int(addr_hex, 16)
        first = addr >> page_shift
        last = (addr + max(int(size), 1) - 1) >> page_shift
        if last > INT64_MAX:
            raise TraceError(f"{src.path}:{line_no}: address {show(addr_hex)} is too large")
        is_write = kind in (b"S", b"M")
        for page in range(first, last + 1):
            pages.append(page)
            writes.append(is_write)
            fetches.append(kind == b"I")
    return np.array(pages, dtype=np.int64), np.array(writes, dtype=bool), np.array(fetches, bool)


def parse_csv(src: Source, *, column: str, **_: Any) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """A header row, a column of page numbers (decimal or 0x-hex) and an optional `write`."""
    header: list[str] | None = None
    page_col = write_col = -1
    delimiter = ","
    for first_line, chunk in line_chunks(src):
        pages: list[int] = []
        writes: list[bool] = []
        text_lines = chunk.decode("utf-8-sig" if header is None else "utf-8", "replace")
        for line_no, row in enumerate(text_lines.split("\n"), first_line):
            if not row.strip():
                continue
            if header is None:
                delimiter = max((",", "\t", ";"), key=row.count)
                header = [name.strip() for name in next(csv.reader([row], delimiter=delimiter))]
                page_col = _find_column(header, column, src.path, line_no)
                write_col = _find_column(header, "write", src.path, line_no, required=False)
                continue
            fields = next(csv.reader([row], delimiter=delimiter))
            if len(fields) < len(header):
                raise TraceError(
                    f"{src.path}:{line_no}: found {len(fields)} fields, expected {len(header)} "
                    f"as in the header ({delimiter!r}-separated)"
                )
            value = fields[page_col].strip().encode()
            if DECIMAL.fullmatch(value):
                page = int(value)
            elif HEX.fullmatch(value):
                page = int(value, 16)
            else:
                raise TraceError(
                    f"{src.path}:{line_no}: column '{header[page_col]}': found {show(value)}, "
                    "expected a page number (decimal or 0x-hex)"
                )
            if page > INT64_MAX:
                raise TraceError(f"{src.path}:{line_no}: page {page} is too large")
            pages.append(page)
            if write_col >= 0:
                flag = fields[write_col].strip().lower()
                if flag not in _TRUE and flag not in _FALSE:
                    raise TraceError(
                        f"{src.path}:{line_no}: column 'write': found {flag!r}, expected one of "
                        "1/0, true/false, yes/no, w/r"
                    )
                writes.append(flag in _TRUE)
        if writes or pages:
            yield np.array(pages, dtype=np.int64), np.array(writes or [False] * len(pages), bool)
    if header is None:
        raise TraceError(f"{src.path}: empty CSV: expected a header row naming '{column}'")


def _find_column(
    header: list[str], name: str, path: str, line_no: int, *, required: bool = True
) -> int:
    """Index of column `name` (exact match first, then ignoring case), or -1 if optional."""
    folded = [h.lower() for h in header]
    if name in header:
        return header.index(name)
    if name.lower() in folded:
        return folded.index(name.lower())
    if required:
        raise TraceError(
            f"{path}:{line_no}: found header columns {', '.join(header) or '(none)'}, expected "
            f"a column named '{name}' (choose it with column=/--column)"
        )
    return -1
