"""vmswap capture: real captures under valgrind lackey, wrapper scripts, the .npz it writes."""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import subprocess
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.capture import (
    CaptureError,
    _Spill,
    capture,
    estimate,
    find_valgrind,
    read_capture_meta,
    resolve_program,
)
from engine.cli import main
from engine.errors import VmswapError
from engine.traces import read_trace
from engine.traces.compression import Source
from engine.traces.text_formats import _lackey_chunk_fast, _lackey_chunk_lines

VALGRIND = shutil.which("valgrind")
needs_valgrind = pytest.mark.skipif(VALGRIND is None, reason="valgrind is not installed")
TRUE = shutil.which("true") or "/bin/true"

# Writes one byte into each of N page-aligned pages of a static array, then reads them back.
TOUCH_C = r"""
#include <stdlib.h>
#define N 48
static volatile char buf[N][4096] __attribute__((aligned(4096)));
int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : N;
    long sum = 0;
    for (int i = 0; i < n && i < N; i++) buf[i][0] = (char)i;
    for (int i = 0; i < n && i < N; i++) sum += buf[i][0];
    return sum == -1;
}
"""


@pytest.fixture(scope="module")
def touch_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny real C program compiled for the test (skips without a C compiler)."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler (gcc or cc) to build the tiny test program")
    folder = tmp_path_factory.mktemp("touch")
    (folder / "touch.c").write_text(TOUCH_C)
    subprocess.run([cc, "-O1", "-o", str(folder / "touch"), str(folder / "touch.c")], check=True)
    return folder / "touch"


def script(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip())
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


# --- real captures ---------------------------------------------------------------------------


@needs_valgrind
def test_capture_records_every_page_a_real_program_writes(
    touch_binary: Path, tmp_path: Path
) -> None:
    """The 48 page-aligned pages the program writes are all in the trace, as writes."""
    out = tmp_path / "touch.npz"
    result = capture([str(touch_binary), "48"], out)
    trace = read_trace(out)
    assert trace.format == "npz" and len(trace) == result.references > 1000
    written = np.unique(trace.pages[trace.writes])
    assert (written[47:] - written[:-47] == 47).any(), "48 consecutive pages are written"
    assert result.exit_status == 0 and not result.truncated
    assert result.distinct_pages == len(np.unique(trace.pages))
    assert result.writes == int(trace.writes.sum())


@needs_valgrind
def test_capture_metadata_says_how_it_was_made(touch_binary: Path, tmp_path: Path) -> None:
    """meta holds the command, the binary traced, the page shift and counts, and no date."""
    out = tmp_path / "t.npz"
    capture([str(touch_binary), "4"], out, page_shift=13)
    meta = read_capture_meta(out)
    assert meta["command"] == [str(touch_binary), "4"]
    assert meta["traced"] == [os.path.realpath(touch_binary), "4"]
    assert meta["page_shift"] == 13 and meta["page_bytes"] == 8192
    assert meta["tool"] == "valgrind --tool=lackey --trace-mem=yes"
    assert meta["valgrind"].startswith("valgrind-")
    assert meta["references"] == len(read_trace(out))
    assert "sparse" in meta["pages"] and "compact" in meta["pages"]
    assert "20" not in meta["description"].split("valgrind")[0][-6:]  # no year, no date
    with zipfile.ZipFile(out) as archive:
        assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert sorted(archive.namelist()) == ["meta.npy", "pages.npy", "writes.npy"]


@needs_valgrind
def test_instruction_fetches_are_kept_and_marked(touch_binary: Path, tmp_path: Path) -> None:
    """--instructions adds the fetches, marked in a 'fetches' array that never writes."""
    plain, with_fetches = tmp_path / "d.npz", tmp_path / "i.npz"
    capture([str(touch_binary), "2"], plain)
    capture([str(touch_binary), "2"], with_fetches, instructions=True)
    with np.load(with_fetches) as archive:
        fetches, writes = archive["fetches"], archive["writes"]
    assert fetches.sum() > 0 and not (fetches & writes).any()
    data_refs = len(fetches) - int(fetches.sum())
    assert abs(data_refs - len(read_trace(plain))) < 0.01 * data_refs  # two runs, nearly alike


@needs_valgrind
def test_max_refs_stops_the_program_and_marks_the_trace(touch_binary: Path, tmp_path: Path) -> None:
    """--max-refs keeps exactly that many references and says the trace was cut."""
    out = tmp_path / "cut.npz"
    result = capture([str(touch_binary)], out, max_refs=1234)
    assert result.references == 1234 == len(read_trace(out)) and result.truncated
    meta = read_capture_meta(out)
    assert meta["truncated"] and meta["max_refs"] == 1234
    assert "stopped at max_refs=1,234" in meta["description"]


@needs_valgrind
def test_progress_is_reported_and_ends_at_the_total(touch_binary: Path, tmp_path: Path) -> None:
    """progress(references, seconds) is called with a growing count ending at the total."""
    seen: list[tuple[int, float]] = []
    result = capture(
        [str(touch_binary)], tmp_path / "p.npz", progress=lambda n, s: seen.append((n, s))
    )
    counts = [n for n, _ in seen]
    assert counts == sorted(counts) and counts[-1] == result.references
    assert all(s >= 0 for _, s in seen)


@needs_valgrind
def test_cli_capture_says_what_to_expect_and_what_it_wrote(
    touch_binary: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI prints the time estimate first and a summary last, on stderr; exit 0."""
    out = tmp_path / "cli.npz"
    assert main(["capture", "--out", str(out), "--", str(touch_binary), "3"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert "1,000×" in err[0] and "valgrind lackey" in err[0]
    assert err[-1].startswith(f"vmswap: wrote {out}:") and "references" in err[-1]
    assert read_trace(out).format == "npz"


@needs_valgrind
def test_cli_follows_a_wrapper_and_says_so(
    touch_binary: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A `exec "$(dirname "$0")/real" "$@"` wrapper is traced as the real binary, with a note."""
    shutil.copy(touch_binary, tmp_path / "real")
    wrapper = script(tmp_path / "run", '#!/bin/sh\nexec "$(dirname "$0")/real" "$@"\n')
    assert main(["capture", "--out", str(tmp_path / "w.npz"), "--", str(wrapper), "2"]) == 0
    err = capsys.readouterr().err
    assert "shell-script wrapper" in err
    assert read_capture_meta(tmp_path / "w.npz")["traced"] == [str(tmp_path / "real"), "2"]


@needs_valgrind
def test_a_failing_program_still_leaves_its_trace_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A program that exits non-zero: the trace is written, a warning, and exit status 1."""
    false = shutil.which("false") or "/bin/false"
    assert main(["capture", "--out", str(tmp_path / "f.npz"), "--", false]) == 1
    assert "exited with status 1" in capsys.readouterr().err
    assert len(read_trace(tmp_path / "f.npz")) > 0


# --- errors before anything runs -------------------------------------------------------------


def test_missing_valgrind_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without valgrind on PATH: one line naming it and how to install it, exit 2."""
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(CaptureError, match="valgrind not found"):
        find_valgrind()
    assert main(["capture", "--out", str(tmp_path / "x.npz"), "--", TRUE]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "apt-get install valgrind" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--", "no-such-program-vmswap"], "not found on PATH"),
        (["--", "/no/such/program"], "no such program"),
        ([], "no program given"),
        (["--page-shift", "99", "--", TRUE], "--page-shift"),
        (["--max-refs", "0", "--", TRUE], "--max-refs"),
    ],
)
def test_cli_errors_are_one_line_exit_2(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing program or a bad flag: exit 2 with one line, before valgrind starts."""
    assert main(["capture", "--out", str(tmp_path / "x.npz"), *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not (tmp_path / "x.npz").exists()


def test_missing_output_folder_is_caught_before_the_capture(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--out in a folder that does not exist: exit 2 at once, naming the folder."""
    assert main(["capture", "--out", str(tmp_path / "no" / "x.npz"), "--", TRUE]) == 2
    assert "no such directory" in capsys.readouterr().err


# --- finding the real binary -----------------------------------------------------------------


def test_an_elf_on_path_is_found_and_symlinks_followed(tmp_path: Path) -> None:
    """A name is looked up on PATH; a symlink is followed to the binary, with a note."""
    link = tmp_path / "mytrue"
    link.symlink_to(os.path.realpath(TRUE))
    program = resolve_program(str(link), ["a", "b"])
    assert program.argv == (os.path.realpath(TRUE), "a", "b")
    assert any("symlink" in n for n in program.notes)
    assert resolve_program("true").argv[0] == os.path.realpath(TRUE)


@pytest.mark.parametrize(
    "exec_line",
    [
        'exec "$(dirname "$0")/real" --fixed "$@"',
        'exec `dirname $0`/real --fixed "$@"',
        'exec "${0%/*}/real" --fixed "$@"',
        'exec "$(dirname "$0")"/real --fixed "${@}"',
    ],
)
def test_shell_wrapper_exec_patterns_are_followed(tmp_path: Path, exec_line: str) -> None:
    """Common `exec …/real ARGS "$@"` wrappers lead to the real binary, its fixed args first."""
    (tmp_path / "real").symlink_to(os.path.realpath(TRUE))
    wrapper = script(
        tmp_path / "tool", f"#!/bin/sh\n# a wrapper\nset -e\nexport X=1\n{exec_line}\n"
    )
    program = resolve_program(str(wrapper), ["user-arg"])
    assert program.argv == (os.path.realpath(TRUE), "--fixed", "user-arg")
    assert any("shell-script wrapper" in n for n in program.notes)


def test_a_wrapper_naming_a_program_on_path_is_followed(tmp_path: Path) -> None:
    """gunzip-style `exec gzip -d "$@"` under #!/usr/bin/env bash: PROG is looked up on PATH."""
    wrapper = script(tmp_path / "untrue", '#!/usr/bin/env bash\nexec true -d "$@"\n')
    assert resolve_program(str(wrapper), ["f"]).argv == (os.path.realpath(TRUE), "-d", "f")


@pytest.mark.parametrize(
    "body",
    [
        'echo hello\n"$@"\n',  # no exec
        'exec "$REAL" "$@"\n',  # a variable we cannot know
        'if [ -n "$DEBUG" ]; then\n  exec ./a-debug "$@"\nfi\nexec ./a "$@"\n',  # two
        '[ -x ./a ] && exec ./a "$@"\nexec ./b "$@"\n',  # an exec inside a longer line
        "exec ./real\n",  # arguments not passed on: not a plain wrapper
    ],
)
def test_other_shell_scripts_ask_for_the_real_binary(tmp_path: Path, body: str) -> None:
    """A shell script that is not a plain wrapper: CaptureError saying so and what to pass."""
    wrapper = script(tmp_path / "tool.sh", "#!/bin/bash\n" + body)
    with pytest.raises(CaptureError, match="is a shell script") as info:
        resolve_program(str(wrapper))
    assert "Pass the real binary" in str(info.value) and isinstance(info.value, VmswapError)


def test_a_wrapper_loop_ends_with_an_error(tmp_path: Path) -> None:
    """Wrappers that exec each other: an error after a few levels, not a hang."""
    script(tmp_path / "a", '#!/bin/sh\nexec "$(dirname "$0")/b" "$@"\n')
    script(tmp_path / "b", '#!/bin/sh\nexec "$(dirname "$0")/a" "$@"\n')
    with pytest.raises(CaptureError, match="wrappers deep"):
        resolve_program(str(tmp_path / "a"))


def test_a_script_for_another_interpreter_traces_the_interpreter(tmp_path: Path) -> None:
    """A #! script for a non-shell interpreter runs as INTERPRETER SCRIPT ARGS, with a note."""
    interp = os.path.realpath(TRUE)
    prog = script(tmp_path / "prog", f"#!{interp} -x\nbody\n")
    program = resolve_program(str(prog), ["y"])
    assert program.argv == (interp, "-x", str(prog), "y")
    assert any("tracing the interpreter" in n for n in program.notes)


@pytest.mark.parametrize("kind", ["data", "directory", "not-executable"])
def test_things_that_are_not_programs(tmp_path: Path, kind: str) -> None:
    """Plain data, a directory or a file without x permission: a CaptureError naming it."""
    path = tmp_path / "thing"
    if kind == "directory":
        path.mkdir()
    else:
        path.write_bytes(b"\x00\x01 not a program")
        if kind == "data":
            path.chmod(0o755)
    with pytest.raises(CaptureError, match="thing"):
        resolve_program(str(path))


def test_estimate_mentions_the_slowdown_and_the_cap() -> None:
    """The estimate says ~1000× and, with max_refs, how long that cap takes."""
    program = resolve_program(TRUE)
    assert "1,000×" in estimate(program, None)
    assert "stops after 2,000,000 references" in estimate(program, 2_000_000)


# --- the .npz written ------------------------------------------------------------------------


def test_npz_writer_is_deterministic_and_readable(tmp_path: Path) -> None:
    """The same references and metadata give the same bytes; np.load and read_trace agree."""
    pages = np.array([5, 1 << 35, 5, 7], dtype=np.int64)
    writes = np.array([True, False, False, True])
    fetches = np.array([False, False, True, False])
    outs = []
    for name in ("a.npz", "b.npz"):
        spill = _Spill(str(tmp_path), instructions=True)
        spill.add(pages, writes, fetches)
        spill.write_npz(str(tmp_path / name), {"x": 1, "w": "é"})
        outs.append((tmp_path / name).read_bytes())
    assert outs[0] == outs[1]
    trace = read_trace(tmp_path / "a.npz")
    assert trace.pages.tolist() == pages.tolist() and trace.writes.tolist() == writes.tolist()
    with np.load(tmp_path / "a.npz", allow_pickle=False) as archive:
        assert archive["fetches"].tolist() == fetches.tolist()
        assert json.loads(str(archive["meta"][()])) == {"w": "é", "x": 1}
    assert read_capture_meta(tmp_path / "a.npz") == {"w": "é", "x": 1}


# --- the chunked lackey parser the capture streams through -----------------------------------

LINE = st.one_of(
    st.tuples(
        st.sampled_from(["I  ", " L ", " S ", " M ", "L\t", "  S  "]),
        st.integers(0, (1 << 48) - 1),
        st.integers(0, 70_000),
    ).map(lambda t: f"{t[0]}{t[1]:08x},{t[2]}"),
    st.sampled_from(["", "   ", "==123== Command: x", "  ==9== note", "\r"]),
)


@settings(max_examples=150, deadline=None)
@given(
    lines=st.lists(LINE, max_size=40), shift=st.sampled_from([0, 4, 12, 21]), fetch=st.booleans()
)
def test_whole_chunk_lackey_parser_equals_line_by_line(
    lines: list[str], shift: int, fetch: bool
) -> None:
    """The regex/numpy fast path gives exactly the references of the line-by-line parser."""
    chunk = "\n".join(lines).encode()
    fast = _lackey_chunk_fast(chunk, shift, fetch)
    slow = _lackey_chunk_lines(Source("chunk", stream=io.BytesIO()), 1, chunk, shift, fetch)
    if fast is None:
        return  # declined (huge size): the line-by-line parser is used instead
    for a, b in zip(fast, slow, strict=True):
        assert a.tolist() == b.tolist()


def test_fast_lackey_parser_declines_a_bad_line() -> None:
    """A malformed line makes the fast path decline, so the line parser can name it."""
    assert _lackey_chunk_fast(b" L 10,4\n L zz,4\n", 12, False) is None
    assert _lackey_chunk_fast(b" L 10,4\n\n==1== x\nI  20,3", 12, False) is not None
