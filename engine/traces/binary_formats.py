"""Readers of binary traces: libCacheSim oracleGeneral records and numpy .npz archives.

Both are read in blocks, never whole; an .npz member is read after its header and never
unpickled.
"""

from __future__ import annotations

import tempfile
import tokenize
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import ExitStack
from typing import IO, Any, BinaryIO

import numpy as np

from engine.errors import TraceError
from engine.traces.compression import CHUNK_BYTES, INT64_MAX, Source

ORACLE_RECORD = np.dtype([("time", "<u4"), ("obj_id", "<u8"), ("size", "<u4"), ("next", "<i8")])
_ORACLE_LAYOUT = (
    "24-byte oracleGeneral records (uint32 time, uint64 obj_id, uint32 size, int64 next)"
)


def parse_oracle(
    src: Source, *, block_refs: int = 65536, **_: Any
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """libCacheSim oracleGeneral: little-endian 24-byte records; page = obj_id.

    obj_size and next_access_vtime are not used: each record is one page reference.
    """
    size = ORACLE_RECORD.itemsize
    offset = 0
    tail = b""
    while True:
        data = src.read(block_refs * size)
        if not data:
            break
        data = tail + data
        whole = len(data) - len(data) % size
        records = np.frombuffer(data[:whole], dtype=ORACLE_RECORD)
        tail = data[whole:]
        obj_id = records["obj_id"]
        too_big = np.flatnonzero(obj_id > INT64_MAX)
        if too_big.size:
            at = offset + int(too_big[0]) * size + 4
            raise TraceError(
                f"{src.path}: {src.where(at)}: found obj_id {int(obj_id[too_big[0]])}, "
                f"expected a page number ≤ {INT64_MAX}"
            )
        offset += whole
        yield obj_id.astype(np.int64), np.zeros(len(records), dtype=bool)
    if tail:
        raise TraceError(
            f"{src.path}: truncated at {src.where(offset)}: found {len(tail)} bytes of a "
            f"record, expected {_ORACLE_LAYOUT}"
        )


def parse_npz(
    src: Source, *, block_refs: int = 65536, **_: Any
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """An .npz archive with `pages` (integers) and optionally `writes` (bools), read in pieces."""
    if not src.compression:
        yield from _read_npz(src.raw, src.path, block_refs)
        return
    # zipfile must seek: spill the decompressed archive to a temporary file, not to memory.
    with tempfile.TemporaryFile() as spill:
        while data := src.read(CHUNK_BYTES):
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
                bad = np.flatnonzero((block < 0) | (block > INT64_MAX))
                if bad.size:
                    raise TraceError(
                        f"{path}: 'pages' item {start + int(bad[0])}: found {block[bad[0]]}, "
                        f"expected a page number from 0 to {INT64_MAX}"
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
    except (RuntimeError, NotImplementedError) as exc:
        # zipfile: an encrypted member, or a compression method it does not know.
        raise TraceError(
            f"{path}: found an archive member that cannot be read ({exc}), expected an "
            "unencrypted .npz (stored or deflated)"
        ) from None


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
    except (ValueError, SyntaxError, tokenize.TokenError) as exc:
        raise TraceError(f"{path}: array '{name}' has no valid .npy header: {exc}") from None
    if dtype.hasobject or len(shape) != 1:
        raise TraceError(
            f"{path}: found '{name}' of {dtype} with shape {shape}, expected a 1-D numeric "
            "array (object arrays are never unpickled)"
        )
    return member, dtype, int(shape[0])
