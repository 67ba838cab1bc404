"""Readers of real page-reference traces, streamed as numpy blocks.

Formats: plain text, LIRS, UCSD (`l|s 0xADDR SIZE`), valgrind lackey, libCacheSim
oracleGeneral binary, CSV and npz; gzip, xz and zstd are undone by their magic bytes.
"""

from __future__ import annotations

import csv
import gzip
import lzma
import os
import re
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import IO, Any, BinaryIO

import numpy as np

from engine.errors import TraceError, unknown_name

FORMATS: tuple[str, ...] = ("text", "lirs", "ucsd", "lackey", "oracle", "csv", "npz")

_MAGIC = {b"\x1f\x8b": "gzip", b"\xfd7zXZ\x00": "xz", b"\x28\xb5\x2f\xfd": "zstd"}
_INT64_MAX = np.iinfo(np.int64).max
_CHUNK_BYTES = 1 << 18
_MAX_LINE_BYTES = 1 << 20
_SNIFF_BYTES = 1 << 16
_ORACLE_RECORD = np.dtype([("time", "<u4"), ("obj_id", "<u8"), ("size", "<u4"), ("next", "<i8")])
_ORACLE_LAYOUT = (
    "24-byte oracleGeneral records (uint32 time, uint64 obj_id, uint32 size, int64 next)"
)

_DECIMAL = re.compile(rb"\+?[0-9]+")
_HEX = re.compile(rb"0[xX][0-9a-fA-F]+")
_UCSD = re.compile(rb"[lsLS]\s+(?:0[xX])?[0-9a-fA-F]+\s+[0-9]+")
_LACKEY = re.compile(rb"(?:I|[LSM])\s+[0-9a-fA-F]+,[0-9]+")
_VALGRIND_NOTE = re.compile(rb"==[0-9]+==.*")
_TRUE = frozenset({"1", "true", "t", "yes", "y", "w", "write", "s", "store"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "r", "read", "l", "load"})


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
    with _Source(path) as src:
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
    if all(_LACKEY.fullmatch(s) or _VALGRIND_NOTE.fullmatch(s) for s in texts):
        return "lackey"
    if all(_UCSD.fullmatch(s) for s in texts):
        return "ucsd"
    if all(_DECIMAL.fullmatch(s) or s == b"*" for s in texts):
        return "lirs" if b"*" in texts else "text"
    if all(_is_number(s) or s == b"*" or s[:1] == b"#" for s in texts):
        return "text"
    first, rest = texts[0], texts[1:]
    if not _is_number(first) and (
        any(d in first for d in (b",", b"\t", b";")) or all(_is_number(s) for s in rest)
    ):
        return "csv"  # a header row, then rows (or a single column of numbers)
    bad_no, bad = next((i, s) for i, s in numbered if not _is_number(s))
    raise TraceError(
        f"{name}:{bad_no}: cannot tell the trace format: found {_show(bad)}, expected a page "
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
) -> Iterator[TraceBlock]:
    """Stream the trace at `path` as blocks of `block_refs` references (the last may be short).

    `page_shift` turns byte addresses into pages (ucsd, lackey); the other formats hold page
    numbers already. `instructions` keeps lackey's instruction fetches (`I` lines).
    `column` names the CSV column of page numbers; an optional `write` column marks writes.
    Each block carries the format that was read, so a caller can report what 'auto' chose.
    Raises TraceError for a missing, empty, truncated or malformed file.
    """
    fmt = _check_options(format, page_shift, block_refs)
    if fmt == "auto":
        fmt = detect_format(path)
    parse = _PARSERS[fmt]
    total = 0
    with _Source(path) as src:
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
    max_refs: int | None = None,
    instructions: bool = False,
    column: str = "page",
) -> Trace:
    """Read a whole trace into memory; TraceError if it holds more than `max_refs` references."""
    if max_refs is not None and (isinstance(max_refs, bool) or max_refs < 1):
        raise TraceError(f"max_refs must be a whole number ≥ 1 or None, got {max_refs!r}")
    pages: list[np.ndarray] = []
    writes: list[np.ndarray] = []
    fmt, total = format, 0
    for block in iter_blocks(
        path, format, page_shift=page_shift, instructions=instructions, column=column
    ):
        fmt = block.format
        total += len(block.pages)
        if max_refs is not None and total > max_refs:
            raise TraceError(
                f"{os.fspath(path)}: more than max_refs={max_refs} references "
                f"({total} read so far); raise the limit or cut the trace"
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


def _is_number(text: bytes) -> bool:
    return bool(_DECIMAL.fullmatch(text) or _HEX.fullmatch(text))


def _show(raw: bytes, limit: int = 40) -> str:
    text = raw.decode("utf-8", errors="replace")
    return repr(text if len(text) <= limit else text[:limit] + "…")


class _Source:
    """A trace file opened for reading, decompressed according to its magic bytes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        try:
            self.raw: BinaryIO = open(self.path, "rb")  # noqa: SIM115 - closed by __exit__
        except FileNotFoundError:
            raise TraceError(f"{self.path}: no such trace file") from None
        except OSError as exc:
            raise TraceError(f"{self.path}: cannot open trace file: {exc.strerror}") from None
        head = self.raw.read(6)
        self.raw.seek(0)
        self.compression = next((c for m, c in _MAGIC.items() if head.startswith(m)), None)
        self._errors: tuple[type[BaseException], ...] = (EOFError, OSError, zlib.error)
        self._read: Callable[[int], bytes]
        if self.compression == "gzip":
            self._read = gzip.GzipFile(fileobj=self.raw).read
        elif self.compression == "xz":
            self._read = lzma.LZMAFile(self.raw).read  # noqa: SIM115 - closes with raw
            self._errors += (lzma.LZMAError,)
        elif self.compression == "zstd":
            zstd = _import_zstandard(self.path)
            self._read = _ZstdStream(self.raw, zstd).read
            self._errors += (zstd.ZstdError,)
        else:
            self._read = self.raw.read

    def read(self, size: int) -> bytes:
        """Up to `size` decompressed bytes; b'' at the end."""
        try:
            return self._read(size)
        except self._errors as exc:
            raise TraceError(
                f"{self.path}: {self.compression or 'file'} data is corrupt or truncated near "
                f"compressed byte offset {self.raw.tell()}: {exc}"
            ) from None

    def where(self, offset: int) -> str:
        """'byte offset N', saying when N counts decompressed bytes."""
        suffix = f" of the {self.compression}-decompressed data" if self.compression else ""
        return f"byte offset {offset}{suffix}"

    def __enter__(self) -> _Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.raw.close()


def _import_zstandard(path: str) -> Any:
    try:
        import zstandard
    except ImportError:
        raise TraceError(
            f"{path}: zstd-compressed, but the 'zstandard' package is not installed"
        ) from None
    return zstandard


class _ZstdStream:
    """zstd frames decoded one after another; a file cut inside a frame is an error."""

    def __init__(self, raw: BinaryIO, zstd: Any) -> None:
        self._raw = raw
        self._zstd = zstd
        self._obj = zstd.ZstdDecompressor().decompressobj()
        self._fed = False
        self._out = bytearray()
        self._done = False

    def read(self, size: int) -> bytes:
        while len(self._out) < size and not self._done:
            data = self._raw.read(_CHUNK_BYTES)
            if not data:
                if self._fed and not self._obj.eof:
                    raise EOFError("compressed file ended before the end of a zstd frame")
                self._done = True
            while data:
                if self._obj.eof:
                    self._obj = self._zstd.ZstdDecompressor().decompressobj()
                self._out += self._obj.decompress(data)
                self._fed = True
                data = self._obj.unused_data if self._obj.eof else b""
        out = bytes(self._out[:size])
        del self._out[:size]
        return out


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


def _line_chunks(src: _Source) -> Iterator[tuple[int, bytes]]:
    """(number of the first line, bytes holding whole lines) until the end of the file."""
    line_no = 1
    tail = b""
    while True:
        data = src.read(_CHUNK_BYTES)
        if not data:
            break
        data = tail + data
        cut = data.rfind(b"\n")
        if cut < 0:
            tail = data
            if len(tail) > _MAX_LINE_BYTES:
                raise TraceError(
                    f"{src.path}:{line_no}: found a line longer than {_MAX_LINE_BYTES} bytes, "
                    "expected one reference per line (is this a text trace?)"
                )
            continue
        chunk, tail = data[:cut], data[cut + 1 :]
        yield line_no, chunk
        line_no += chunk.count(b"\n") + 1
    if tail:
        yield line_no, tail


def _parse_numbers(src: _Source, *, lirs: bool) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """One page number per line (text, lirs); a line `*` is a LIRS checkpoint, not a reference."""
    expected = (
        "a decimal block number or '*'"
        if lirs
        else "a page number (decimal or 0x-hex), a blank line or a # comment"
    )
    for first_line, chunk in _line_chunks(src):
        lines = chunk.split(b"\n")
        values: list[int] | None = None
        if b"_" not in chunk:  # int() would accept 1_000
            try:
                values = [int(line) for line in lines]
            except ValueError:
                values = None
        if values is None or (values and min(values) < 0):
            values = []
            for line_no, line in enumerate(lines, first_line):
                text = line.strip()
                if not text or text == b"*" or (not lirs and text[:1] == b"#"):
                    continue
                if _DECIMAL.fullmatch(text):
                    values.append(int(text))
                elif not lirs and _HEX.fullmatch(text):
                    values.append(int(text, 16))
                else:
                    raise TraceError(
                        f"{src.path}:{line_no}: found {_show(text)}, expected {expected}"
                    )
        if values and max(values) > _INT64_MAX:
            index = next(i for i, v in enumerate(values) if v > _INT64_MAX)
            raise TraceError(
                f"{src.path}: line {first_line + index} or after: found page {values[index]}, "
                f"expected at most {_INT64_MAX}"
            )
        pages = np.array(values, dtype=np.int64)
        yield pages, np.zeros(len(pages), dtype=bool)


def _parse_text(src: _Source, **_: Any) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    return _parse_numbers(src, lirs=False)


def _parse_lirs(src: _Source, **_: Any) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    return _parse_numbers(src, lirs=True)


def _parse_ucsd(
    src: _Source, *, page_shift: int, **_: Any
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """`l|s 0xADDR SIZE`: page = ADDR >> page_shift (SIZE is checked, not used); `s` writes."""
    for first_line, chunk in _line_chunks(src):
        pages: list[int] = []
        writes: list[bool] = []
        for line_no, line in enumerate(chunk.split(b"\n"), first_line):
            text = line.strip()
            if not text:
                continue
            if not _UCSD.fullmatch(text):
                raise TraceError(
                    f"{src.path}:{line_no}: found {_show(text)}, expected 'l|s 0xADDR SIZE' "
                    "(l = load, s = store, hex address, decimal size)"
                )
            op, addr, _size = text.split()
            page = int(addr, 16) >> page_shift
            if page > _INT64_MAX:
                raise TraceError(f"{src.path}:{line_no}: address {_show(addr)} is too large")
            pages.append(page)
            writes.append(op in (b"s", b"S"))
        yield np.array(pages, dtype=np.int64), np.array(writes, dtype=bool)


def _parse_lackey(
    src: _Source, *, page_shift: int, instructions: bool, **_: Any
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """valgrind lackey `--trace-mem=yes`: I (fetch, optional), L (load), S (store), M (modify).

    M is one reference that writes. An access that crosses a page boundary references every
    page it touches, in address order. `==pid==` lines are valgrind's notes and are skipped.
    """
    for first_line, chunk in _line_chunks(src):
        pages: list[int] = []
        writes: list[bool] = []
        for line_no, line in enumerate(chunk.split(b"\n"), first_line):
            text = line.strip()
            if not text or text[:2] == b"==":
                continue
            if not _LACKEY.fullmatch(text):
                raise TraceError(
                    f"{src.path}:{line_no}: found {_show(text)}, expected a lackey line "
                    "'I  ADDR,SIZE' or ' L|S|M ADDR,SIZE' (hex address, decimal size)"
                )
            kind, access = text.split()
            if kind == b"I" and not instructions:
                continue
            addr_hex, size = access.split(b",")
            addr = int(addr_hex, 16)
            first = addr >> page_shift
            last = (addr + max(int(size), 1) - 1) >> page_shift
            if last > _INT64_MAX:
                raise TraceError(f"{src.path}:{line_no}: address {_show(addr_hex)} is too large")
            is_write = kind in (b"S", b"M")
            for page in range(first, last + 1):
                pages.append(page)
                writes.append(is_write)
        yield np.array(pages, dtype=np.int64), np.array(writes, dtype=bool)


def _parse_oracle(
    src: _Source, *, block_refs: int = 65536, **_: Any
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """libCacheSim oracleGeneral: little-endian 24-byte records; page = obj_id.

    obj_size and next_access_vtime are not used: each record is one page reference.
    """
    size = _ORACLE_RECORD.itemsize
    offset = 0
    tail = b""
    while True:
        data = src.read(block_refs * size)
        if not data:
            break
        data = tail + data
        whole = len(data) - len(data) % size
        records = np.frombuffer(data[:whole], dtype=_ORACLE_RECORD)
        tail = data[whole:]
        obj_id = records["obj_id"]
        too_big = np.flatnonzero(obj_id > _INT64_MAX)
        if too_big.size:
            at = offset + int(too_big[0]) * size + 4
            raise TraceError(
                f"{src.path}: {src.where(at)}: found obj_id {int(obj_id[too_big[0]])}, "
                f"expected a page number ≤ {_INT64_MAX}"
            )
        offset += whole
        yield obj_id.astype(np.int64), np.zeros(len(records), dtype=bool)
    if tail:
        raise TraceError(
            f"{src.path}: truncated at {src.where(offset)}: found {len(tail)} bytes of a "
            f"record, expected {_ORACLE_LAYOUT}"
        )


def _parse_csv(src: _Source, *, column: str, **_: Any) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """A header row, a column of page numbers (decimal or 0x-hex) and an optional `write`."""
    header: list[str] | None = None
    page_col = write_col = -1
    delimiter = ","
    for first_line, chunk in _line_chunks(src):
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
            if _DECIMAL.fullmatch(value):
                page = int(value)
            elif _HEX.fullmatch(value):
                page = int(value, 16)
            else:
                raise TraceError(
                    f"{src.path}:{line_no}: column '{header[page_col]}': found {_show(value)}, "
                    "expected a page number (decimal or 0x-hex)"
                )
            if page > _INT64_MAX:
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


def _parse_npz(
    src: _Source, *, block_refs: int = 65536, **_: Any
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """An .npz archive with `pages` (integers) and optionally `writes` (bools), read in pieces."""
    if not src.compression:
        yield from _read_npz(src.raw, src.path, block_refs)
        return
    # zipfile must seek: spill the decompressed archive to a temporary file, not to memory.
    with tempfile.TemporaryFile() as spill:
        while data := src.read(_CHUNK_BYTES):
            spill.write(data)
        spill.seek(0)
        yield from _read_npz(spill, src.path, block_refs)


def _read_npz(
    archive_file: BinaryIO, path: str, block_refs: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    try:
        with zipfile.ZipFile(archive_file) as archive, ExitStack() as members:
            names = {n.removesuffix(".npy") for n in archive.namelist()}
            if "pages" not in names:
                found = ", ".join(sorted(names)) or "(none)"
                raise TraceError(f"{path}: found arrays {found}, expected an array named 'pages'")
            pages, pages_type, count = _open_npy(archive, "pages", path, members)
            writes, writes_type, n_writes = pages, pages_type, count
            if "writes" in names:
                writes, writes_type, n_writes = _open_npy(archive, "writes", path, members)
                if n_writes != count:
                    raise TraceError(
                        f"{path}: found {n_writes} items in 'writes' and {count} in 'pages', "
                        "expected one write flag per page"
                    )
            if pages_type.kind not in "iu" or writes_type.kind not in "biu":
                raise TraceError(
                    f"{path}: found 'pages' of {pages_type} and 'writes' of {writes_type}, "
                    "expected integer pages and bool writes"
                )
            for start in range(0, count, block_refs):
                size = min(block_refs, count - start)
                block = np.frombuffer(pages.read(size * pages_type.itemsize), pages_type)
                if len(block) < size:
                    raise TraceError(f"{path}: 'pages' ends after {start + len(block)} items")
                bad = np.flatnonzero((block < 0) | (block > _INT64_MAX))
                if bad.size:
                    raise TraceError(
                        f"{path}: 'pages' item {start + int(bad[0])}: found {block[bad[0]]}, "
                        f"expected a page number from 0 to {_INT64_MAX}"
                    )
                flags = np.zeros(size, dtype=bool)
                if writes is not pages:
                    raw = np.frombuffer(writes.read(size * writes_type.itemsize), writes_type)
                    if len(raw) < size:
                        raise TraceError(f"{path}: 'writes' ends after {start + len(raw)} items")
                    flags = raw.astype(bool)
                yield block.astype(np.int64), flags
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise TraceError(f"{path}: found a damaged archive ({exc}), expected an .npz") from None


def _open_npy(
    archive: zipfile.ZipFile, name: str, path: str, members: ExitStack
) -> tuple[IO[bytes], np.dtype[Any], int]:
    """An npz member opened after its header: (stream, dtype, length); never unpickled."""
    member: IO[bytes] = members.enter_context(archive.open(f"{name}.npy"))
    try:
        version = np.lib.format.read_magic(member)
        read_header = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        shape, _fortran_order, dtype = read_header(member)
    except ValueError as exc:
        raise TraceError(f"{path}: array '{name}' has no valid .npy header: {exc}") from None
    if dtype.hasobject or len(shape) != 1:
        raise TraceError(
            f"{path}: found '{name}' of {dtype} with shape {shape}, expected a 1-D numeric "
            "array (object arrays are never unpickled)"
        )
    return member, dtype, int(shape[0])


_PARSERS: dict[str, Callable[..., Iterator[tuple[np.ndarray, np.ndarray]]]] = {
    "text": _parse_text,
    "lirs": _parse_lirs,
    "ucsd": _parse_ucsd,
    "lackey": _parse_lackey,
    "oracle": _parse_oracle,
    "csv": _parse_csv,
    "npz": _parse_npz,
}
