"""Browser tests: Debian's Chromium driven by Playwright against the app served exactly as
users run it (`python -m panel serve webapp/app.py`) on a free port (../shared/TESTING.md)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.served import ARTIFACTS, CHROMIUM_ARGS, chromium_path, served_app


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if chromium_path() is None:
        skip = pytest.mark.skip(reason="Chromium not found (install Debian's chromium)")
        for item in items:
            if "ui" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": chromium_path(), "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def app_url() -> Iterator[str]:
    """The app served in a subprocess; its URL. Stopped (and waited for) at the end."""
    with served_app(name="ui-server") as app:
        yield app.url


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
