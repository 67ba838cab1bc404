"""The compiled hot path: numba kernels that run a vCPU's references one at a time over the
pool's arrays, exactly as `engine.executor.step_one` does, returning to Python only where a
decision or Python-side state is needed. `python -m engine.hotpath.warm` compiles them into
numba's on-disk cache (next to these sources) so no user waits for the compiler."""

# Every kernel is compiled with `nogil=True`: it touches only arrays, so while one runs the
# interpreter lock is free for the web server's event loop and other sessions' threads.

from engine.hotpath import cached_load
from engine.hotpath.cache_guard import drop_stale_kernels

# Before any kernel module loads its cached machine code (see cache_guard: numba alone would
# keep a caller compiled against an edited callee).
drop_stale_kernels()
# And before the first load: numba's readying of its compiler is left to a compile (cached_load).
cached_load.install()
