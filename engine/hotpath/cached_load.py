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

A cached kernel also names, for each function compiled into it, the module whose globals that
function's environment holds, and numba imports that module to rebuild the environment. For
functions numba supplies itself (array allocation, list growth) those are `numba.np.arrayobj`
and `numba.cpython.listobj`, imported only for that: about 30 ms of CPU in each process of
`vmswap run`. Compiled nopython code reads an environment's constants, never its globals (only
object mode does, and every kernel here is nopython), so an environment whose module is not
imported yet is rebuilt over a stand-in that holds the module's name alone (what numba checks
before caching); the module itself is imported when something else needs it (a compile).
"""

from __future__ import annotations

import sys
from collections.abc import MutableMapping
from typing import Any

from numba.core import environment
from numba.core.caching import Cache
from numba.core.environment import Environment, lookup_environment
from numba.core.registry import cpu_target
from numba.core.runtime import nrt

# numba's own load (refresh, then load) and environment rebuild, kept for the tests.
FULL_LOAD = Cache.load_overload
FULL_REBUILD_ENV = environment._rebuild_env


def _load_without_refresh(self: Any, sig: Any, target_context: Any) -> Any:
    """Cache.load_overload with the refresh narrowed to the runtime's start-up: None where the
    cache has no entry for sig (numba then compiles, refreshing first)."""
    nrt.rtsys.initialize(target_context)
    with self._guard_against_spurious_io_errors():
        return self._load_overload(sig, target_context)


def ready_runtime() -> None:
    """Start numba's runtime now, as the first load would (compiling its few functions: about
    20 ms): a process that forks children which load kernels starts it once for them all."""
    nrt.rtsys.initialize(cpu_target.target_context)


def _rebuild_env_unimported(modname: str, consts: list[Any], env_name: str) -> Any:
    """numba's `_rebuild_env` (the function a cached kernel's pickle calls) without importing
    modname: over the module's globals where it is imported already, else over a stand-in."""
    env = lookup_environment(env_name)
    if env is not None:
        return env
    module = sys.modules.get(modname)
    env = Environment(module.__dict__ if module is not None else {"__name__": modname})
    env.consts[:] = consts
    env.env_name = env_name
    Environment._memo[env_name] = env
    return env


def _has_expected_shape() -> bool:
    """numba's Cache loads through the two methods the lean load calls, its runtime has the
    start-up it needs, and environments are memoised as the stand-in's rebuild does (numba
    0.5x–0.6x)."""
    return (
        all(
            callable(getattr(Cache, name, None))
            for name in ("_guard_against_spurious_io_errors", "_load_overload")
        )
        and callable(getattr(nrt.rtsys, "initialize", None))
        and isinstance(getattr(Environment, "_memo", None), MutableMapping)
    )


def install() -> bool:
    """Make numba's cache load without the refresh (once; idempotent); True if it does."""
    if Cache.load_overload is _load_without_refresh:
        return True
    if not _has_expected_shape():
        return False
    Cache.load_overload = _load_without_refresh  # type: ignore[method-assign]
    # Found by name when a cached kernel is unpickled: replaced where numba defines it.
    environment._rebuild_env = _rebuild_env_unimported
    return True


def installed() -> bool:
    """Whether numba's cache loads without the refresh in this process."""
    return Cache.load_overload is _load_without_refresh
