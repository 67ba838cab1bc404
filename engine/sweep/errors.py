"""The exceptions of sweeps: a sweep that cannot be used, a cluster that cannot finish it, and
a sweep stopped on request."""

from __future__ import annotations

from engine.errors import VmswapError


class SweepError(VmswapError, ValueError):
    """A sweep file, or a sweep built in the web app, holds a value it cannot use."""

    def __init__(self, message: str, *, source: str | None = None, field: str | None = None):
        self.source = source
        self.field = field
        prefix = ": ".join(p for p in (source, field) if p)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class ClusterError(VmswapError):
    """The cluster could not finish the sweep: unreachable, no workers, a worker died."""


class SweepCancelled(VmswapError):
    """The caller asked the sweep to stop; finished runs stay in the journal."""
