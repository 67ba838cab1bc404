"""Kernels load from numba's cache without numba readying its compiler, and still compile."""

from __future__ import annotations

from pathlib import Path

from engine.hotpath import cached_load
from tests.helpers import fresh_python_json

# A module numba imports only while readying its compiler (the refresh), never to load a kernel.
COMPILER_ONLY_MODULE = "numba.typed.typeddict"
# Modules numba's own load imports to rebuild the environments of the array and list functions
# compiled into the kernels; the lean load leaves them unimported.
ENV_ONLY_MODULES = ("numba.np.arrayobj", "numba.cpython.listobj")

KERNEL_SOURCE = """
from numba import njit

@njit(cache=True)
def add_one(values):
    out = values.copy()
    for i in range(out.size):
        out[i] += 1
    return out
"""

PROBE = """
import json, sys
import numpy as np
import engine.hotpath  # installs the lean load
sys.path.insert(0, sys.argv[1])
from kernel import add_one
print(json.dumps({
    "values": add_one(np.arange(4)).tolist(),
    "hits": sum(add_one.stats.cache_hits.values()),
    "misses": sum(add_one.stats.cache_misses.values()),
    "compiler_readied": "COMPILER_ONLY" in sys.modules,
}))
""".replace("COMPILER_ONLY", COMPILER_ONLY_MODULE)

RUN = """
import json, sys
import engine.hotpath.cached_load as lean
if sys.argv[1] == "full":
    lean.Cache.load_overload = lean.FULL_LOAD
    lean.environment._rebuild_env = lean.FULL_REBUILD_ENV
from engine import load_scenario, simulate
run = simulate(load_scenario("scenarios/quickstart.toml"), "demand", record=False)
print(json.dumps({
    "summary": run.summary,
    "compiler_readied": "COMPILER_ONLY" in sys.modules,
    "env_modules": [name for name in ENV_ONLY if name in sys.modules],
}))
""".replace("COMPILER_ONLY", COMPILER_ONLY_MODULE).replace("ENV_ONLY", repr(ENV_ONLY_MODULES))


def test_install_is_idempotent_and_on_once_the_hot_path_is_imported() -> None:
    """Importing the hot path installs the lean load; installing again changes nothing."""
    assert cached_load.installed()
    assert cached_load.install() is True
    assert cached_load.installed()


def test_a_kernel_compiles_when_uncached_and_then_loads_without_the_compiler(
    tmp_path: Path,
) -> None:
    """A kernel the cache lacks is compiled (numba readies its compiler for that); the next
    process loads it from the cache without readying the compiler, with the same results."""
    (tmp_path / "kernel.py").write_text(KERNEL_SOURCE)
    first = fresh_python_json(PROBE, str(tmp_path))
    assert first == {"values": [1, 2, 3, 4], "hits": 0, "misses": 1, "compiler_readied": True}
    second = fresh_python_json(PROBE, str(tmp_path))
    assert second == {"values": [1, 2, 3, 4], "hits": 1, "misses": 0, "compiler_readied": False}


def test_a_run_from_the_lean_load_matches_numbas_own_load() -> None:
    """A scenario run with kernels loaded the lean way gives numba's own load's figures,
    without importing the modules numba imports only to rebuild environments."""
    full = fresh_python_json(RUN, "full")  # first: it compiles any kernel the cache lacks
    lean = fresh_python_json(RUN, "lean")
    assert full["compiler_readied"] is True
    assert lean["compiler_readied"] is False
    assert full["env_modules"] == list(ENV_ONLY_MODULES)
    assert lean["env_modules"] == []
    assert lean["summary"] == full["summary"]


def test_an_environment_is_rebuilt_over_its_module_once_that_is_imported() -> None:
    """The lean rebuild uses an imported module's own globals, a stand-in naming the module
    otherwise, keeps the constants, and returns the environment already made for a name."""
    env = cached_load._rebuild_env_unimported("engine.hotpath.cached_load", [1, 2], "t$env$1")
    assert env.globals is cached_load.__dict__
    assert list(env.consts) == [1, 2]
    assert cached_load._rebuild_env_unimported("x", [], "t$env$1") is env
    stand_in = cached_load._rebuild_env_unimported("no.such.module", [], "t$env$2")
    assert stand_in.globals == {"__name__": "no.such.module"}
    assert stand_in.can_cache()
