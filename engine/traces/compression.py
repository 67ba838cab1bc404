"""Opening a trace: gzip, xz and zstd undone by their magic bytes, and helpers every reader shares.

A `Source` reads decompressed bytes in pieces, so a large file is never loaded whole; it can
also wrap an already open stream (a pipe from valgrind), which is read as it is.
"""

from __future__ import annotations

import gzip
import lzma
import os
import zlib
from collections.abc import Callable
from typing import Any, BinaryIO

import numpy as np

from engine.errors import TraceError

MAGIC = {b"\x1f\x8b": "gzip", b"\xfd7zXZ\x00": "xz", b"\x28\xb5\x2f\xfd": "zstd"}
INT64_MAX = int(np.iinfo(np.int64).max)
CHUNK_BYTES = 1 << 18


def show(raw: bytes, limit: int = 40) -> str:
    """`raw` as a short quoted string for an error message."""
    text = raw.decode("utf-8", errors="replace")
    return repr(text if len(text) <= limit else text[:limit] + "…")


class Source:
    """A trace file opened for reading, decompressed according to its magic bytes.

    With `stream`, bytes come from that open binary stream (not seekable, not decompressed)
    and `path` only names it in messages.
    """

    def __init__(self, path: str | os.PathLike[str], stream: BinaryIO | None = None) -> None:
        self.path = os.fspath(path)
        self.compression: str | None = None
        self._errors: tuple[type[BaseException], ...] = (EOFError, OSError, zlib.error)
        self._read: Callable[[int], bytes]
        self.raw: BinaryIO
        if stream is not None:
            self.raw = stream
            self._read = stream.read
            return
        try:
            self.raw = open(self.path, "rb")  # noqa: SIM115 - closed by __exit__
        except FileNotFoundError:
            raise TraceError(f"{self.path}: no such trace file") from None
        except OSError as exc:
            raise TraceError(f"{self.path}: cannot open trace file: {exc.strerror}") from None
        head = self.raw.read(6)
        self.raw.seek(0)
        self.compression = next((c for m, c in MAGIC.items() if head.startswith(m)), None)
        if self.compression == "gzip":
            self._read = gzip.GzipFile(fileobj=self.raw).read
        elif self.compression == "xz":
            self._read = lzma.LZMAFile(self.raw).read  # noqa: SIM115 - closes with raw
            self._errors += (lzma.LZMAError,)
        elif self.compression == "zstd":
            zstd = import_zstandard(self.path)
            self._read = ZstdStream(self.raw, zstd).read
            self._errors += (zstd.ZstdError,)
        else:
            self._read = self.raw.read

    def read(self, size: int) -> bytes:
        """Up to `size` decompressed bytes; b'' at the end."""
        try:
            return self._read(size)
        except self._errors as exc:
            try:
                offset = f"near compressed byte offset {self.raw.tell()}"
            except OSError:
                offset = "while reading"
            raise TraceError(
                f"{self.path}: {self.compression or 'file'} data is corrupt or truncated "
                f"{offset}: {exc}"
            ) from None

    def where(self, offset: int) -> str:
        """'byte offset N', saying when N counts decompressed bytes."""
        suffix = f" of the {self.compression}-decompressed data" if self.compression else ""
        return f"byte offset {offset}{suffix}"

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.raw.close()


def import_zstandard(path: str) -> Any:
    """The zstandard module, or a TraceError naming the file that needs it."""
    try:
        import zstandard
    except ImportError:
        raise TraceError(
            f"{path}: zstd-compressed, but the 'zstandard' package is not installed"
        ) from None
    return zstandard


class ZstdStream:
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
            data = self._raw.read(CHUNK_BYTES)
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
