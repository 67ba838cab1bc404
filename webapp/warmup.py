"""The server's own work before anyone asks: the page's modules imported and the default
scenario's runs (A, B and demand paging for coverage) computed when the server starts, so the
first visitor gets a frame at once; with VMSWAP_WARM=all every other shipped scenario's runs
follow, one run at a time, so switching scenario is served from memory too.

Started by `panel serve webapp/app.py --setup webapp/warmup.py` (Panel runs the setup file
once, before it serves). The runs are pinned for the server's life (webapp.shared_runs.PINNED):
a fixed cost, the same for one session or a hundred. A visitor who asks for a run the warm-up
is computing waits for it rather than computing it beside it.
"""

from __future__ import annotations

import gc
import importlib
import logging
import os
import threading
import time
from typing import Any

log = logging.getLogger("webapp.warmup")
# The server's log says when it is warm (Bokeh sets only its own loggers to INFO).
log.setLevel(logging.INFO)

WARM_ENV = "VMSWAP_WARM"
SCOPES = ("default", "all", "none")
# Imported before the server answers: a first session would otherwise pay for them (~3 s).
PAGE_MODULES = (
    "webapp.app",
    "webapp.trace_view",
    "webapp.sweep_view",
    "panel.models.tabulator",
)

_started: threading.Thread | None = None
_start_lock = threading.Lock()
finished = threading.Event()  # set once every run the scope asks for is computed (or failed)
timings_s: dict[str, float] = {}  # scenario name -> seconds its runs took here


def scope_from_env() -> str:
    """VMSWAP_WARM: 'default' (unset), 'all' or 'none'; an unknown value warns and means
    'default' (a typo must not stop the server)."""
    scope = os.environ.get(WARM_ENV, "default").strip().lower() or "default"
    if scope not in SCOPES:
        log.warning("%s=%r is not one of %s; warming the default scenario", WARM_ENV, scope, SCOPES)
        return "default"
    return scope


def import_page_modules() -> None:
    """Import what building a session needs (optional tabs may be absent)."""
    for name in PAGE_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise


def needed_runs(name: str) -> tuple[Any, dict[str, Any], list[dict[str, Any]]]:
    """(scenario, its dict, policies) of the runs a session opening shipped scenario `name`
    asks for: its default A and B, and demand paging (for coverage) when neither is. Built as
    the controller builds them (trace paths resolved, validated, within the web limits), so
    the keys are the ones the session looks up."""
    from engine import from_dict, load_scenario
    from engine.policies import validate_policy
    from webapp.runner import check_limits, resolve_traces
    from webapp.state import SCENARIO_DIR, default_policies

    loaded = load_scenario(SCENARIO_DIR / f"{name}.toml")
    scenario = from_dict(resolve_traces(loaded.to_dict()), source="scenario")
    check_limits(scenario)  # a scenario too large for the web app is refused to visitors too
    a, b = (validate_policy(p) for p in default_policies(loaded.policy))
    needed = [a, b] if "demand" in (a["name"], b["name"]) else [a, b, {"name": "demand"}]
    return scenario, scenario.to_dict(), [validate_policy(p) for p in needed]


def warm_scenario(name: str) -> None:
    """Compute and pin the runs a session opening shipped scenario `name` needs, each in a
    compute turn like a session's (sessions get theirs in between)."""
    from webapp import priority, shared_runs
    from webapp.runner import _compute_slots as compute_turns  # shared with every session
    from webapp.runner import run_key, run_one
    from webapp.state import default_scenario_file

    scenario, scenario_dict, policies = needed_runs(name)
    never = threading.Event()  # nobody supersedes the server's own runs
    # Only the default scenario is what a first visitor waits for; the others give way to
    # any visitor waiting for a page or a frame.
    yield_to = None if name == default_scenario_file() else priority.yield_to_foreground
    for policy in policies:
        with compute_turns:
            result = run_one(scenario, scenario_dict, policy, never, yield_to=yield_to)
        shared_runs.pin(run_key(scenario_dict, policy), result)


def warm(names: list[str]) -> None:
    """Warm each scenario in turn; a failure is logged and the next one still warms."""
    started = time.perf_counter()
    try:
        for name in names:
            t0 = time.perf_counter()
            try:
                warm_scenario(name)
            except Exception:
                log.exception("warming scenario %r failed", name)
                continue
            timings_s[name] = time.perf_counter() - t0
            log.info("warm: %s computed in %.1f s", name, timings_s[name])
    finally:
        log.info(
            "warm: finished %d of %d scenarios in %.1f s",
            len(timings_s),
            len(names),
            time.perf_counter() - started,
        )
        finished.set()


def scenarios_for(scope: str) -> list[str]:
    """The shipped scenarios a scope warms, the default one first."""
    from webapp.state import CUSTOM, default_scenario_file, scenario_files

    if scope == "none":
        return []
    first = default_scenario_file()
    names = [] if first == CUSTOM else [first]
    if scope == "all":
        names += [n for n in scenario_files() if n not in names]
    return names


def start(scope: str | None = None, at_server_start: bool = False) -> threading.Thread | None:
    """Import the page's modules here and now, then compute the scope's runs on a daemon
    thread (the server starts serving meanwhile). Idempotent: the first call wins.
    `at_server_start`: no session exists yet, so everything alive now is the server's own."""
    global _started
    with _start_lock:
        if _started is not None:
            return _started
        import_page_modules()
        if at_server_start:
            # What exists now (modules, classes, the app's constants) lives as long as the
            # server: out of the collector's scans, each full collection holds the event
            # loop (every session's frames) for less time. Not later: a session's objects
            # frozen would never be collected. Hunting a leak: gc.get_referrers does not search
            # frozen objects (gc.unfreeze() first); Bokeh's global State, frozen here, once held
            # a closed session's document (webapp.doc_timers says how).
            gc.collect()
            gc.freeze()
        names = scenarios_for(scope or scope_from_env())
        thread = threading.Thread(target=warm, args=(names,), name="vmswap-warmup", daemon=True)
        thread.start()
        _started = thread
        return thread


if __name__ == "panel_setup_module":  # `panel serve ... --setup webapp/warmup.py`
    # Panel runs this file's text in a module of its own: start the real module's warm-up,
    # so that its state lives where the sessions look (webapp.warmup, webapp.shared_runs).
    from webapp import warmup as _warmup

    _warmup.start(at_server_start=True)
