"""The budget's numbers: every size a user can ask of one command, one run or one server session.

One place so that a file, `--set`, a share link, an upload and a command-line flag meet the
same limits. The checks live next to what they guard (`engine.scenario.budget` for scenarios,
`engine.replay` for replays, `engine.traces` for trace streams, `toml_depth` here for parsed
text); each refusal is one line naming the limit, raised before the work allocates anything.
"""

from __future__ import annotations

import re

# -- a scenario ---------------------------------------------------------------------------------
MAX_GUEST_PAGES = 64 * 1024 * 1024  # 256 GiB of 4 KiB pages: ~1.5 GiB of page arrays
# References a scenario may ask for: vCPUs x duration / cpu_ns_per_ref, an upper bound of what
# a run makes. Its cost, timed here on short runs (CPU time of one core per estimated reference)
# and extrapolated: 50-230 ns when the VMs' memory fits or faults are rare, so 0.1-0.6 h at this
# limit; 2,100-3,400 ns when 16 VMs fault steadily on a host overcommitted 2x (uniform pages,
# zram; the 400 -> 800 ms step costs the most), so 6-10 h. Not half an hour: a run this large
# belongs to `vmswap run`, never to the web app.
MAX_WORK_REFS = 10_000_000_000
# What a recording may hold (keyframes, deltas at their worst, per-frame counters), estimated
# from the scenario before the run starts; the web app records every run it shows.
MAX_RECORDING_BYTES = 512 * 1024 * 1024
MAX_RECORDED_FRAMES = 4096  # longer runs are recorded at a coarser frame period

# -- a trace read from a file or a device -------------------------------------------------------
# Decompressed bytes read from one trace file (512 MiB, as for an upload to the web app): 50 M
# page numbers of up to 9 digits as text, or 21 M oracleGeneral records or lackey lines.
MAX_TRACE_BYTES = 512 * 1024 * 1024
MAX_TRACE_REFS = 50_000_000  # references kept from one trace file (~450 MB of arrays)

# -- a textbook replay (`vmswap replay`, `vmswap mrc`) ------------------------------------------
# References replayed in all by one command (every frame count of a curve counts): the
# compiled replay makes 36-180 M references per CPU second here (opt slowest, fifo fastest:
# benchmarks/replay_speed.py), so this is 5 to 30 seconds.
MAX_REPLAY_REFS = 1_000_000_000
MAX_MRC_POINTS = 10_000  # frame counts on one miss-ratio curve (rows of its table)
# Whole-stream algorithms (Belady's MIN, LRU stack distances) hold ~100 bytes per reference.
MAX_WHOLE_STREAM_REFS = 20_000_000

# -- parsed text --------------------------------------------------------------------------------
# A scenario or sweep file: a 256-VM scenario is ~60 KB; tomllib reads ~3 MB a second here.
MAX_TOML_BYTES = 1024 * 1024
MAX_TOML_DEPTH = 64  # nested arrays and inline tables in a TOML file or a --set value

# A TOML token that may hold brackets without nesting anything: strings and comments. Loops
# are unrolled and possessive, so a 10 MB string is one match, not 10 M saved states.
_TOML_SKIP = re.compile(
    r'"""[^"\\]*+(?:(?:\\.|"(?!""))[^"\\]*+)*+"""'  # multi-line basic string
    r"|'''.*?'''"  # multi-line literal string
    r'|"[^"\\\n]*+(?:\\.[^"\\\n]*+)*+"'  # basic string
    r"|'[^'\n]*'"  # literal string
    r"|#[^\n]*"  # comment
    r"|[\[\]{}]",
    re.S,
)


def toml_depth(text: str) -> int:
    """The deepest nesting of arrays and inline tables in TOML `text` (brackets in strings
    and comments do not count). A linear scan with no recursion: tomllib recurses once per
    level, so text nested thousands deep must be refused before it is parsed."""
    depth = deepest = 0
    for match in _TOML_SKIP.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            deepest = max(deepest, depth)
        elif token in ("]", "}"):
            depth = max(0, depth - 1)
    return deepest


def toml_too_deep(text: str) -> str | None:
    """Why TOML `text` may not be parsed (nested deeper than MAX_TOML_DEPTH), or None."""
    depth = toml_depth(text)
    if depth <= MAX_TOML_DEPTH:
        return None
    return f"arrays and inline tables nest {depth:,} deep; at most {MAX_TOML_DEPTH} are allowed"


def quote(text: str, limit: int = 60) -> str:
    """User text quoted for a one-line message: whole when short, else its first `limit`
    characters and how long it was, so a 10 MB name never fills a terminal or a page."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}… ({len(text):,} characters)"
