"""The paging services a Machine offers the executors and policies: reclaim, eviction,
prefetch, write-back and cancellation, what a major fault reads and books, and the bookkeeping
of a completed device operation. A mixin of `engine.machine.Machine`, which sets the
attributes declared here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np

from engine.device import BACKGROUND_WRITE, PREFETCH_READ, WRITE_TO_FREE, Op
from engine.hotpath.reclaim import reclaim_kept
from engine.hotpath.slots import S_FREE_FRAMES
from engine.pool import CLEAN, DIRTY, PREFETCHED, SWAPPED, WRITING

if TYPE_CHECKING:
    from engine.device import SwapDevice
    from engine.metrics import Counters
    from engine.policies.victims import Oldest
    from engine.pool import PagePool
    from engine.recording import Recorder
    from engine.scenario.schema import Host


class MachinePolicy(Protocol):
    """What the machine and the executors ask of a policy (engine.policies.base.Policy has
    it): victims, the pages a fault reads along, and what a vCPU touched."""

    vector_readahead: bool

    def victims(self, n: int, now_ns: int, clean_only: bool = False) -> np.ndarray: ...

    def fault_prefetch(self, vm: int, page: int, now_ns: int) -> np.ndarray | None: ...

    def stream_fault_read(self, vm: int) -> tuple[int, int]: ...

    def row_fault_read(self) -> tuple[np.ndarray, np.ndarray] | None: ...

    def after_run(self, vm: int, pages: np.ndarray, major_pages: np.ndarray) -> None: ...


class PagingServices:
    """Page movement between frames and the swap device, with its counters kept exact."""

    host: Host
    pool: PagePool
    device: SwapDevice
    counters: Counters
    policy: MachinePolicy
    recorder: Recorder | None
    low_wm: int  # the low watermark, frames: prefetch leaves that many free
    write_batch_pages: int  # most pages per write operation (the host's setting, read once)
    ra_cluster: np.ndarray  # per VM: pages in its readahead cluster
    writing_pending: int  # pages being written to free their frames
    reading_seq: np.ndarray  # per page: the seq of the prefetch read bringing it in (-1: none)
    reading_ops: dict[int, Op]  # seq -> each prefetch read not yet applied or cancelled

    # -- services the executors and policies call ---------------------------------------------
    def reclaim(
        self,
        n: int,
        now_ns: int,
        write_cls: int,
        start_now: bool = False,
        for_prefetch: bool = False,
    ) -> int:
        """Take up to n victims from the policy; returns frames freed at once."""
        if n <= 0:
            return 0
        clean_only = self.pool.free_slots == 0
        if not (clean_only or start_now or for_prefetch):
            freed = self._reclaim_kept(n, now_ns, write_cls)
            if freed >= 0:
                return freed
        victims = np.asarray(self.policy.victims(n, now_ns, clean_only=clean_only), dtype=np.int64)
        return self.evict(
            victims, now_ns, write_cls, start_now=start_now, for_prefetch=for_prefetch
        )

    def _reclaim_kept(self, n: int, now_ns: int, write_cls: int) -> int:
        """reclaim's victims taken and evicted in one compiled call when the policy's victims
        are a kept list of the oldest pages (`victim_list`) that can supply them, with the
        writes queued as evict queues them; -1 (nothing done) otherwise."""
        victim_list = getattr(self.policy, "victim_list", None)
        kept: Oldest | None = victim_list() if victim_list is not None else None
        pool = self.pool
        if kept is None or kept._requeued(pool) != kept.requeued:
            return -1
        batch = self.write_batch_pages
        scalars, ops, op_pages = pool.eviction_buffers(n, batch)
        c = self.counters
        head = reclaim_kept(
            kept.pages, kept.keys, kept.before_ns, n, now_ns, pool.state,
            getattr(pool, kept.key), pool.vm_of, scalars, c.prefetch_wasted,
            c.swap_full_refused_pages, batch, ops, op_pages,
        )  # fmt: skip
        if head < 0:
            return -1
        kept.pages, kept.keys = kept.pages[head:], kept.keys[head:]
        freed = int(scalars[S_FREE_FRAMES]) - pool.free_frames
        for op in pool.after_eviction(scalars, ops, op_pages, write_cls, now_ns):
            self.writing_pending += op.pages.size
            self.device.submit(op)
        return freed

    def evict(
        self,
        pages: np.ndarray,
        now_ns: int,
        write_cls: int = BACKGROUND_WRITE,
        start_now: bool = False,
        for_prefetch: bool = False,
    ) -> int:
        """Evict resident pages (policies call this for proactive swap-out)."""
        pages = np.asarray(pages, dtype=np.int64)
        if pages.size == 0:
            return 0
        if for_prefetch:
            st = self.pool.state[pages]
            self.pool.evicted_for_prefetch[pages[(st >= CLEAN) & (st <= PREFETCHED)]] = True
            self.pool.any_evicted_for_prefetch = True
        freed, ops = self.pool.evict(
            pages,
            now_ns,
            write_cls,
            self.write_batch_pages,
            self.counters.prefetch_wasted,
            self.counters.swap_full_refused_pages,
        )
        for op in ops:
            self.writing_pending += op.pages.size
            if start_now:
                self.device.start_now(op, now_ns)
            else:
                self.device.submit(op)
        return freed

    def prefetch(
        self, vm: int, pages: np.ndarray, now_ns: int, batch: int = 32, keep_free: int | None = None
    ) -> list[Op]:
        """Read swapped pages of a VM ahead of use (prefetch class). Returns the reads queued
        (so a policy can cancel them later); their pages are the pages issued.

        Never takes the free frames below the low watermark (or keep_free): prefetch must
        not make reclaim evict what running VMs need."""
        pages = np.asarray(pages, dtype=np.int64)
        if pages.size == 0:
            return []
        pages = pages[self.pool.state[pages] == SWAPPED]
        _, keep = np.unique(pages, return_index=True)
        pages = pages[np.sort(keep)]
        reserve = self.low_wm if keep_free is None else keep_free
        room = max(0, self.pool.free_frames - reserve)
        pages = pages[:room]
        if pages.size == 0:
            return []
        self.pool.start_prefetch(pages, now_ns)
        ops = []
        for lo in range(0, pages.size, batch):
            part = pages[lo : lo + batch]
            op = Op(PREFETCH_READ, vm, part, now_ns)
            self.device.submit(op)
            ops.append(op)
            self.reading_seq[part] = op.seq
            self.reading_ops[op.seq] = op
        self.counters.prefetch_issued[vm] += int(pages.size)
        return ops

    def write_back(self, pages: np.ndarray, now_ns: int) -> int:
        """Write dirty resident pages to swap without evicting them (background class), so a
        later eviction needs no write. A page touched after its write began stays dirty.
        Returns pages submitted."""
        pages = np.asarray(pages, dtype=np.int64)
        pages = np.unique(pages[self.pool.state[pages] == DIRTY])
        if pages.size == 0:
            return 0
        vms = self.pool.vm_of[pages]
        batch = self.write_batch_pages
        for vm in np.unique(vms).tolist():
            group = pages[vms == vm]
            for lo in range(0, group.size, batch):
                part = group[lo : lo + batch]
                self.device.submit(Op(BACKGROUND_WRITE, vm, part, now_ns, keep=True))
        return int(pages.size)

    def cancel_ops(self, ops: list[Op], now_ns: int) -> int:
        """Cancel queued (not yet started) prefetches; their frames are freed."""
        n = 0
        for op in ops:
            if op.start_ns >= 0 or op.cancelled:
                continue
            op.cancelled = True
            self.device.cancellations += 1
            self.pool.finish_prefetch(op, now_ns)
            self.reading_seq[op.pages] = -1
            self.reading_ops.pop(op.seq, None)
            self.counters.prefetch_issued[op.vm] -= int(op.pages.size)
            n += int(op.pages.size)
        return n

    def queued_prefetches(self, vm: int) -> list[Op]:
        """The prefetch reads of vm still waiting for the device."""
        return [op for op in self.device.queues[PREFETCH_READ] if op.vm == vm and not op.cancelled]

    def _apply(self, op: Op) -> None:
        """A finished operation takes effect. Swap-outs are counted here, and only here: a
        page counts once a write that succeeded has left it on swap (evicted or cleaned)."""
        if op.cls == PREFETCH_READ:
            self.pool.finish_prefetch(op, op.done_ns)
            if self.recorder is not None and not op.cancelled:
                self.recorder.note_prefetch_landed(op.vm, int(op.pages.size))
            mine = op.pages[self.reading_seq[op.pages] == op.seq]
            self.reading_seq[mine] = -1
            self.reading_ops.pop(op.seq, None)
        elif op.keep:
            # A write-back: pages untouched since it began are clean now (with a swap slot).
            pool = self.pool
            if op.failed or op.cancelled:
                return
            ok = (pool.state[op.pages] == DIRTY) & (pool.last_use_ns[op.pages] <= op.start_ns)
            clean = op.pages[ok][: pool.free_slots]
            pool.state[clean] = CLEAN
            pool.free_slots -= int(clean.size)
            self.counters.swap_out_pages[op.vm] += int(clean.size)
            self.counters.swap_full_refused_pages[op.vm] += int(np.count_nonzero(ok)) - clean.size
        else:
            still = int(np.count_nonzero(self.pool.state[op.pages] == WRITING))
            self.writing_pending -= still
            self.counters.swap_out_pages[op.vm] += self.pool.finish_write(op)

    def complete_until(self, t: int) -> None:
        """Every device operation finished by time t takes effect, in order of completion.
        A run of successful writes that free frames lands in one call (the same, in order)."""
        done = self.device.pop_completed(t)
        i = 0
        while i < len(done):
            j = i
            while j < len(done) and frees_frames(done[j]):
                j += 1
            if j - i > 1:
                self.writing_pending -= self.pool.finish_writes(
                    done[i:j], self.counters.swap_out_pages
                )
                i = j
            else:
                self._apply(done[i])
                i += 1

    def finish_op_early(self, op: Op) -> None:
        """A fault waits for this in-flight read: take it off the device and apply it now."""
        self.device.take_op(op)
        self._apply(op)

    def fault_extra_pages(self, vm: int, page: int, now_ns: int) -> np.ndarray:
        """Pages read along with a major fault: the aligned readahead cluster, or the
        policy's own choice when it does not use the cluster."""
        base = int(self.pool.base[vm])
        top = int(self.pool.base[vm + 1])
        if not self.policy.vector_readahead:
            extra = self.policy.fault_prefetch(vm, page, now_ns)
            if extra is None or len(extra) == 0:
                return np.zeros(0, dtype=np.int64)
            extra = np.asarray(extra, dtype=np.int64)
            extra = extra[(extra >= base) & (extra < top) & (extra != page)]
            extra = extra[self.pool.state[extra] == SWAPPED]
            _, keep = np.unique(extra, return_index=True)
            return extra[np.sort(keep)]
        cluster = int(self.ra_cluster[vm])
        if cluster <= 1:
            return np.zeros(0, dtype=np.int64)
        lo = base + ((page - base) // cluster) * cluster
        members = np.arange(lo, min(lo + cluster, top), dtype=np.int64)
        members = members[members != page]
        return members[self.pool.state[members] == SWAPPED]

    def major_fault_bookkeeping(self, vm: int, page: int, extra: np.ndarray, done: int) -> None:
        """Book a major fault of page with its extra pages read along, landing at done."""
        pool, c = self.pool, self.counters
        n_read = 1 + int(extra.size)
        pool.free_frames -= n_read
        if extra.size:
            pool.state[extra] = PREFETCHED
            pool.load_ns[extra] = done
            pool.last_use_ns[extra] = done
            pool.ref_bit[extra] = False
        c.major_faults[vm] += 1
        c.swap_in_pages[vm] += n_read
        c.readahead_pages[vm] += int(extra.size)
        c.prefetch_issued[vm] += int(extra.size)
        if pool.evicted_for_prefetch[page]:
            c.pollution_faults[vm] += 1
            pool.evicted_for_prefetch[page] = False


def frees_frames(op: Op) -> bool:
    """A successful write of pages being evicted (not a write-back, which keeps them)."""
    return op.cls in (WRITE_TO_FREE, BACKGROUND_WRITE) and not (
        op.failed or op.cancelled or op.keep
    )
