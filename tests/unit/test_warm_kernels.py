"""The warm-up (`python -m engine.hotpath.warm`, run by `make install`) reaches predictive's
lead times, so the served app does not compile them at its first predictive run."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT

# In a fresh process, so that only the warm-up can have compiled (or loaded) anything.
COMPILED = """
import json
from engine.hotpath import lead_time
from engine.hotpath.warm import warm
warm()
kernels = (lead_time.restore_lead_ns, lead_time.deliverable_pages)
print(json.dumps({k.py_func.__name__: len(k.signatures) for k in kernels}))
"""


def test_the_warm_up_compiles_predictives_lead_times() -> None:
    """After the warm-up in a fresh process, both lead-time kernels predictive calls from
    Python have a compiled signature (its first runs used to end before any VM was due)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", COMPILED],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
    )
    compiled = json.loads(out.stdout.strip().splitlines()[-1])
    assert compiled == {"restore_lead_ns": 1, "deliverable_pages": 1}
