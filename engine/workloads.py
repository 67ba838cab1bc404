"""Deterministic reference streams, consumed as a vCPU makes progress.

A stream is generated in fixed blocks from its own seeded generator, so the references a VM
makes never depend on how fast it runs, on the policy, or on the other VMs (common random
numbers): position i of a stream is the same in every run of a scenario and seed.
"""

from __future__ import annotations

import json
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable
from fractions import Fraction

import numpy as np

from engine.errors import TraceError
from engine.hotpath.sampling import mixture_parts, place_part, zipf_ranks
from engine.scenario.schema import Workload, to_dict
from engine.traces import read_trace

BLOCK_REFS = 1 << 16
NEVER = 1 << 62  # a stream position no run reaches

Generator = Callable[[np.random.Generator, int, int], np.ndarray]


def stream_seed(seed: int, vm_name: str, vcpu: int) -> np.random.SeedSequence:
    """One seed sequence per (scenario seed, VM name, vCPU): independent of VM order."""
    return np.random.SeedSequence([seed & 0xFFFFFFFFFFFFFFFF, zlib.crc32(vm_name.encode()), vcpu])


def skip_draws(rng: np.random.Generator, n: int) -> bool:
    """Move rng on as if it had drawn n doubles (`rng.random(n)`), without drawing them, where
    its bit generator can jump (PCG64, numpy's default: one double is one 64-bit step); False
    (and rng untouched) where it cannot."""
    bits = rng.bit_generator
    if not isinstance(bits, np.random.PCG64):
        return False
    bits.advance(n)
    return True


class _Scratch:
    """Arrays reused from one block to the next for values that do not outlive the step of
    a draw that makes them (the uniform draws, the ranks before a permutation): a fresh
    half-megabyte array per step of every block cost more than the arithmetic done on it.
    One per thread (`_scratch()`), so the streams kept for many sessions hold none; a draw
    runs on one thread, and each array is used up before anything else is drawn."""

    def __init__(self) -> None:
        self.floats_buf = np.empty(0, dtype=np.float64)
        self.ints_buf = np.empty(0, dtype=np.int64)

    def uniform(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """rng.random(n), the same draws, in the reused array (valid until the next call)."""
        if self.floats_buf.size < n:
            self.floats_buf = np.empty(n, dtype=np.float64)
        return rng.random(out=self.floats_buf[:n])

    def ints(self, n: int) -> np.ndarray:
        """A reused int64 array of n values (valid until the next call)."""
        if self.ints_buf.size < n:
            self.ints_buf = np.empty(n, dtype=np.int64)
        return self.ints_buf[:n]


_THREAD = threading.local()


def _scratch() -> _Scratch:
    """This thread's scratch arrays."""
    found: _Scratch | None = getattr(_THREAD, "scratch", None)
    if found is None:
        found = _THREAD.scratch = _Scratch()
    return found


class _Source:
    """Produces page numbers (relative to the VM) for references [start, start + n)."""

    def __init__(self, w: Workload, span: int, rng: np.random.Generator):
        self.w = w
        self.span = max(1, min(span, w.pages or span))
        self.rng = rng

    def pages(self, start: int, n: int) -> np.ndarray:
        raise NotImplementedError

    def skip(self, start: int, n: int) -> None:
        """Move on past references [start, start + n) as `pages` would, so the next call gives
        the same pages as if these had been drawn. Drawing them is always right; a source whose
        generator can jump overrides this."""
        self.pages(start, n)

    def pages_within(self, pos: int) -> tuple[int, int, int]:
        """(lo, hi, until): every reference from position pos up to (not including) `until`
        is to a page in [lo, hi). Here the whole span, for ever."""
        return 0, self.span, NEVER


class _Uniform(_Source):
    def pages(self, start: int, n: int) -> np.ndarray:
        return self.rng.integers(0, self.span, size=n, dtype=np.int64)


class _ZipfRanks:
    """Inverse-CDF sampling of Zipf ranks with a guide table (Chen & Asau): the same ranks
    as a binary search over the CDF, many times faster. The table has several entries per
    rank (up to GUIDE_MAX in all), so most draws fall in a cell that spans at most one rank
    boundary, and a draw in the long tail, where one entry spans many ranks, takes few steps.
    The table ends with n, the last cell's upper bound."""

    def __init__(self, n: int, alpha: float):
        weights = np.arange(1, n + 1, dtype=np.float64) ** -alpha
        cdf = np.cumsum(weights)
        self.cdf = cdf / cdf[-1]
        self.n = n
        self.m = max(n, min(GUIDE_PER_RANK * n, GUIDE_MAX))
        cells = np.searchsorted(self.cdf, np.arange(self.m) / self.m, side="right")
        self.guide = np.append(cells, n).astype(np.int64)

    def sample(self, u: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Rank r (0-based) with cdf[r-1] <= u < cdf[r], for each u in [0, 1) (into out,
        an int64 array of u's size, when given)."""
        if out is None:
            out = np.empty(u.size, dtype=np.int64)
        return zipf_ranks(u, self.cdf, self.guide, self.m, out)


GUIDE_PER_RANK = 4
GUIDE_MAX = 1 << 20  # entries (8 MiB); a VM of more pages keeps one entry per rank


class _Zipf(_Source):
    def __init__(self, w: Workload, span: int, rng: np.random.Generator):
        super().__init__(w, span, rng)
        self.ranks = _ZipfRanks(self.span, w.zipf_alpha)
        self.perm = rng.permutation(self.span).astype(np.int64) if w.scatter else None

    def pages(self, start: int, n: int) -> np.ndarray:
        scratch = _scratch()
        u = scratch.uniform(self.rng, n)
        if self.perm is None:
            return self.ranks.sample(u)
        return self.perm[self.ranks.sample(u, scratch.ints(n))]

    def skip(self, start: int, n: int) -> None:
        if not skip_draws(self.rng, n):  # one double per reference
            self.pages(start, n)


class _Scan(_Source):
    def pages(self, start: int, n: int) -> np.ndarray:
        return (np.arange(start, start + n, dtype=np.int64)) % self.span

    def skip(self, start: int, n: int) -> None:
        pass  # a function of the position alone


class _Phased(_Source):
    """Zipf over a working set that moves to a new random place every phase_refs references."""

    def __init__(self, w: Workload, span: int, rng: np.random.Generator):
        super().__init__(w, span, rng)
        self.ws = max(1, min(self.span, w.ws_pages or max(1, self.span // 4)))
        self.ranks = _ZipfRanks(self.ws, w.zipf_alpha)
        self.offset_seed = int(rng.integers(0, 2**62))

    def _offset(self, phase: np.ndarray) -> np.ndarray:
        # A hash of the phase number, so any phase's place is known without replaying the others.
        h = (phase.astype(np.uint64) + np.uint64(self.offset_seed)) * np.uint64(0x9E3779B97F4A7C15)
        h ^= h >> np.uint64(29)
        return (h % np.uint64(max(1, self.span - self.ws + 1))).astype(np.int64)

    def pages(self, start: int, n: int) -> np.ndarray:
        pages = self.ranks.sample(_scratch().uniform(self.rng, n))
        per = self.w.phase_refs
        first, last = start // per, (start + n - 1) // per
        offsets = self._offset(np.arange(first, last + 1, dtype=np.int64))
        if offsets.size > 64:  # short phases: an offset per reference
            pages += offsets[np.arange(start, start + n, dtype=np.int64) // per - first]
            return pages
        for k, offset in enumerate(offsets.tolist()):  # a stretch per phase
            lo = max(start, (first + k) * per) - start
            pages[lo : min(n, (first + k + 1) * per - start)] += offset
        return pages

    def skip(self, start: int, n: int) -> None:
        if not skip_draws(self.rng, n):  # one double per reference
            self.pages(start, n)

    def pages_within(self, pos: int) -> tuple[int, int, int]:
        """The working set of pos's phase, until that phase ends."""
        phase = pos // self.w.phase_refs
        lo = int(self._offset(np.array([phase], dtype=np.int64))[0])
        return lo, lo + self.ws, (phase + 1) * self.w.phase_refs


class _Trace(_Source):
    """A recorded trace mapped onto the VM: compacted, scaled, offset, wrapped into the span.

    Reference i replays trace reference ⌊i × time_scale⌋, with time_scale taken as an exact
    fraction p/q. A looping trace starts again at its end; otherwise the stream ends after
    ⌈n / time_scale⌉ references (`done_at`) and the vCPU finishes. Every vCPU of a VM replays
    the same trace from its start, over the same pages (threads of one program, in lockstep).
    """

    def __init__(
        self,
        w: Workload,
        span: int,
        rng: np.random.Generator,
        trace_pages: np.ndarray,
        trace_writes: np.ndarray | None = None,
    ):
        super().__init__(w, span, rng)
        # The trace's own read/write flags, when it records any write (lackey, ucsd, npz...).
        self.trace_writes = (
            trace_writes.astype(bool)
            if trace_writes is not None
            and trace_writes.size == trace_pages.size
            and trace_writes.any()
            else None
        )
        if trace_pages.size == 0:
            raise TraceError(f"{w.path}: the trace has no references")
        pages = trace_pages.astype(np.int64)
        if w.compact:
            # Sorting without an inverse, then searchsorted: ~10× faster than return_inverse.
            pages = np.searchsorted(np.unique(pages), pages).astype(np.int64)
        pages //= w.page_scale
        # Reduced first, so page + offset cannot overflow for raw 63-bit page numbers.
        self.trace = (pages % self.span + w.page_offset % self.span) % self.span
        ratio = Fraction(w.time_scale).limit_denominator(1_000_000)
        self.num, self.den = ratio.numerator, ratio.denominator
        n = self.trace.size
        self.done_at = None if w.loop else -(-n * self.den // self.num)

    def _index(self, start: int, n: int) -> np.ndarray:
        idx = np.arange(start, start + n, dtype=np.int64)
        if self.num != self.den:
            # ⌊i·p/q⌋ without forming i·p, which could overflow int64
            idx = (idx // self.den) * self.num + (idx % self.den) * self.num // self.den
        return idx % self.trace.size

    def pages(self, start: int, n: int) -> np.ndarray:
        return self.trace[self._index(start, n)]

    def skip(self, start: int, n: int) -> None:
        pass  # a function of the position alone

    def writes(self, start: int, n: int) -> np.ndarray | None:
        """The trace's write flags for references [start, start + n), if it has any."""
        if self.trace_writes is None:
            return None
        return self.trace_writes[self._index(start, n)]


class _Mixture(_Source):
    def __init__(self, w: Workload, span: int, rng: np.random.Generator):
        super().__init__(w, span, rng)
        self.parts = [
            _make_source(Workload(**c), span, np.random.default_rng(rng.integers(0, 2**63)))
            for c in w.components
        ]
        weights = np.array([float(c.get("weight", 1.0)) for c in w.components])
        self.cum = np.cumsum(weights / weights.sum())
        self.pos = [0] * len(self.parts)

    def _choose(self, n: int) -> tuple[np.ndarray, list[int]]:
        """The part each of the next n references comes from, and how many each part got."""
        which = np.empty(n, dtype=np.int64)  # its own: the parts draw with the scratch arrays
        counts = np.zeros(len(self.parts), dtype=np.int64)
        mixture_parts(_scratch().uniform(self.rng, n), self.cum, which, counts)
        return which, counts.tolist()

    def pages(self, start: int, n: int) -> np.ndarray:
        which, counts = self._choose(n)
        out = np.empty(n, dtype=np.int64)
        for k, part in enumerate(self.parts):
            if counts[k]:
                place_part(which, k, part.pages(self.pos[k], counts[k]), out)
                self.pos[k] += counts[k]
        return out

    def skip(self, start: int, n: int) -> None:
        # The choices are drawn (each part's share is needed), the parts' pages are not.
        _, counts = self._choose(n)
        for k, part in enumerate(self.parts):
            if counts[k]:
                part.skip(self.pos[k], counts[k])
                self.pos[k] += counts[k]

    def pages_within(self, pos: int) -> tuple[int, int, int]:
        """Every part's pages lie below its own span (parts are sized against the VM)."""
        return 0, max(part.span for part in self.parts), NEVER


def _make_source(w: Workload, span: int, rng: np.random.Generator) -> _Source:
    if w.kind == "uniform":
        return _Uniform(w, span, rng)
    if w.kind == "zipf":
        return _Zipf(w, span, rng)
    if w.kind == "scan":
        return _Scan(w, span, rng)
    if w.kind == "phased":
        return _Phased(w, span, rng)
    if w.kind == "mixture":
        return _Mixture(w, span, rng)
    if w.kind == "trace":
        trace = read_trace(w.path, w.format, max_refs=50_000_000)
        return _Trace(w, span, rng, trace.pages, trace.writes)
    raise ValueError(f"unknown workload kind {w.kind!r}")


# Blocks drawn by every stream and kept for the next run of the same stream (the run that
# follows its unlimited-memory baseline, or another policy on the same scenario and seed),
# across all sessions of a served app; bounded by the bytes they hold.
STREAM_CACHE_BYTES = 128 * 1024 * 1024


class _Blocks:
    """One stream's generators and the blocks they drew, in order: block i is the same
    whichever stream asks for it first, so streams of the same workload, span and seed share
    one. Keeps each block while the shared budget allows; a stream that needs a block that was
    not kept draws its own copy of the stream instead (`private`)."""

    def __init__(self, w: Workload, vm_pages: int, seed: np.random.SeedSequence, shared: bool):
        page_seed, write_seed = seed.spawn(2)
        self.source = _make_source(w, vm_pages, np.random.default_rng(page_seed))
        self.write_rng = np.random.default_rng(write_seed)
        self.write_fraction = float(w.write_fraction)
        # The pages are below the span: the smallest unsigned type holds them (a quarter of
        # int64's bytes for a VM of up to 65,536 pages).
        self.page_dtype = np.min_scalar_type(max(0, vm_pages - 1))
        self.shared = shared
        self.kept: list[tuple[np.ndarray, np.ndarray] | None] = []
        self.lock = threading.Lock()

    def block(self, i: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Block i (pages, write flags); None if it was passed (drawn and not kept, or
        skipped). The blocks between the last one drawn and i are skipped, not drawn: a stream
        that jumps ahead draws only what it reads."""
        with self.lock:
            if i < len(self.kept):
                return self.kept[i]
            while len(self.kept) < i:
                self._skip(len(self.kept) * BLOCK_REFS)
                self.kept.append(None)
            drawn = self._draw(i * BLOCK_REFS)
            self.kept.append(self._keep(drawn) if self.shared else None)
            return drawn

    def _keep(self, drawn: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray] | None:
        pages, writes = drawn
        if pages.size and int(pages.max()) > np.iinfo(self.page_dtype).max:
            return None  # never for pages below the span; a guard against a silent wrap
        pages = pages.astype(self.page_dtype)
        if not _CACHE.reserve(pages.nbytes + writes.nbytes):
            return None
        pages.flags.writeable = False
        writes.flags.writeable = False
        return pages, writes

    def _draw(self, start: int) -> tuple[np.ndarray, np.ndarray]:
        pages = self.source.pages(start, BLOCK_REFS)
        recorded = getattr(self.source, "writes", None)
        own = recorded(start, BLOCK_REFS) if recorded is not None else None
        if own is not None:
            writes = own
        elif self._draws_writes():
            writes = _scratch().uniform(self.write_rng, BLOCK_REFS) < self.write_fraction
        else:
            # A draw u in [0, 1) is never below 0 and always below 1: the flags are known
            # without drawing. The write generator serves only these flags, so skipping its
            # draws changes no other number.
            writes = np.full(BLOCK_REFS, self.write_fraction >= 1.0, dtype=bool)
        return pages, writes

    def _draws_writes(self) -> bool:
        """Whether the write flags come from the write generator (one double per reference):
        not when the source records its own (a trace with writes), nor for a fraction of 0
        or 1."""
        if getattr(self.source, "trace_writes", None) is not None:
            return False
        return 0.0 < self.write_fraction < 1.0

    def _skip(self, start: int) -> None:
        """Move both generators past the block at start, as _draw would, drawing neither where
        they can jump."""
        self.source.skip(start, BLOCK_REFS)
        if self._draws_writes() and not skip_draws(self.write_rng, BLOCK_REFS):
            self.write_rng.random(BLOCK_REFS)

    def kept_bytes(self) -> int:
        return sum(p.nbytes + w.nbytes for b in self.kept if b is not None for p, w in [b])


class _StreamCache:
    """The shared blocks of recent streams, least recently used first, within a byte budget.
    Dropping a stream's entry frees its budget (a stream still reading it keeps its own
    reference, and no longer adds blocks to it)."""

    def __init__(self, budget_bytes: int, most_streams: int):
        self.budget_bytes, self.most_streams = budget_bytes, most_streams
        self.used_bytes = 0
        self.streams: OrderedDict[str, _Blocks] = OrderedDict()
        self.lock = threading.Lock()

    def reserve(self, n_bytes: int) -> bool:
        """Count n_bytes more kept, if the budget allows."""
        with self.lock:
            if self.used_bytes + n_bytes > self.budget_bytes:
                return False
            self.used_bytes += n_bytes
            return True

    def blocks(self, w: Workload, vm_pages: int, seed: np.random.SeedSequence) -> _Blocks:
        """This stream's shared blocks, made on first use."""
        key = json.dumps(
            [to_dict(w), vm_pages, str(seed.entropy), list(seed.spawn_key), seed.n_children_spawned]
        )
        if "trace" in key:  # a trace file can change under the same path: read it afresh
            return _Blocks(w, vm_pages, seed, shared=False)
        with self.lock:
            found = self.streams.get(key)
            if found is not None:
                self.streams.move_to_end(key)
                return found
        made = _Blocks(w, vm_pages, seed, shared=True)
        with self.lock:
            self.streams[key] = made
            # Past half the budget a new stream makes room: the oldest streams go.
            while len(self.streams) > 1 and (
                len(self.streams) > self.most_streams or self.used_bytes > self.budget_bytes // 2
            ):
                _, old = self.streams.popitem(last=False)
                old.shared = False
                self.used_bytes -= old.kept_bytes()
        return made

    def forget(self) -> None:
        """Drop every kept block (streams reading them keep their own references)."""
        with self.lock:
            for blocks in self.streams.values():
                blocks.shared = False
            self.streams.clear()
            self.used_bytes = 0


_CACHE = _StreamCache(STREAM_CACHE_BYTES, most_streams=256)


def forget_kept_blocks() -> None:
    """Make the next stream of any workload draw its blocks afresh (for timing the draws)."""
    _CACHE.forget()


class RefStream:
    """The references of one vCPU: pages (relative to its VM) and write flags, by position.

    `take(pos, n)` returns views that stay valid until the next call; blocks are generated in
    order and cached, so position i holds the same reference however the stream is consumed.
    """

    def __init__(self, w: Workload, vm_pages: int, seed: np.random.SeedSequence):
        self.workload, self.vm_pages = w, vm_pages
        self.seed_key = (seed.entropy, seed.spawn_key)
        self.blocks = _CACHE.blocks(w, vm_pages, seed)
        self.source = self.blocks.source
        self.cpu_ns = int(w.cpu_ns_per_ref)
        self.base = 0  # position of buf[0]
        self.generated = 0
        self.pages_buf = np.empty(0, dtype=np.int64)
        self.writes_buf = np.empty(0, dtype=bool)

    def _generate_block(self) -> tuple[np.ndarray, np.ndarray]:
        i = self.generated // BLOCK_REFS
        got = self.blocks.block(i)
        if got is None:
            # Not kept (or skipped by a stream that jumped ahead): this stream makes its own
            # generators and moves them to block i (a rare fallback).
            seed = np.random.SeedSequence(self.seed_key[0], spawn_key=self.seed_key[1])
            self.blocks = _Blocks(self.workload, self.vm_pages, seed, shared=False)
            got = self.blocks.block(i)
            assert got is not None
        self.generated += BLOCK_REFS
        return got

    def take(self, pos: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Pages and write flags of references [pos, pos + n); pos never goes backwards.
        Whole blocks before pos that were never read are skipped, not drawn."""
        if pos < self.base:
            raise ValueError("a reference stream cannot go backwards")
        drop = pos - self.base
        if drop > 0 and drop >= BLOCK_REFS:
            keep_from = min(drop, self.pages_buf.size)
            self.pages_buf = self.pages_buf[keep_from:]
            self.writes_buf = self.writes_buf[keep_from:]
            self.base += keep_from
        first = pos - pos % BLOCK_REFS
        if first > self.generated:  # nothing buffered: start at pos's block
            self.base = self.generated = first
        need = pos + n - (self.base + self.pages_buf.size)
        if need > 0:
            blocks = [self._generate_block() for _ in range(-(-need // BLOCK_REFS))]
            self.pages_buf = np.concatenate([self.pages_buf, *[b[0] for b in blocks]])
            self.writes_buf = np.concatenate([self.writes_buf, *[b[1] for b in blocks]])
        lo = pos - self.base
        return self.pages_buf[lo : lo + n], self.writes_buf[lo : lo + n]
