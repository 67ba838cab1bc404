"""The layout of the small int64 arrays the compiled kernels share with Python (settings in,
counters and device figures in and out, write operations out), and why a kernel returned.

Numba checks the type of a tuple argument slowly, in Python, at every call, so the kernels take
flat arrays indexed by these slots instead of tuples or records.
"""

from __future__ import annotations

# Slots of direct reclaim's settings (an int64 array; its arrays are passed one by one, as
# numba checks the type of a tuple argument slowly, in Python, at every call).
R_ENABLED = 0  # 0: the kernel hands every fault without a free frame to Python
R_BATCH = 1  # victims per direct reclaim
R_WRITE_BATCH = 2  # most pages per write operation
R_BEFORE_NS = 3  # the kept list's pages may be taken only with keys older than this
R_REQUEUED = 4  # the count of requeued pages when the list was made
R_WRITE_FAILURES = 5  # the pool's failed writes now
R_COUNT_RESCUES = 6  # 1: rescues requeue pages with old keys too (FIFO)
R_KEEP = 7  # pages a full selection keeps (victims.Oldest.keep)
R_STEP_START_NS = 8  # the current step's start: a list made now takes keys older than it
N_RECLAIM = 9

# Why a kernel returned (besides running out of time, burst or window: GO_ON).
GO_ON = 0
NEEDS_PYTHON = 1  # the next reference needs step_one (it is still pending)
WAIT_FOR_FRAME = 2  # reclaim freed no frame at once: wait for a write (executor.wait_for_frame)

# Slots of the per-call delta of a VM's counters (added to engine.metrics.Counters after).
D_REFERENCES = 0
D_CPU_NS = 1
D_MINOR = 2
D_FAULT_CPU_NS = 3
D_PREFETCH_USED = 4
D_MAJOR = 5
D_STALL_NS = 6
D_SWAP_IN = 7
D_READAHEAD = 8
D_PREFETCH_ISSUED = 9
D_POLLUTION = 10
N_DELTAS = 11
DELTA_COUNTERS = (
    "references",
    "cpu_ns",
    "minor_faults",
    "fault_cpu_ns",
    "prefetch_used",
    "major_faults",
    "stall_ns",
    "swap_in_pages",
    "readahead_pages",
    "prefetch_issued",
    "pollution_faults",
)

# Slots of the pool and paging scalars the kernels read and update in place.
S_FREE_FRAMES = 0
S_FREE_SLOTS = 1
S_RESCUES = 2
S_WRITING_PENDING = 3
S_LIST_HEAD = 4  # how far into the victim list's kept pages the kernel has taken
S_N_OPS = 5  # write operations recorded in ops
S_OP_PAGES = 6  # pages of those operations, in op_pages
S_LIST_END = 7  # -1: the kernel made no list; else the list's length in its buffer
N_SCALARS = 8
LIST_GONE = -2  # S_LIST_END: the list the kernel made was overwritten; Python keeps none

# Slots of the device's demand-read figures: its settings, then its statistics.
V_LATENCY_NS = 0
V_PAGE_NS = 1
V_OP_NS = 2
V_PAGES_DONE = 3
V_BUSY_NS = 4
V_OPS_DONE = 5
V_DEMAND_OPS = 6
V_WRITE_PAGE_NS = 7
V_WRITE_OP_NS = 8
V_WRITE_BUSY_NS = 9  # busy time of the write-to-free class
V_SEQ = 10  # the device's next operation number
N_DEVICE = 11

# Columns of a write operation recorded by direct reclaim (pages op_pages[lo:hi]).
OP_VM, OP_ISSUE, OP_LANE, OP_START, OP_DONE, OP_SEQ, OP_LO, OP_HI = range(8)
N_OP_COLUMNS = 8
