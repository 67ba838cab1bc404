"""The app served as users run it (`python -m panel serve webapp/app.py`) in a subprocess on a
free port, and the Chromium that opens it. One implementation for tests/ui, tests/security and
benchmarks/ (which put the repository on sys.path and import it from here)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class AppDidNotStart(RuntimeError):
    """The server exited, or did not answer, before the time allowed for its start was up."""


def chromium_path() -> str | None:
    """Debian's Chromium (or $CHROMIUM), None when this machine has none."""
    exe = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    return exe if exe and Path(exe).exists() else None


def free_port() -> int:
    """A port free now. Under xdist each worker takes only ports of its own residue (gw0 even,
    gw1 odd, with two workers), so two workers starting servers at once cannot both be handed
    the same port in the moment between this check and the server's bind. (Linux hands out
    even ports to bind(0), so the residue is set on the port it gives, then checked free.)"""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    index = int(worker) % workers if worker.isdigit() else 0
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        port += index - port % workers
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue  # taken: ask again
            return port


@dataclass
class Served:
    url: str  # the app's page, e.g. http://127.0.0.1:PORT/app
    port: int
    proc: subprocess.Popen
    log: Path | None  # None: the server's output was discarded

    def log_text(self) -> str:
        if self.log is None:
            return ""
        return self.log.read_text(encoding="utf-8", errors="replace")


@contextlib.contextmanager
def served_app(
    command: list[str] | None = None,
    name: str | None = "served-app",
    timeout_s: float = 90.0,
    env: dict[str, str] | None = None,
) -> Iterator[Served]:
    """`python -m panel serve webapp/app.py` on a free port as `make run` serves it (the default
    scenario's runs computed at start, webapp/warmup.py), or `command` with PORT replaced;
    its output in artifacts/NAME.log (discarded when name is None), stopped and waited for at
    the end; `env` is added to its environment. Raises AppDidNotStart when it does not answer
    within timeout_s."""
    port = free_port()
    if command is None:
        command = [
            sys.executable,
            *("-m", "panel", "serve", "webapp/app.py", "--address", "127.0.0.1"),
            *("--port", "PORT", "--allow-websocket-origin", "127.0.0.1:PORT", "--liveness"),
            *("--setup", "webapp/warmup.py"),
        ]
    command = [c.replace("PORT", str(port)) for c in command]
    log = None if name is None else ARTIFACTS / f"{name}.log"
    if log is not None:
        ARTIFACTS.mkdir(exist_ok=True)
    with open(log or os.devnull, "w") as out:
        # Its own process group, so that stop() reaches what it starts (`make run` runs it as a
        # child, and a sweep its local cluster).
        proc = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/liveness", timeout=2):
                    break
            except urllib.error.HTTPError:
                break  # it answers (a command without --liveness says 404)
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    where = f"; see {log}" if log is not None else ""
                    raise AppDidNotStart(f"the app did not start{where}") from None
                time.sleep(0.2)
        yield Served(f"http://127.0.0.1:{port}/app", port, proc, log)
    finally:
        stop(proc)


# How long a server may take to exit after SIGTERM before it is killed. Bokeh stops its loop
# at once (0.4-1.8 s to exit here, after a session or none), but the interpreter then waits
# for the threads still simulating what sessions asked for: one module's server took 11 s.
# Nothing a test reads comes after the stop, so the wait is bounded.
STOP_GRACE_S = 3.0


def stop(proc: subprocess.Popen) -> None:
    """Terminate a server we started, with its process group, and wait for it."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
