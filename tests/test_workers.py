"""`make test`'s two workers keep each test group together (tests/conftest.py: group_of): a
module's tests share its fixtures and caches, and a compiled reference is compiled once, not
once in each worker. xdist groups through the test's id, which a pytest it does not know can
silently ignore: this runs two modules on two workers, as `make test` does, and reads where
each test ran."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict

from tests.conftest import ROOT

MODULES = ("tests/unit/test_lead_time.py", "tests/unit/test_cache_guard.py")


def test_each_module_runs_on_one_worker_as_one_group() -> None:
    """Every test of a module reports its module's group and the same worker."""
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup",
         "--no-loadscope-reorder", "-v", "-p", "no:cacheprovider", *MODULES],
        capture_output=True, text=True, cwd=ROOT, check=True,
    ).stdout  # fmt: skip
    workers: dict[str, set[str]] = defaultdict(set)
    for worker, nodeid in re.findall(r"\[(gw\d)\] \[ *\d+%\] PASSED (\S+)", out):
        test, _, group = nodeid.partition("@")
        module = test.split("::", 1)[0]
        assert group == module, f"{test} ran in group {group!r}, not its module's"
        workers[module].add(worker)
    assert set(workers) == set(MODULES), out[-2000:]
    assert all(len(ran_on) == 1 for ran_on in workers.values()), dict(workers)
