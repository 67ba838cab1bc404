"""Loading a kernel from numba's on-disk cache without readying numba's compiler first.

Before every load from its cache numba refreshes its target context "to ensure it is
initialized": the first time, that imports and installs every typing and lowering registry
numba has (about 0.1 s of CPU, an eighth of `vmswap run scenarios/nvme_8vm_2x.toml`), which
only compiling reads. Rebuilding cached machine code needs numba's runtime (NRT, whose symbols
the code links against) and the modules its environments name, which the rebuild imports
itself. So a load here readies the runtime alone. A kernel the cache does not hold is compiled
as before: numba's compiler refreshes the context itself before it types anything
(`numba.core.compiler.CompilerBase`). Where numba's cache lacks the shape relied on here (another
numba version), nothing is replaced and numba loads as it always did.
"""

from __future__ import annotations

from typing import Any

from numba.core.caching import Cache
from numba.core.runtime import nrt

# numba's own load (refresh, then load), kept for `installed()` and the tests.
FULL_LOAD = Cache.load_overload


def _load_without_refresh(self: Any, sig: Any, target_context: Any) -> Any:
    """Cache.load_overload with the refresh narrowed to the runtime's start-up: None where the
    cache has no entry for sig (numba then compiles, refreshing first)."""
    nrt.rtsys.initialize(target_context)
    with self._guard_against_spurious_io_errors():
        return self._load_overload(sig, target_context)


def _has_expected_shape() -> bool:
    """numba's Cache loads through the two methods the lean load calls, and its runtime has the
    start-up it needs (true of numba 0.5x–0.6x)."""
    return all(
        callable(getattr(Cache, name, None))
        for name in ("_guard_against_spurious_io_errors", "_load_overload")
    ) and callable(getattr(nrt.rtsys, "initialize", None))


def install() -> bool:
    """Make numba's cache load without the refresh (once; idempotent); True if it does."""
    if Cache.load_overload is _load_without_refresh:
        return True
    if not _has_expected_shape():
        return False
    Cache.load_overload = _load_without_refresh  # type: ignore[method-assign]
    return True


def installed() -> bool:
    """Whether numba's cache loads without the refresh in this process."""
    return Cache.load_overload is _load_without_refresh
