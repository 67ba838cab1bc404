"""Browser tests: Debian's Chromium driven by Playwright against the app served exactly as
users run it (`python -m panel serve webapp/app.py`) on a free port (../shared/TESTING.md)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
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


def chromium_path() -> str | None:
    exe = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    return exe if exe and Path(exe).exists() else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if chromium_path() is None:
        skip = pytest.mark.skip(reason="Chromium not found (install Debian's chromium)")
        for item in items:
            if "ui" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": chromium_path(), "args": CHROMIUM_ARGS}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def app_url() -> Iterator[str]:
    """The app served in a subprocess; its URL. Stopped (and waited for) at the end."""
    port = free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log = ARTIFACTS / "ui-server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "panel",
                "serve",
                "webapp/app.py",
                "--address",
                "127.0.0.1",
                "--port",
                str(port),
                "--allow-websocket-origin",
                f"127.0.0.1:{port}",
                "--liveness",
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/liveness", timeout=2):
                        break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"the app did not start; see {log}") from None
                    time.sleep(0.2)
            yield f"http://127.0.0.1:{port}/app"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def shot(page):
    """shot(name): save a screenshot under artifacts/ and return its path."""

    def take(name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"ui-{name}.png"
        page.mouse.move(2, 2)
        page.screenshot(path=str(path))
        return path

    return take
