"""Opening a trace: gzip, xz and zstd undone by their magic bytes, and helpers every reader shares.

A `Source` reads decompressed bytes in pieces, so a large file is never loaded whole, and
stops with a TraceError once it has read more than its byte cap (counted as the bytes come,
so a compression bomb or /dev/zero ends early); it can also wrap an already open stream (a
pipe from valgrind), which is read as it is and bounded by its caller.
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
from engine.limits import MAX_TRACE_BYTES

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
    and `path` only names it in messages; its caller bounds it (capture stops at a reference
    count). A file is read up to `max_bytes` decompressed bytes (None: no cap).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        stream: BinaryIO | None = None,
        *,
        max_bytes: int | None = MAX_TRACE_BYTES,
    ) -> None:
        self.path = os.fspath(path)
        self.compression: str | None = None
        self.max_bytes = max_bytes if stream is None else None
        self.bytes_read = 0
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
        """Up to `size` decompressed bytes; b'' at the end; TraceError past the byte cap."""
        if self.max_bytes is not None:
            # One byte more than the cap may be read, so a file of exactly the cap passes.
            size = max(0, min(size, self.max_bytes + 1 - self.bytes_read))
            if size == 0:
                raise self._too_large()
        try:
            data = self._read(size)
        except self._errors as exc:
            try:
                offset = f"near compressed byte offset {self.raw.tell()}"
            except OSError:
                offset = "while reading"
            raise TraceError(
                f"{self.path}: {self.compression or 'file'} data is corrupt or truncated "
                f"{offset}: {exc}"
            ) from None
        self.bytes_read += len(data)
        if self.max_bytes is not None and self.bytes_read > self.max_bytes:
            raise self._too_large()
        return data

    def _too_large(self) -> TraceError:
        what = f"{self.compression}-decompressed " if self.compression else ""
        return TraceError(
            f"{self.path}: more than {self.max_bytes:,} bytes of {what}trace data; a trace "
            f"may hold at most {self.max_bytes:,} (cut it, or split it into several files)"
        )

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


# Compressed bytes handed to zstd at once. Its output has no cap, and zstd can expand a byte
# ~32,000-fold (a run of zeros), so small pieces keep one call's output within ~32 MiB.
_ZSTD_FEED_BYTES = 1024


class ZstdStream:
    """zstd frames decoded one after another; a file cut inside a frame is an error."""

    def __init__(self, raw: BinaryIO, zstd: Any) -> None:
        self._raw = raw
        self._zstd = zstd
        self._obj = zstd.ZstdDecompressor().decompressobj()
        self._fed = False
        self._out = bytearray()
        self._pending = b""  # compressed bytes read; those from `_at` on are not yet fed
        self._at = 0
        self._done = False

    def read(self, size: int) -> bytes:
        while len(self._out) < size and not self._done:
            if self._at >= len(self._pending):
                self._pending, self._at = self._raw.read(CHUNK_BYTES), 0
            if not self._pending:
                if self._fed and not self._obj.eof:
                    raise EOFError("compressed file ended before the end of a zstd frame")
                self._done = True
                break
            if self._obj.eof:
                self._obj = self._zstd.ZstdDecompressor().decompressobj()
            piece = self._pending[self._at : self._at + _ZSTD_FEED_BYTES]
            self._at += len(piece)
            self._out += self._obj.decompress(piece)
            self._fed = True
            if self._obj.eof and self._obj.unused_data:
                # A frame ended inside the piece: what follows it starts the next frame.
                self._pending = self._obj.unused_data + self._pending[self._at :]
                self._at = 0
        out = bytes(self._out[:size])
        del self._out[:size]
        return out
