"""The kinds of reference stream (uniform, Zipf, scan, phased working set, trace replay,
mixture): each produces the pages (relative to its VM) of references [start, start + n) from
its own generator, and can move past references as if it had drawn them."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from engine.bounded_cache import BoundedCache
from engine.hotpath.sampling import mixture_parts, place_part, zipf_ranks
from engine.scenario.schema import Workload
from engine.workloads.prepared import prepared_trace
from engine.workloads.scratch import thread_scratch
from engine.workloads.seeding import skip_draws

NEVER = 1 << 62  # a stream position no run reaches


class Source:
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


class Uniform(Source):
    def pages(self, start: int, n: int) -> np.ndarray:
        return self.rng.integers(0, self.span, size=n, dtype=np.int64)


class ZipfRanks:
    """Inverse-CDF sampling of Zipf ranks with a guide table (Chen & Asau): the same ranks
    as a binary search over the CDF, many times faster. The table has several entries per
    rank (up to GUIDE_MAX in all), so most draws fall in a cell that spans at most one rank
    boundary, and a draw in the long tail, where one entry spans many ranks, takes few steps.
    The table ends with n, the last cell's upper bound. Read-only once made: the streams of
    every VM with the same (n, alpha) share one (`zipf_ranks_for`)."""

    def __init__(self, n: int, alpha: float):
        weights = np.arange(1, n + 1, dtype=np.float64) ** -alpha
        cdf = np.cumsum(weights)
        self.cdf = cdf / cdf[-1]
        self.n = n
        self.m = max(n, min(GUIDE_PER_RANK * n, GUIDE_MAX))
        # Cell g starts at the number of CDF values <= g/m. Found from the other side, each
        # CDF value's first cell, counted and summed: n binary searches over the m cells
        # instead of m over the n values, the same comparisons of the same numbers.
        first_cell = np.searchsorted(np.arange(self.m) / self.m, self.cdf, side="left")
        self.guide = np.empty(self.m + 1, dtype=np.int64)
        np.cumsum(np.bincount(first_cell, minlength=self.m + 1)[: self.m], out=self.guide[:-1])
        self.guide[-1] = n
        self.cdf.flags.writeable = False
        self.guide.flags.writeable = False

    def sample(self, u: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Rank r (0-based) with cdf[r-1] <= u < cdf[r], for each u in [0, 1) (into out,
        an int64 array of u's size, when given)."""
        if out is None:
            out = np.empty(u.size, dtype=np.int64)
        return zipf_ranks(u, self.cdf, self.guide, self.m, out)


GUIDE_PER_RANK = 4

GUIDE_MAX = 1 << 20  # entries (8 MiB); a VM of more pages keeps one entry per rank

# Tables kept for the next stream of the same (n, alpha), across the sessions of a served app:
# a host of many like VMs (or the same scenario again) builds one. A 200,000-page table holds
# about 8 MiB and took 25 ms to build.
ZIPF_TABLE_BYTES = 64 * 1024 * 1024
_ZIPF_TABLES: BoundedCache[ZipfRanks] = BoundedCache(ZIPF_TABLE_BYTES)


def zipf_ranks_for(n: int, alpha: float) -> ZipfRanks:
    """The shared, read-only Zipf table of n ranks and exponent alpha, built on first use."""
    return _ZIPF_TABLES.get_or_compute((int(n), float(alpha)), lambda: ZipfRanks(n, alpha))


class Zipf(Source):
    def __init__(self, w: Workload, span: int, rng: np.random.Generator):
        super().__init__(w, span, rng)
        self.ranks = zipf_ranks_for(self.span, w.zipf_alpha)
        self.perm = rng.permutation(self.span).astype(np.int64) if w.scatter else None

    def pages(self, start: int, n: int) -> np.ndarray:
        arrays = thread_scratch()
        u = arrays.uniform(self.rng, n)
        if self.perm is None:
            return self.ranks.sample(u)
        return self.perm[self.ranks.sample(u, arrays.ints(n))]

    def skip(self, start: int, n: int) -> None:
        if not skip_draws(self.rng, n):  # one double per reference
            self.pages(start, n)


class Scan(Source):
    def pages(self, start: int, n: int) -> np.ndarray:
        return (np.arange(start, start + n, dtype=np.int64)) % self.span

    def skip(self, start: int, n: int) -> None:
        pass  # a function of the position alone


class Phased(Source):
    """Zipf over a working set that moves to a new random place every phase_refs references."""

    def __init__(self, w: Workload, span: int, rng: np.random.Generator):
        super().__init__(w, span, rng)
        self.ws = max(1, min(self.span, w.ws_pages or max(1, self.span // 4)))
        self.ranks = zipf_ranks_for(self.ws, w.zipf_alpha)
        self.offset_seed = int(rng.integers(0, 2**62))

    def _offset(self, phase: np.ndarray) -> np.ndarray:
        # A hash of the phase number, so any phase's place is known without replaying the others.
        h = (phase.astype(np.uint64) + np.uint64(self.offset_seed)) * np.uint64(0x9E3779B97F4A7C15)
        h ^= h >> np.uint64(29)
        return (h % np.uint64(max(1, self.span - self.ws + 1))).astype(np.int64)

    def pages(self, start: int, n: int) -> np.ndarray:
        pages = self.ranks.sample(thread_scratch().uniform(self.rng, n))
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


class Trace(Source):
    """A recorded trace mapped onto the VM: compacted, scaled, offset, wrapped into the span.

    Reference i replays trace reference ⌊i × time_scale⌋, with time_scale taken as an exact
    fraction p/q. A looping trace starts again at its end; otherwise the stream ends after
    ⌈n / time_scale⌉ references (`done_at`) and the vCPU finishes. Every vCPU of a VM replays
    the same trace from its start, over the same pages (threads of one program, in lockstep).
    """

    def __init__(self, w: Workload, span: int, rng: np.random.Generator):
        super().__init__(w, span, rng)
        prepared = prepared_trace(w, self.span)  # shared, read-only: read and mapped once
        self.trace = prepared.pages
        self.trace_writes = prepared.writes
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
        # The prepared pages are kept in the smallest type that holds the span; the stream's
        # pages are int64, as every other source's.
        return self.trace[self._index(start, n)].astype(np.int64)

    def skip(self, start: int, n: int) -> None:
        pass  # a function of the position alone

    def writes(self, start: int, n: int) -> np.ndarray | None:
        """The trace's write flags for references [start, start + n), if it has any."""
        if self.trace_writes is None:
            return None
        return self.trace_writes[self._index(start, n)]


class Mixture(Source):
    def __init__(self, w: Workload, span: int, rng: np.random.Generator):
        super().__init__(w, span, rng)
        self.parts = [
            make_source(Workload(**c), span, np.random.default_rng(rng.integers(0, 2**63)))
            for c in w.components
        ]
        weights = np.array([float(c.get("weight", 1.0)) for c in w.components])
        self.cum = np.cumsum(weights / weights.sum())
        self.pos = [0] * len(self.parts)

    def _choose(self, n: int) -> tuple[np.ndarray, list[int]]:
        """The part each of the next n references comes from, and how many each part got."""
        which = np.empty(n, dtype=np.int64)  # its own: the parts draw with the scratch arrays
        counts = np.zeros(len(self.parts), dtype=np.int64)
        mixture_parts(thread_scratch().uniform(self.rng, n), self.cum, which, counts)
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


SOURCE_KINDS: dict[str, type[Source]] = {
    "uniform": Uniform,
    "zipf": Zipf,
    "scan": Scan,
    "phased": Phased,
    "mixture": Mixture,
    "trace": Trace,
}


def make_source(w: Workload, span: int, rng: np.random.Generator) -> Source:
    kind = SOURCE_KINDS.get(w.kind)
    if kind is None:
        raise ValueError(f"unknown workload kind {w.kind!r}")
    return kind(w, span, rng)
