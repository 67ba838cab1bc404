"""Numba's on-disk cache made safe against edits of a kernel's callees.

numba keys a cached kernel by its own file's timestamp only: after an edit of a function it
calls in another file (device_time.py, stream_fault.py, …) or of a constant it reads
(engine/page_states.py), the caller's cached machine code still holds the old callee. So the
cache is tied to a fingerprint of every source the kernels compile from, and of numba's
installation: where the fingerprint stored beside the cache differs, the cached kernels are
removed once, before any is loaded, and numba compiles afresh (what `make install` then
writes ahead of time with `python -m engine.hotpath.warm`)."""

from __future__ import annotations

import hashlib
import os
from importlib.util import find_spec
from pathlib import Path

HOTPATH_DIR = Path(__file__).resolve().parent
CACHE_DIR = HOTPATH_DIR / "__pycache__"
STAMP = CACHE_DIR / "kernel-sources.sha256"
# The sources compiled into the kernels: the hot path itself and the page-state constants.
SOURCES = (*sorted(HOTPATH_DIR.glob("*.py")), HOTPATH_DIR.parent / "page_states.py")
CACHED_SUFFIXES = (".nbi", ".nbc")


def _numba_install() -> bytes:
    """Where numba is installed and when (a reinstall or upgrade changes it), found without
    importing numba or importlib.metadata (each costs a command's start-up time). The real
    path: one environment reached through a symlink (a linked .venv) is still one install,
    and two fingerprints of it would have each process drop the other's kernels."""
    spec = find_spec("numba")
    origin = os.path.realpath(spec.origin) if spec is not None and spec.origin else ""
    try:
        return f"{origin}:{os.stat(origin).st_mtime_ns}".encode()
    except OSError:
        return origin.encode()


def fingerprint() -> str:
    """sha256 of numba's installation and every kernel source (name and bytes)."""
    digest = hashlib.sha256(_numba_install())
    for path in SOURCES:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def drop_stale_kernels() -> bool:
    """Remove the cached kernels if they were compiled from other sources; True if removed.
    Harmless where the cache cannot be written (numba then compiles in memory): nothing to
    remove, nothing stored."""
    now = fingerprint()
    try:
        if STAMP.read_text() == now:
            return False
    except OSError:
        pass
    removed = False
    try:
        CACHE_DIR.mkdir(exist_ok=True)  # stamped before numba first writes there
        for entry in CACHE_DIR.iterdir():
            if entry.suffix in CACHED_SUFFIXES:
                entry.unlink(missing_ok=True)
                removed = True
        # Written whole under a temporary name, then renamed: a reader sees old or new.
        tmp = STAMP.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(now)
        tmp.replace(STAMP)
    except OSError:
        return removed
    return removed
