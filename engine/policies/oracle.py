"""The clairvoyant policy: Belady's victims and exact prefetch, the yardstick for the others.

Reference streams are deterministic, so the oracle looks ahead in each vCPU's stream (without
disturbing it) over a bounded window, and turns "k references from now" into a time with the
scheduler's plan (the vCPU's planned slices; past the plan, its fair share of the pCPUs). It
cannot foresee when a VM with random activity falls asleep: it knows references, not bursts.

What keeps it affordable: each vCPU's next-use position of every page of its VM is an index
kept up to date as the stream moves (`_Window.advance` touches only the pages just referenced,
so an unreferenced page's next use is still right). While a vCPU's use time never decreases
with the position, the pages whose key reaches a cut are those used at or after one position:
victims come from compiled integer passes over the pool (`farthest_by_position`) that find the
exact cut n candidates reach from a histogram of positions and time only about n pages. Where
a VM has several vCPUs, or its time can go back, one pass (`farthest_above_cut`) times all of
its candidates. Either way the victims are exactly those of timing every candidate
(`farthest_pages`, the reference).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import param

from engine.device import WRITE_TO_FREE
from engine.hotpath.fewest_writes import fewest_writes
from engine.hotpath.key_cut import farthest_above_cut
from engine.hotpath.lookahead import (
    COARSE_TOP,
    advance_next_use,
    coarse_shift,
    draw_window,
    must_redraw,
)
from engine.hotpath.next_use import (
    C_NEXT_OFF,
    C_POS,
    N_COLUMNS,
    first_swapped,
    lower_to_next_use,
)
from engine.hotpath.position_cut import NO_CUT, farthest_by_position, histogram_shape
from engine.hotpath.prefetch_plan import forget_ahead, plan_prefetch, reach_horizon, settle_ahead
from engine.hotpath.small_pages import small_page_empty
from engine.hotpath.time_maps import measure_rates
from engine.hotpath.victim_rows import fill_rows, look_and_catch_up
from engine.policies.base import Policy
from engine.policies.oracle_maps import TimeMaps
from engine.policies.oracle_reads import FAR, PrefetchReads
from engine.policies.registry import register
from engine.pool import DIRTY, SWAPPED
from engine.settings import Section

if TYPE_CHECKING:
    from engine.policies.context import PolicyContext

FAULT_SCAN_REFS = 4096  # how far a fault read looks for the next swapped pages
_NO_PAGES = np.zeros(0, dtype=np.int64)


class OracleParams(Section):
    lookahead_refs = param.Integer(
        1 << 18,
        bounds=(1024, 1 << 24),
        doc="References of each vCPU's stream the oracle looks ahead (its window).",
    )
    prefetch_ms = param.Number(
        20.0,
        bounds=(0.0, 10_000.0),
        doc="How far ahead in time pages are read in, ms (0: no prefetch, Belady victims only).",
    )
    prefetch_batch_pages = param.Integer(
        32, bounds=(1, 4096), doc="Pages per prefetch read operation."
    )
    fault_read_pages = param.Integer(
        8,
        bounds=(1, 64),
        doc="Pages a major fault reads: the faulting page and the next swapped pages its VM "
        "will touch (clairvoyant readahead; at least demand paging's default cluster).",
    )


class _Window:
    """One vCPU's next references, each position linked to the next use of the same page, so
    that moving the stream position on updates only the pages just referenced."""

    def __init__(
        self,
        start: int,
        src: np.ndarray,
        next_pos: np.ndarray,
        last: np.ndarray | None = None,
        rows: tuple[np.ndarray, np.ndarray] | None = None,
        coarse: tuple[np.ndarray, int] | None = None,
    ):
        """The window of the references src from stream position start; next_pos (per page)
        gets each page's first use in it (FAR: none). `last`: scratch of at least max(src) + 1
        entries, all FAR (made here when None; left so); `rows`: where to keep the references
        and their links (each at least src's size; made here when None), so that the compiled
        planning finds every vCPU's window in one array; `coarse`: (bytes per page, shift)
        where each next use's byte is kept (engine.hotpath.lookahead; made here when None)."""
        self.start, self.size = start, int(src.size)
        if rows is None:
            rows = np.empty(self.size, dtype=np.int64), np.empty(self.size, dtype=np.int64)
        if last is None:
            last = np.full(int(src.max()) + 1 if src.size else 0, FAR, dtype=np.int64)
        if coarse is None:
            coarse = np.empty(next_pos.size, dtype=np.uint8), 0
        self.coarse, self.shift = coarse
        draw_window(src, start, FAR, last, rows[0], rows[1], next_pos, *coarse)
        self.rel, self.next_same = rows[0][: self.size], rows[1][: self.size]

    def advance(self, old_pos: int, pos: int, next_pos: np.ndarray) -> None:
        """The stream moved from old_pos to pos: next_pos (per page, its next use) gets the
        next use at or after pos of each page referenced in [old_pos, pos) (FAR if none in
        the window). Those are exactly the pages whose next use, as it stood at old_pos, has
        gone by."""
        advance_next_use(
            next_pos, self.rel, self.next_same, old_pos - self.start, pos - self.start,
            self.coarse, self.start, self.shift,
        )  # fmt: skip


@register
class Oracle(Policy):
    """Evicts the page used farthest in the future; reads pages in just before their use."""

    name = "oracle"
    menu_rank = 3
    Params = OracleParams
    vector_readahead = False  # a fault reads the pages the stream uses next, not a cluster
    # Prefetch plans over only the pages a step's reads can carry: the same choice as over
    # every swapped page of the horizon (plan_prefetch says why), in far less time.
    prune = True

    def __init__(self, params: dict[str, Any], ctx: PolicyContext):
        super().__init__(params, ctx)
        self.window_refs = int(params.get("lookahead_refs", 1 << 18))
        self.prefetch_ns = int(float(params.get("prefetch_ms", 20.0)) * 1e6)
        self.batch = int(params.get("prefetch_batch_pages", 32))
        self.fault_pages = int(params.get("fault_read_pages", 8))
        pool = self.machine.pool
        self.vm_vcpus: list[list[int]] = [[] for _ in range(ctx.n_vms)]
        for vc in ctx.vcpus:
            self.vm_vcpus[vc.vm].append(vc.index)
        # next_pos[vcpu]: per page of its VM, the stream position of the next use (FAR: none);
        # each a view into one flat array (at next_off[vcpu]) that the compiled victim
        # selection reads whole.
        sizes = [int(pool.vm_pages[vc.vm]) for vc in ctx.vcpus]
        self.next_off = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.next_flat = np.full(int(self.next_off[-1]), FAR, dtype=np.int64)
        self.next_pos = [
            self.next_flat[self.next_off[v] : self.next_off[v + 1]] for v in range(len(sizes))
        ]
        # And each next use's byte (engine.hotpath.lookahead), which the victim pass compares.
        self.next_coarse = np.full(self.next_flat.size, COARSE_TOP, dtype=np.uint8)
        self.coarse_shift = int(coarse_shift(self.window_refs))
        self._work = np.empty((5, pool.state.size), dtype=np.int64)  # farthest_pages' scratch
        self._key_cuts: dict[int, int] = {}  # farthest_above_cut's, by bit length of n
        self._hints: dict[int, int] = {}  # farthest_by_position's, by bit length of n
        self._counts = np.zeros(histogram_shape(ctx.n_vms), dtype=np.int64)  # and its scratch
        self._mark = np.zeros(-(-pool.state.size // 8) * 8, dtype=np.uint8)
        self._seen = np.zeros(pool.state.size, dtype=np.bool_)  # first_swapped's scratch
        self._last = np.full(int(pool.vm_pages.max()), FAR, dtype=np.int64)  # windows' scratch
        # farthest_by_position's table of the vCPUs (a row each; next_pos' offsets fixed).
        self._victim_rows = np.zeros((len(ctx.vcpus), N_COLUMNS), dtype=np.int64)
        self._victim_rows[:, C_NEXT_OFF] = self.next_off[:-1]
        self.vm_vcpu_off = np.cumsum([0] + [len(vs) for vs in self.vm_vcpus], dtype=np.int64)
        self.vm_vcpu_ids = np.array([v for vs in self.vm_vcpus for v in vs], dtype=np.int64)
        n_vcpus = len(ctx.vcpus)
        self.windows: list[_Window | None] = [None] * n_vcpus
        # The windows' references and links, row v for vCPU v (as wide as the widest window
        # so far), with each window's start and size (-1: none), for the compiled planning.
        self.win_rels = np.empty((n_vcpus, 0), dtype=np.int64)
        self.win_links = np.empty((n_vcpus, 0), dtype=np.int64)
        self.win_start = np.zeros(n_vcpus, dtype=np.int64)
        self.win_size = np.full(n_vcpus, -1, dtype=np.int64)
        self.seen_pos = np.full(n_vcpus, -1, dtype=np.int64)
        self.ahead = np.zeros(n_vcpus, dtype=np.int64)  # stream position prefetch decided to
        self.span_lo = np.zeros(n_vcpus, dtype=np.int64)  # references a step's plan looks at
        self.span_hi = np.zeros(n_vcpus, dtype=np.int64)
        self.vcpu_vm = np.array([vc.vm for vc in ctx.vcpus], dtype=np.int64)
        self.vcpu_base = pool.base[self.vcpu_vm].astype(np.int64)
        self.vcpu_cpu_ns = np.array([vc.cpu_ns for vc in ctx.vcpus], dtype=np.int64)
        self.vcpu_alone = np.array([len(self.vm_vcpus[vc.vm]) == 1 for vc in ctx.vcpus])
        self.share = max(1.0, len(ctx.vcpus) / ctx.n_pcpus)
        self.reads = PrefetchReads(ctx, self.batch)
        if self.reads.spare_lanes.size == 0:  # every lane serves demand reads: a prefetch
            self.prefetch_ns = 0  # would delay faults
        # Each VM's measured time per reference while running (CPU, faults, stalls): a VM
        # that stalls on every reference reaches "k references from now" that much later.
        self.ns_per_ref = np.array([max(1, vc.cpu_ns) for vc in ctx.vcpus], dtype=np.int64)
        self.maps = TimeMaps(ctx, self.ns_per_ref)
        self.vm_ns_per_ref = np.zeros(ctx.n_vms, dtype=np.float64)
        self._last_refs = np.zeros(ctx.n_vms, dtype=np.int64)
        self._last_busy = np.zeros(ctx.n_vms, dtype=np.int64)

    # -- look-ahead ------------------------------------------------------------------------------
    def _refresh(self, v: int, until: int = 0) -> None:
        """Bring one vCPU's next-use positions up to its current stream position (and make
        its window reach at least `until`)."""
        vc = self.ctx.vcpus[v]
        pos = vc.pos
        win = self.windows[v]
        short = win is not None and until > win.start + win.size
        if pos == self.seen_pos[v] and not short:
            return
        nxt = self.next_pos[v]
        if win is None or short or must_redraw(pos, win.start, win.size):
            src, _ = vc.stream.take(pos, self.window_refs)
            off = self.next_off[v : v + 2]
            coarse = self.next_coarse[off[0] : off[1]], self.coarse_shift
            rows = self._rows(v, src.size)
            win = self.windows[v] = _Window(pos, src, nxt, self._last, rows, coarse)
            self.win_start[v], self.win_size[v] = win.start, win.size
        else:
            win.advance(self.seen_pos[v], pos, nxt)
        self.seen_pos[v] = pos

    def _rows(self, v: int, size: int) -> tuple[np.ndarray, np.ndarray]:
        """vCPU v's rows for a window of `size` references (every row widened to fit)."""
        if size > self.win_rels.shape[1]:
            # (in small pages: a window is drawn into its rows as soon as they are made)
            rels = small_page_empty((self.win_rels.shape[0], size), np.int64)
            links = small_page_empty(rels.shape, np.int64)
            for w, win in enumerate(self.windows):
                if win is not None:
                    rels[w, : win.size], links[w, : win.size] = win.rel, win.next_same
                    win.rel, win.next_same = rels[w, : win.size], links[w, : win.size]
            self.win_rels, self.win_links = rels, links
        return self.win_rels[v], self.win_links[v]

    def _time_map(self, v: int, now_ns: int) -> tuple[np.ndarray, np.ndarray, int]:
        """(segment starts, cumulative reference capacity, ns per reference) of a vCPU's
        planned CPU time from now: the rest of its slice if it runs, then its planned slices."""
        return self.maps.of(v, now_ns)

    def keys(self, pages: np.ndarray, now_ns: int) -> np.ndarray:
        """Predicted next-use time of each page; pages must be ascending (as candidates are).

        A page with no use inside a vCPU's look-ahead window is used, by that vCPU, no sooner
        than the window's end: that time is its key (a bound, not FAR). Windows span the same
        number of references, so a fast VM's window ends sooner than a slow one's: ranking an
        unseen page of the fast VM as farther than any seen page of the slow one would evict
        a hot set for a scan that comes back much later. FAR: the stream ends before then."""
        pool = self.machine.pool
        out = np.full(pages.size, FAR, dtype=np.int64)
        cuts = np.searchsorted(pages, pool.base)
        for vm in range(self.ctx.n_vms):
            lo, hi = int(cuts[vm]), int(cuts[vm + 1])
            if lo == hi:
                continue
            rel = pages[lo:hi] - int(pool.base[vm])
            for v in self.vm_vcpus[vm]:
                self._refresh(v)
                win = self.windows[v]
                assert win is not None
                # -1: the stream may end inside the window; else it goes on past the window.
                window_end = win.start + win.size if win.size >= self.window_refs else -1
                starts, cum, cpu = self._time_map(v, now_ns)
                lower_to_next_use(
                    out[lo:hi],
                    self.next_pos[v],
                    rel,
                    window_end,
                    self.ctx.vcpus[v].pos,
                    starts,
                    cum,
                    cpu,
                    float(self.share),
                    now_ns + self.ctx.plan_horizon_ns,
                    FAR,
                )
        return out

    # -- fault reads: the faulting page and the next ones the stream needs -------------------------
    def fault_prefetch(self, vm: int, page: int, now_ns: int) -> np.ndarray | None:
        """The next swapped pages the faulting vCPU touches after this one (at most
        fault_read_pages - 1, looked for within a few thousand references): one read brings
        what demand paging's readahead could only guess at."""
        want = self.fault_pages - 1
        if want <= 0:
            return None
        ctx = self.ctx
        base = int(self.machine.pool.base[vm])
        for v in self.vm_vcpus[vm]:
            vc = ctx.vcpus[v]
            rel, _ = vc.stream.take(vc.pos, FAULT_SCAN_REFS)
            if rel.size == 0 or int(rel[0]) + base != page:
                continue
            pool = self.machine.pool
            return first_swapped(
                rel, 0, rel.size, base, pool.state, SWAPPED, page, want, self._seen
            )[0]
        return None

    def stream_fault_read(self, vm: int) -> tuple[int, int]:
        """fault_prefetch as the compiled executor makes it, for a VM with one vCPU (with more,
        which stream it reads depends on where the others are: Python decides)."""
        if len(self.vm_vcpus[vm]) != 1:
            return 0, 0
        return FAULT_SCAN_REFS, max(0, self.fault_pages - 1)

    # -- victims: farthest next use first ----------------------------------------------------------
    def victims(self, n: int, now_ns: int, clean_only: bool = False) -> np.ndarray:
        """Of the 8n farthest, the n that need the fewest write operations (fewest_writes)."""
        chosen = self._farthest(8 * n, now_ns, clean_only, keep=n)[0]
        self._rescan(chosen)
        return chosen

    def _rescan(self, evicted: np.ndarray) -> None:
        """A VM that loses pages has its coming references looked at again for prefetch."""
        forget_ahead(evicted, self.machine.pool.vm_of, self.vcpu_vm, self.ahead, self.ctx.n_vms)

    def _farthest(
        self, n: int, now_ns: int, clean_only: bool, keep: int = 0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Up to n evictable pages, farthest next use first, and their keys (those of `keys`,
        a dirty page's brought forward by the write its eviction costs: it goes only for a
        later next use). Among equal keys the lower page first, except at the n-th key,
        where the least recently used of the pages that share it go first. With keep > 0,
        only the keep of them that fewest_writes takes, in its order (with their keys).

        The compiled selection (farthest_by_position, else farthest_above_cut) computes the
        same keys as `keys` from the same next-use positions and time maps, so it chooses the
        same pages."""
        if n <= 0:
            return _NO_PAGES, _NO_PAGES
        pool = self.machine.pool
        # Windows move on only where `keys` would look: the vCPUs of the VMs with candidates.
        rows = self._victim_rows
        rows[:, C_POS] = [vc.pos for vc in self.ctx.vcpus]
        # (a window moved on in the same compiled call, unless it must be drawn afresh)
        looked_at, redraw = look_and_catch_up(
            pool.state, pool.base, clean_only, self.vcpu_vm, rows, self.seen_pos,
            self.win_start, self.win_size, self.win_rels, self.win_links, self.next_flat,
            self.next_off, self.next_coarse, self.coarse_shift,
        )  # fmt: skip
        for v in redraw.tolist():
            self._refresh(v)  # (the others have nothing to do)
        # The compiled selection reads the time maps where they are kept: the looked-at
        # vCPUs' segments, none for the others.
        maps = self.maps
        maps.ensure(looked_at, now_ns)
        starts, cum = maps.starts, maps.cum
        fill_rows(
            rows, looked_at, self.win_start, self.win_size, self.window_refs, maps.slot_off,
            maps.seg_len, self.ns_per_ref,
        )  # fmt: skip
        args = (
            pool.state, clean_only, pool.base, self.vm_vcpu_off, self.vm_vcpu_ids, rows,
            self.next_flat, starts, cum, float(self.share), now_ns + self.ctx.plan_horizon_ns,
            FAR, self.machine.device.service_ns(1), pool.last_use_ns, self._work,
        )  # fmt: skip
        # From the hint the last call of about this size left (when too few reach it, the
        # next lower one another size left, then all candidates); VMs of several vCPUs or
        # with a time that can go back the general way.
        size = n.bit_length()
        hint = self._hints.get(size, NO_CUT)
        lower = max((h for h in self._hints.values() if NO_CUT < h < hint), default=NO_CUT)
        pages, keys, done, hint = farthest_by_position(
            n, hint, lower, *args[:-1], self.window_refs,
            self._counts, self._mark, self._work, keep, pool.vm_of, self.next_coarse,
        )  # fmt: skip
        self._hints[size] = hint
        if done:
            return pages, keys
        pages, keys, chosen, cut = farthest_above_cut(n, self._key_cuts.get(size, -FAR), *args)
        if not chosen:
            pages, keys, chosen, cut = farthest_above_cut(n, -FAR, *args)
        self._key_cuts[size] = cut
        if keep > 0:
            kept = fewest_writes(pages, keep, pool.state, pool.vm_of)
            by_page = np.argsort(pages)
            keys = keys[by_page[np.searchsorted(pages, kept, sorter=by_page)]]
            pages = kept
        return pages, keys

    def _measure_rates(self) -> None:
        """Update each VM's time per reference from what it executed since the last step
        (half weight to the newest step), never below its references' CPU cost."""
        c = self.machine.counters
        if measure_rates(
            c.references, c.cpu_ns + c.stall_ns + c.fault_cpu_ns, self._last_refs,
            self._last_busy, self.vm_ns_per_ref, self.vcpu_vm, self.vcpu_cpu_ns, self.ns_per_ref,
        ):  # fmt: skip
            self.maps.rates_changed()  # the time maps change with the rates

    def _clean_ahead(self, now_ns: int) -> None:
        """While the device is idle and frames are short, write back the dirty pages among the
        next victims, so that reclaim frees their frames at once instead of making a faulting
        vCPU wait for a write (which demand paging's reclaim does)."""
        dev = self.machine.device
        if self.machine.pool.free_frames >= self.machine.high_wm * 2 or dev.queued_ops():
            return
        if int(dev.busy_until.min()) > now_ns:
            return
        batch = self.machine.host.write_batch_pages
        chosen, _ = self._farthest(self.machine.host.reclaim_batch_pages + batch, now_ns, False)
        dirty = chosen[self.machine.pool.state[chosen] == DIRTY]
        if dirty.size:
            vms = self.machine.pool.vm_of[dirty]
            most = int(np.bincount(vms).argmax())  # one write operation's worth, one VM
            self.machine.write_back(dirty[vms == most][:batch], now_ns)

    # -- prefetch: exactly the pages the next prefetch_ms of execution will touch -----------------
    def on_step(self, now_ns: int, step_end_ns: int) -> None:
        self._measure_rates()
        if self.prefetch_ns > 0:
            # Every map the planning reads, made once, before _clean_ahead's victims read
            # theirs (the same maps: nothing they depend on moves in between).
            self.maps.ensure_all(now_ns)
        self._clean_ahead(now_ns)
        if self.prefetch_ns <= 0:
            return
        ctx, m = self.ctx, self.machine
        free_ns, read_ns = self.reads.snapshot(now_ns)
        # No more pages than the reads that can start this step carry can be read in now.
        carried = self.batch * self.reads.startable_reads(free_ns, read_ns, now_ns, step_end_ns)
        maps = self.maps
        pos = np.array([vc.pos for vc in ctx.vcpus], dtype=np.int64)
        needs_window = reach_horizon(
            now_ns + self.prefetch_ns, self.window_refs, pos, self.ahead, self.seen_pos,
            self.win_start, self.win_size, maps.slot_off, maps.seg_len, maps.starts, maps.cum,
            self.ns_per_ref, self.win_rels, self.win_links, self.next_flat, self.next_off,
            self.next_coarse, self.coarse_shift, self.span_lo, self.span_hi,
        )  # fmt: skip
        for v in np.flatnonzero(needs_window).tolist():
            self._refresh(v, until=int(self.span_hi[v]))
        want, use, wanted = plan_prefetch(
            self.span_lo, self.span_hi, pos, self.ahead, self.win_start, self.win_rels,
            self.vcpu_base, self.vcpu_alone, m.pool.state, SWAPPED, self._seen, maps.slot_off,
            maps.seg_len, maps.starts, maps.cum, self.ns_per_ref, float(self.share),
            now_ns + ctx.plan_horizon_ns, FAR, carried, self.prune, self.batch, free_ns,
            read_ns, ctx.step_ns, now_ns, step_end_ns,
        )  # fmt: skip
        # The earliest uses first; past the free frames, a page comes in only in place of a
        # resident page used later than it (Belady-consistent prefetching).
        room = max(0, m.pool.free_frames - m.low_wm - m.writing_pending)
        short = int(want.size) - room
        take = min(room, int(want.size))
        if short > 0:
            victims, keys = self._farthest(short, now_ns, False)
            later = keys > use[room : room + keys.size]
            n_ok = int(np.argmin(later)) if not later.all() else int(later.size)
            m.evict(victims[:n_ok], now_ns, WRITE_TO_FREE, for_prefetch=True)
            self._rescan(victims[:n_ok])
            take += n_ok
        self.reads.issue(want[:take], use[:take], now_ns, step_end_ns)
        settle_ahead(
            wanted, m.pool.state, SWAPPED, m.pool.vm_of, self.vcpu_vm, self.span_lo,
            self.span_hi, self.ahead, ctx.n_vms,
        )  # fmt: skip
