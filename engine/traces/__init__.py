"""Readers of real page-reference traces, streamed as numpy blocks.

Formats: plain text, LIRS, UCSD (`l|s 0xADDR SIZE`), valgrind lackey, libCacheSim
oracleGeneral binary, CSV and npz; gzip, xz and zstd are undone by their magic bytes.
A file is read up to MAX_TRACE_BYTES decompressed bytes and MAX_TRACE_REFS references (both
counted while streaming), so /dev/zero or a compression bomb ends with a TraceError, early.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from engine.errors import TraceError, unknown_name
from engine.limits import MAX_TRACE_BYTES, MAX_TRACE_REFS
from engine.traces.binary_formats import parse_npz, parse_oracle
from engine.traces.compression import Source, show
from engine.traces.text_formats import (
    DECIMAL,
    LACKEY,
    UCSD,
    VALGRIND_NOTE,
    is_number,
    parse_csv,
    parse_lackey,
    parse_lirs,
    parse_text,
    parse_ucsd,
)

__all__ = ["FORMATS", "Trace", "TraceBlock", "detect_format", "iter_blocks", "read_trace"]

FORMATS: tuple[str, ...] = ("text", "lirs", "ucsd", "lackey", "oracle", "csv", "npz")

_SNIFF_BYTES = 1 << 16

_PARSERS: dict[str, Callable[..., Iterator[tuple[np.ndarray, np.ndarray]]]] = {
    "text": parse_text,
    "lirs": parse_lirs,
    "ucsd": parse_ucsd,
    "lackey": parse_lackey,
    "oracle": parse_oracle,
    "csv": parse_csv,
    "npz": parse_npz,
}


@dataclass(frozen=True)
class TraceBlock:
    """A run of consecutive references: page numbers and whether each one writes."""

    pages: np.ndarray  # int64
    writes: np.ndarray  # bool
    format: str = ""


@dataclass(frozen=True)
class Trace:
    """A whole trace in memory, with the format it was read as and where it came from."""

    pages: np.ndarray  # int64
    writes: np.ndarray  # bool
    format: str
    path: str

    def __len__(self) -> int:
        return len(self.pages)


def detect_format(path: str | os.PathLike[str]) -> str:
    """The trace format of `path`, judged from its first 64 KiB after decompression."""
    with Source(path) as src:
        head = src.read(_SNIFF_BYTES)
    name = src.path
    if not head:
        raise TraceError(f"{name}: empty file: no page references")
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "npz"
    if head.startswith(b"\x93NUMPY"):
        raise TraceError(
            f"{name}: found a single .npy array, expected an .npz archive with arrays "
            "'pages' (int64) and 'writes' (bool), e.g. from numpy.savez"
        )
    if b"\x00" in head:
        return "oracle"
    lines = head.split(b"\n")
    if len(head) == _SNIFF_BYTES and len(lines) > 1:
        lines.pop()  # maybe cut in the middle
    numbered = [(i, s) for i, line in enumerate(lines, 1) if (s := line.strip())][:64]
    if not numbered:
        raise TraceError(f"{name}: no page references in the first {len(head)} bytes")
    texts = [s for _, s in numbered]
    if all(LACKEY.fullmatch(s) or VALGRIND_NOTE.fullmatch(s) for s in texts):
        return "lackey"
    if all(UCSD.fullmatch(s) for s in texts):
        return "ucsd"
    if all(DECIMAL.fullmatch(s) or s == b"*" for s in texts):
        return "lirs" if b"*" in texts else "text"
    if all(is_number(s) or s == b"*" or s[:1] == b"#" for s in texts):
        return "text"
    first, rest = texts[0], texts[1:]
    if not is_number(first) and (
        any(d in first for d in (b",", b"\t", b";")) or all(is_number(s) for s in rest)
    ):
        return "csv"  # a header row, then rows (or a single column of numbers)
    bad_no, bad = next((i, s) for i, s in numbered if not is_number(s))
    raise TraceError(
        f"{name}:{bad_no}: cannot tell the trace format: found {show(bad)}, expected a page "
        f"number, a UCSD 'l|s 0xADDR SIZE' line, a lackey line, or a CSV header; formats: "
        f"{', '.join(FORMATS)} (pass one explicitly)"
    )


def iter_blocks(
    path: str | os.PathLike[str],
    format: str = "auto",
    *,
    page_shift: int = 12,
    block_refs: int = 65536,
    instructions: bool = False,
    column: str = "page",
    max_bytes: int | None = MAX_TRACE_BYTES,
) -> Iterator[TraceBlock]:
    """Stream the trace at `path` as blocks of `block_refs` references (the last may be short).

    `page_shift` turns byte addresses into pages (ucsd, lackey); the other formats hold page
    numbers already. `instructions` keeps lackey's instruction fetches (`I` lines).
    `column` names the CSV column of page numbers; an optional `write` column marks writes.
    Each block carries the format that was read, so a caller can report what 'auto' chose.
    Raises TraceError for a missing, empty, truncated or malformed file, or one of more than
    `max_bytes` decompressed bytes (None: no cap).
    """
    fmt = _check_options(format, page_shift, block_refs)
    if fmt == "auto":
        fmt = detect_format(path)
    parse = _PARSERS[fmt]
    total = 0
    with Source(path, max_bytes=max_bytes) as src:
        parts = parse(
            src,
            page_shift=page_shift,
            instructions=instructions,
            column=column,
            block_refs=block_refs,
        )
        for block in _rebatch(parts, block_refs, fmt):
            total += len(block.pages)
            yield block
    if total == 0:
        raise TraceError(f"{src.path}: empty trace: no page references found ({fmt} format)")


def read_trace(
    path: str | os.PathLike[str],
    format: str = "auto",
    *,
    page_shift: int = 12,
    max_refs: int | None = MAX_TRACE_REFS,
    instructions: bool = False,
    column: str = "page",
    max_bytes: int | None = MAX_TRACE_BYTES,
) -> Trace:
    """Read a whole trace into memory; TraceError if it holds more than `max_refs` references
    or `max_bytes` decompressed bytes (None: no cap), found while reading, not after."""
    if max_refs is not None and (isinstance(max_refs, bool) or max_refs < 1):
        raise TraceError(f"max_refs must be a whole number ≥ 1 or None, got {max_refs!r}")
    pages: list[np.ndarray] = []
    writes: list[np.ndarray] = []
    fmt, total = format, 0
    for block in iter_blocks(
        path,
        format,
        page_shift=page_shift,
        instructions=instructions,
        column=column,
        max_bytes=max_bytes,
    ):
        fmt = block.format
        total += len(block.pages)
        if max_refs is not None and total > max_refs:
            raise TraceError(
                f"{os.fspath(path)}: more than max_refs={max_refs:,} references "
                f"({total:,} read so far); a trace may hold at most {max_refs:,}: cut it"
            )
        pages.append(block.pages)
        writes.append(block.writes)
    return Trace(np.concatenate(pages), np.concatenate(writes), fmt, os.fspath(path))


def _check_options(format: str, page_shift: int, block_refs: int) -> str:
    if format != "auto" and format not in FORMATS:
        raise TraceError(unknown_name("trace format", format, ("auto", *FORMATS)))
    if isinstance(page_shift, bool) or not isinstance(page_shift, int) or not 0 <= page_shift < 63:
        raise TraceError(f"page_shift must be a whole number from 0 to 62, got {page_shift!r}")
    if isinstance(block_refs, bool) or not isinstance(block_refs, int) or block_refs < 1:
        raise TraceError(f"block_refs must be a whole number ≥ 1, got {block_refs!r}")
    return format


def _rebatch(
    parts: Iterator[tuple[np.ndarray, np.ndarray]], block_refs: int, fmt: str
) -> Iterator[TraceBlock]:
    """Regroup parts of any length into blocks of exactly `block_refs` (the last may be short)."""
    pages: list[np.ndarray] = []
    writes: list[np.ndarray] = []
    held = 0
    for part_pages, part_writes in parts:
        if not len(part_pages):
            continue
        pages.append(part_pages)
        writes.append(part_writes)
        held += len(part_pages)
        if held < block_refs:
            continue
        all_pages, all_writes = np.concatenate(pages), np.concatenate(writes)
        cut = held - held % block_refs
        for start in range(0, cut, block_refs):
            yield TraceBlock(
                all_pages[start : start + block_refs], all_writes[start : start + block_refs], fmt
            )
        pages, writes, held = [all_pages[cut:]], [all_writes[cut:]], held - cut
    if held:
        yield TraceBlock(np.concatenate(pages), np.concatenate(writes), fmt)
