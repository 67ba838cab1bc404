"""Capturing the page references of a real program with valgrind lackey, into a compact .npz.

lackey's `--trace-mem=yes` output is read from a pipe as it is produced and parsed in chunks,
so a capture never holds the text (gigabytes for a second of native run time) anywhere; the
references are spilled to temporary files and written at the end as one deterministic .npz.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np

from engine.errors import VmswapError
from engine.traces.compression import CHUNK_BYTES, Source
from engine.traces.text_formats import lackey_parts

CAPTURE_FORMAT = "vmswap-capture/1"
LACKEY_ARGS = ("--tool=lackey", "--trace-mem=yes")
SHELLS = frozenset({"sh", "bash", "dash", "ash", "ksh", "mksh", "zsh", "busybox"})
# What lackey typically achieves here, for the estimate printed before a capture starts.
TYPICAL_REFS_PER_S = (50_000, 200_000)
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # a fixed member date: the same capture gives the same bytes
_DIR_OF_0 = re.compile(
    r'"\$\(dirname\s+"?\$0"?\)"|\$\(dirname\s+"?\$0"?\)|`dirname\s+"?\$0"?`'
    r'|"\$\{0%/\*\}"|\$\{0%/\*\}'
)
_MAX_WRAPPERS = 4

Progress = Callable[[int, float], None]


class CaptureError(VmswapError):
    """A capture cannot start or produced nothing: no valgrind, no program, a wrapper script."""


@dataclass(frozen=True)
class Program:
    """What valgrind will run: an ELF binary and its arguments, and how it was found."""

    argv: tuple[str, ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class CaptureResult:
    """A finished capture: where it went and what it holds."""

    path: str
    references: int
    distinct_pages: int
    writes: int
    fetches: int
    truncated: bool
    exit_status: int
    seconds: float
    meta: dict[str, Any] = field(default_factory=dict)


def find_valgrind(valgrind: str | None = None) -> str:
    """The valgrind executable (`valgrind` on PATH unless given), or a CaptureError."""
    name = valgrind or "valgrind"
    found = shutil.which(name)
    if found is None:
        raise CaptureError(
            f"{name}: valgrind not found on PATH; install it (e.g. apt-get install valgrind)"
        )
    return found


def resolve_program(program: str, args: Sequence[str] = ()) -> Program:
    """The ELF binary behind `program` (PATH, symlinks, shell wrappers), with its arguments.

    A shell-script wrapper is followed when its only exec is one `exec PROG ARGS "$@"` line
    (PROG may be `"$(dirname "$0")/name"`); any other shell script is a CaptureError asking
    for the real binary. A script for another interpreter (python, perl…) is traced as its
    interpreter running it.
    """
    notes: list[str] = []
    argv = [program, *args]
    for _ in range(_MAX_WRAPPERS + 1):
        invoked = _locate(argv[0])
        real = os.path.realpath(invoked)
        if real != invoked:
            notes.append(f"{invoked} is a symlink to {real}")
        head = _read_head(real)
        if head.startswith(b"\x7fELF"):
            return Program((real, *argv[1:]), tuple(notes))
        if not head.startswith(b"#!"):
            raise CaptureError(
                f"{real}: neither an ELF binary nor a #! script; valgrind needs a program "
                "it can run"
            )
        interpreter = _shebang(head, real)
        if os.path.basename(interpreter[0]) in SHELLS or _env_target(interpreter) in SHELLS:
            followed = _follow_shell_wrapper(invoked, real)
            notes.append(
                f'{invoked} is a shell-script wrapper running {shlex.join(followed)} "$@"; '
                "tracing that program instead (whatever else the script does, such as setting "
                "variables, is not repeated)"
            )
            argv = [*followed, *argv[1:]]
        else:
            notes.append(
                f"{invoked} is a script for {shlex.join(interpreter)}: "
                "tracing the interpreter running it"
            )
            argv = [*interpreter, real, *argv[1:]]
    raise CaptureError(f"{program}: more than {_MAX_WRAPPERS} wrappers deep; pass the binary")


def _locate(program: str) -> str:
    if os.sep in program:
        path = os.path.abspath(program)
        if not os.path.exists(path):
            raise CaptureError(f"{program}: no such program")
    else:
        found = shutil.which(program)
        if found is None:
            raise CaptureError(f"{program}: program not found on PATH")
        path = os.path.abspath(found)
    if os.path.isdir(path):
        raise CaptureError(f"{program}: is a directory, expected a program")
    if not os.access(path, os.X_OK):
        raise CaptureError(f"{program}: not executable (no x permission)")
    return path


def _read_head(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(512)
    except OSError as exc:
        raise CaptureError(f"{path}: cannot read: {exc.strerror}") from None


def _shebang(head: bytes, path: str) -> list[str]:
    line = head[2:].split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    parts = line.split()
    if not parts:
        raise CaptureError(f"{path}: a #! line without an interpreter")
    return parts


def _env_target(interpreter: list[str]) -> str:
    """The program `#!/usr/bin/env [-S] NAME` runs, or ''."""
    if os.path.basename(interpreter[0]) != "env":
        return ""
    rest = [p for p in interpreter[1:] if not p.startswith("-") and "=" not in p]
    return os.path.basename(rest[0]) if rest else ""


def _follow_shell_wrapper(invoked: str, real: str) -> list[str]:
    """PROG and fixed ARGS of the script's one `exec PROG ARGS "$@"`, else a CaptureError."""
    try:
        with open(real, encoding="utf-8", errors="replace") as f:
            text = f.read(1 << 20)
    except OSError as exc:
        raise CaptureError(f"{real}: cannot read: {exc.strerror}") from None
    here = shlex.quote(os.path.dirname(invoked))
    found: list[list[str]] = []
    exec_lines: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#") or not re.search(r"\bexec\b", line):
            continue
        exec_lines.append(line)
        if not line.startswith(("exec ", "exec\t")):
            continue
        try:
            tokens = shlex.split(_DIR_OF_0.sub(lambda _: here, line), comments=True)[1:]
        except ValueError:
            continue
        if len(tokens) < 2 or tokens[-1] not in ("$@", "${@}"):
            continue
        if any("$" in t or "`" in t for t in tokens[:-1]) or tokens[0].startswith("-"):
            continue
        if tokens[:-1] not in found:
            found.append(tokens[:-1])
    if len(found) == 1 and len(exec_lines) == 1:
        return found[0]
    seen = "; ".join(exec_lines[:3]) if exec_lines else "no exec line"
    where = f" ({real})" if real != invoked else ""
    raise CaptureError(
        f"{invoked} is a shell script{where}, not a program: valgrind would trace the shell "
        f"interpreting it. Pass the real binary it runs instead (found: {seen})"
    )


def estimate(program: Program, max_refs: int | None) -> str:
    """What to expect before a capture starts: lackey is ~1000× slower than a native run."""
    lo, hi = TYPICAL_REFS_PER_S
    text = (
        f"tracing {shlex.join(program.argv)} under valgrind lackey: expect about 1,000× its "
        f"native run time or more (a 10 ms run takes ~10 s to a minute; lackey records "
        f"~{lo // 1000}–{hi // 1000} k references a second)"
    )
    if max_refs is not None:
        fast, slow = _duration(max_refs / hi), _duration(max_refs / lo)
        text += (
            f"; stops after {max_refs:,} references (~{fast if fast == slow else f'{fast}–{slow}'})"
        )
    return text


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def capture(
    command: Sequence[str],
    out: str | os.PathLike[str],
    *,
    page_shift: int = 12,
    instructions: bool = False,
    max_refs: int | None = None,
    valgrind: str | None = None,
    progress: Progress | None = None,
    program: Program | None = None,
) -> CaptureResult:
    """Run `command` under valgrind lackey and write its page references to the .npz `out`.

    `progress(references, seconds)` is called as the trace grows. `max_refs` stops the
    program once that many references are recorded (the trace is then marked truncated).
    The program's own stdin, stdout and stderr are this process's.
    """
    if not command:
        raise CaptureError("no program to capture: give PROGRAM [ARGS...] after --")
    if isinstance(page_shift, bool) or not 0 <= page_shift <= 40:
        raise CaptureError(f"page_shift must be a whole number from 0 to 40, got {page_shift!r}")
    if max_refs is not None and (isinstance(max_refs, bool) or max_refs < 1):
        raise CaptureError(f"max_refs must be a whole number ≥ 1, got {max_refs!r}")
    tool = find_valgrind(valgrind)
    program = program or resolve_program(command[0], command[1:])
    out_path = check_output(out)
    version = _valgrind_version(tool)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="vmswap-capture-") as spill_dir:
        spill = _Spill(spill_dir, instructions)
        status, truncated = _run_lackey(
            tool, program, spill, page_shift, instructions, max_refs, progress, started
        )
        seconds = time.monotonic() - started
        if spill.count == 0:
            raise CaptureError(
                f"valgrind recorded no memory references of {program.argv[0]} "
                f"(exit status {status}); see valgrind's messages above"
            )
        distinct = spill.distinct()
        meta: dict[str, Any] = {
            "format": CAPTURE_FORMAT,
            "tool": "valgrind " + " ".join(LACKEY_ARGS),
            "valgrind": version,
            "command": list(command),
            "traced": list(program.argv),
            "page_shift": page_shift,
            "page_bytes": 1 << page_shift,
            "instructions": instructions,
            "references": spill.count,
            "distinct_pages": distinct,
            "writes": spill.writes,
            "fetches": spill.fetches,
            "truncated": truncated,
            "max_refs": max_refs,
            "exit_status": status,
            "pages": "virtual page numbers (address >> page_shift) of the traced process, "
            "sparse; a trace workload with compact = true maps them onto dense ids",
        }
        meta["description"] = describe(meta)
        spill.write_npz(out_path, meta)
    return CaptureResult(
        out_path,
        spill.count,
        distinct,
        spill.writes,
        spill.fetches,
        truncated,
        status,
        seconds,
        meta,
    )


def check_output(out: str | os.PathLike[str]) -> str:
    """`out` as a path whose folder exists, else a CaptureError (checked before a capture)."""
    out_path = os.fspath(out)
    out_dir = os.path.dirname(os.path.abspath(out_path))
    if not os.path.isdir(out_dir):
        raise CaptureError(f"{out_path}: no such directory {out_dir}")
    if os.path.isdir(out_path):
        raise CaptureError(f"{out_path}: is a directory, expected a file name such as trace.npz")
    return out_path


def describe(meta: dict[str, Any]) -> str:
    """One date-free line saying what a capture holds and how it was made."""
    what = "data references and instruction fetches" if meta["instructions"] else "data references"
    cut = f", stopped at max_refs={meta['max_refs']:,}" if meta["truncated"] else ""
    return (
        f"{meta['references']:,} {what} ({meta['distinct_pages']:,} distinct "
        f"{meta['page_bytes']}-byte pages, {meta['writes']:,} writes{cut}) of "
        f"`{shlex.join(meta['command'])}` traced by {meta['valgrind']} "
        f"{meta['tool'].removeprefix('valgrind ')}"
    )


def _valgrind_version(tool: str) -> str:
    try:
        done = subprocess.run(
            [tool, "--version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CaptureError(f"{tool}: cannot run valgrind: {exc}") from None
    return done.stdout.strip() or "valgrind (unknown version)"


def _run_lackey(
    tool: str,
    program: Program,
    spill: _Spill,
    page_shift: int,
    instructions: bool,
    max_refs: int | None,
    progress: Progress | None,
    started: float,
) -> tuple[int, bool]:
    """Run valgrind with its log on a pipe, parse as it comes; (exit status, truncated)."""
    read_fd, write_fd = os.pipe()
    try:
        proc = subprocess.Popen(
            [tool, *LACKEY_ARGS, f"--log-fd={write_fd}", *program.argv], pass_fds=(write_fd,)
        )
    except OSError as exc:
        os.close(read_fd)
        raise CaptureError(f"{tool}: cannot start valgrind: {exc}") from None
    finally:
        os.close(write_fd)
    truncated = False
    try:
        with (
            os.fdopen(read_fd, "rb", buffering=CHUNK_BYTES) as pipe,
            Source(f"valgrind output for {program.argv[0]}", stream=pipe) as src,
        ):
            for pages, writes, fetches in lackey_parts(
                src, page_shift=page_shift, instructions=instructions
            ):
                if max_refs is not None and spill.count + len(pages) >= max_refs:
                    keep = max_refs - spill.count
                    spill.add(pages[:keep], writes[:keep], fetches[:keep])
                    truncated = True
                    break
                spill.add(pages, writes, fetches)
                if progress is not None:
                    progress(spill.count, time.monotonic() - started)
        if truncated and proc.poll() is None:
            proc.kill()  # the pipe is closed; stop the program rather than let it run on
        status = proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if progress is not None:
        progress(spill.count, time.monotonic() - started)
    return status, truncated


class _Spill:
    """References so far, in temporary files on disk rather than in memory."""

    def __init__(self, folder: str, instructions: bool) -> None:
        self.instructions = instructions
        self.files = {
            "pages": open(os.path.join(folder, "pages"), "w+b"),  # noqa: SIM115
            "writes": open(os.path.join(folder, "writes"), "w+b"),  # noqa: SIM115
            "fetches": open(os.path.join(folder, "fetches"), "w+b"),  # noqa: SIM115
        }
        self.count = self.writes = self.fetches = 0
        self._seen: list[np.ndarray] = []

    def add(self, pages: np.ndarray, writes: np.ndarray, fetches: np.ndarray) -> None:
        if not len(pages):
            return
        self.files["pages"].write(pages.astype("<i8").tobytes())
        self.files["writes"].write(writes.astype(bool).tobytes())
        self.files["fetches"].write(fetches.astype(bool).tobytes())
        self.count += len(pages)
        self.writes += int(writes.sum())
        self.fetches += int(fetches.sum())
        self._seen.append(np.unique(pages))
        if len(self._seen) >= 64:
            self._seen = [np.unique(np.concatenate(self._seen))]

    def distinct(self) -> int:
        return len(np.unique(np.concatenate(self._seen))) if self._seen else 0

    def _chunks(self, name: str, itemsize: int) -> Iterator[bytes]:
        f = self.files[name]
        f.flush()
        f.seek(0)
        while data := f.read(CHUNK_BYTES * itemsize):
            yield data

    def write_npz(self, out: str, meta: dict[str, Any]) -> None:
        """pages, writes, [fetches] and meta (JSON) as an .npz, atomically replacing `out`."""
        members: list[tuple[str, np.dtype[Any], int, Iterator[bytes]]] = [
            ("pages", np.dtype("<i8"), self.count, self._chunks("pages", 8)),
            ("writes", np.dtype(bool), self.count, self._chunks("writes", 1)),
        ]
        if self.instructions:
            members.append(("fetches", np.dtype(bool), self.count, self._chunks("fetches", 1)))
        text = np.array(json.dumps(meta, sort_keys=True))
        members.append(("meta", text.dtype, -1, iter([text.tobytes()])))
        part = f"{out}.part"
        try:
            with zipfile.ZipFile(part, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
                for name, dtype, count, chunks in members:
                    _write_member(archive, name, dtype, count, chunks)
            os.replace(part, out)
        except OSError as exc:
            raise CaptureError(f"{out}: cannot write the trace: {exc.strerror}") from None
        finally:
            for f in self.files.values():
                f.close()
            if os.path.exists(part):
                os.unlink(part)


def _write_member(
    archive: zipfile.ZipFile, name: str, dtype: np.dtype[Any], count: int, chunks: Iterator[bytes]
) -> None:
    """One .npy member (count -1: a 0-d array), streamed, with a fixed date."""
    info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    header = {
        "descr": np.lib.format.dtype_to_descr(dtype),
        "fortran_order": False,
        "shape": () if count < 0 else (count,),
    }
    member: IO[bytes]
    with archive.open(info, "w", force_zip64=True) as member:
        np.lib.format.write_array_header_1_0(member, header)
        for data in chunks:
            member.write(data)


def read_capture_meta(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The metadata a capture stored with its trace ({} for an .npz without it)."""
    try:
        with np.load(os.fspath(path), allow_pickle=False) as archive:
            if "meta" not in archive.files:
                return {}
            meta = json.loads(str(archive["meta"][()]))
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise CaptureError(f"{os.fspath(path)}: cannot read capture metadata: {exc}") from None
    return meta if isinstance(meta, dict) else {}
