"""The exceptions of sweeps: a sweep that cannot be used, a cluster that cannot finish it, and
a sweep stopped on request."""

from __future__ import annotations

from engine.errors import FieldError, VmswapError


class SweepError(FieldError):
    """A sweep file, or a sweep built in the web app, holds a value it cannot use."""


class ClusterError(VmswapError):
    """The cluster could not finish the sweep: unreachable, no workers, a worker died."""


class SweepCancelled(VmswapError):
    """The caller asked the sweep to stop; finished runs stay in the journal."""
