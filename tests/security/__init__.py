"""Helpers of the security tests: one session wired the way `panel serve` wires it (without a
browser or a simulation) and what a readable message is. The app served in a subprocess, and
Chromium, come from tests.served."""

from __future__ import annotations

import contextlib
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

# What a message shown in the page must never contain: a Python traceback, a source
# location, or where the server keeps its files.
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+")
MAX_MESSAGE_CHARS = 600  # a message is read in the page, not scrolled


def server_paths() -> list[str]:
    """Absolute folders of this server that a message must not reveal."""
    return [str(ROOT), str(ROOT.parent / "shared"), str(Path(sys.prefix))]


def problems_of(message: Any) -> list[str]:
    """Why `message` is not a readable message for the page ([] when it is)."""
    if not isinstance(message, str) or not message.strip():
        return ["no message"]
    out = []
    if TRACEBACK.search(message):
        out.append("a traceback")
    out += [f"the server path {p}" for p in server_paths() if p in message]
    return out


# -- one session, as create_app() builds it when served -------------------------------------------


class IdleTimers:
    """An event loop that never gets to run its timers (debounces stay pending)."""

    def __init__(self) -> None:
        self.pending: list[tuple[float, Callable[[], None]]] = []

    def call_later(self, delay_s: float, fn: Callable[[], None]) -> Any:
        item = (delay_s, fn)
        self.pending.append(item)
        return item

    def cancel(self, handle: Any) -> None:
        with contextlib.suppress(ValueError):
            self.pending.remove(handle)

    def now(self) -> float:
        return time.monotonic()


class HeldRunner:
    """Takes the simulations a session asks for and never runs them (they are recorded)."""

    def __init__(self) -> None:
        self.submitted: list[Callable[[], Any]] = []

    def submit(self, fn: Callable[[], Any], done: Callable[[Any], None]) -> None:
        self.submitted.append(fn)

    def shutdown(self) -> None:
        self.submitted.clear()


@dataclass
class Session:
    state: Any
    controller: Any
    dashboard: Any
    runner: HeldRunner
    urls: list[str] = field(default_factory=list)


def new_session(args: dict[str, list[bytes]] | None = None) -> Session:
    """A session built from the request's query arguments exactly as `create_app()` does when
    served (session_args are bytes; only `run` is read), with a runner that holds the
    simulation instead of running it."""
    from webapp.controller import Controller
    from webapp.state import SessionState, default_scenario_file
    from webapp.urlcodec import QUERY_KEY
    from webapp.views.dashboard import Dashboard

    state = SessionState()
    dashboard = Dashboard(None)
    runner = HeldRunner()
    urls: list[str] = []
    controller = Controller(state, dashboard, runner, IdleTimers(), urls.append, "http://x/app")
    link = (args or {}).get(QUERY_KEY)
    if link:
        controller.load_link(link[0].decode("ascii", errors="replace"), run=False)
    else:
        controller.load_file(default_scenario_file(), run=False)
    dashboard.prepare(state.scenario.to_dict(), (state.policy_a.label(), state.policy_b.label()))
    if not controller.run_if_cached():
        controller.request_run(delay=0.0)  # what the page's onload asks for
    return Session(state, controller, dashboard, runner, urls)


def apply_link(session: Session, text: str) -> bool:
    """What a served session does with a link: load it, lay the panes out, ask for the run."""
    c, st = session.controller, session.state
    ok = c.load_link(text, run=False)
    session.dashboard.prepare(st.scenario.to_dict(), (st.policy_a.label(), st.policy_b.label()))
    if ok:
        c.request_run(delay=0.0)
    return ok


def small_link(seed: int = 5, **over: Any) -> str:
    """The share value of the small test scenario with its default A and B."""
    from engine.policies import validate_policy
    from tests.helpers import small_scenario
    from webapp import urlcodec
    from webapp.state import default_policies

    data = small_scenario(seed=seed, **over).to_dict()
    a, b = default_policies(data["policy"])
    return urlcodec.encode(data, validate_policy(a), validate_policy(b))


def raw_link(payload: Any, *, allow_nan: bool = False) -> str:
    """A v1 link around any JSON payload (not necessarily one the app would write)."""
    import base64
    import json
    import zlib

    raw = json.dumps(payload, allow_nan=allow_nan).encode("utf-8")
    return "v1." + base64.urlsafe_b64encode(zlib.compress(raw)).rstrip(b"=").decode("ascii")
