"""Share links: the whole scenario, both policies and the frame in one compact query value.

`?run=v1.<base64url(zlib(JSON))>`; the playback speed, the number of seeds, the seed shown and
the sides that are best demand ride along when they are not the defaults (the scenario carries
its own seed: the first). A best-demand side carries its demand switches, not the setting
chosen: the link chooses again (the same one: the engine is deterministic).
Decoding treats the text as untrusted input: sizes are capped before and after decompression,
only JSON is parsed, and every field goes through the engine's schema and budget
(`engine.from_dict`, `check_recording`, `validate_policy`). Any failure is one `LinkError` whose
message a user can read; no exception of another type escapes `decode`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from dataclasses import dataclass
from typing import Any

from engine import Scenario, from_dict
from engine.errors import VmswapError
from engine.policies import validate_policy
from engine.scenario import check_recording
from webapp.seeds import DEFAULT_SEEDS, MAX_SEEDS, seed_list
from webapp.state import SPEEDS_MS_PER_S

QUERY_KEY = "run"
VERSION = "v1"
MAX_LINK_CHARS = 32_768  # what a browser address bar carries comfortably
MAX_JSON_BYTES = 262_144  # a 256-VM scenario is ~60 KB of JSON
MAX_FRAME = 1_000_000
_KEYS = {"s", "a", "b", "f", "vm", "sp", "n", "ss", "bd"}
SIDES = ("A", "B")
_B64 = re.compile(r"^[A-Za-z0-9_-]*={0,2}$")


class LinkError(ValueError):
    """A share link that cannot be used; the message says why, in words."""


@dataclass(frozen=True)
class SharedRun:
    """What a link carries, validated."""

    scenario: Scenario
    policy_a: dict[str, Any]
    policy_b: dict[str, Any]
    frame: int
    vm: int
    speed: int | None = None  # simulated ms per second of playback; None: the app's default
    n_seeds: int | None = None  # seeds run for the statistics; None: the app's default
    shown_seed: int | None = None  # the seed on display; None: the scenario's own
    best_demand: tuple[str, ...] = ()  # sides ("A", "B") whose demand readahead is tuned


def encode(
    scenario: dict[str, Any],
    policy_a: dict[str, Any],
    policy_b: dict[str, Any],
    frame: int = 0,
    vm: int = 0,
    speed: int | None = None,
    n_seeds: int | None = None,
    shown_seed: int | None = None,
    best_demand: tuple[str, ...] = (),
) -> str:
    """The query value for a scenario dict (its seed the first of the seeds), both policy
    dicts, a frame, a playback speed, the number of seeds, the seed shown and the sides that
    are best demand."""
    payload = {"s": scenario, "a": policy_a, "b": policy_b, "f": int(frame), "vm": int(vm)}
    if speed is not None:
        payload["sp"] = int(speed)
    if n_seeds is not None:
        payload["n"] = int(n_seeds)
    if shown_seed is not None:
        payload["ss"] = int(shown_seed)
    if best_demand:
        payload["bd"] = [side for side in SIDES if side in best_demand]
    raw = json.dumps(payload, separators=(",", ":"), allow_nan=False).encode("utf-8")
    packed = base64.urlsafe_b64encode(zlib.compress(raw, 9)).rstrip(b"=").decode("ascii")
    return f"{VERSION}.{packed}"


def decode(text: Any) -> SharedRun:
    """Validate a query value into a SharedRun, or raise LinkError with a readable message."""
    try:
        return _decode(text)
    except LinkError:
        raise
    except VmswapError as exc:
        raise LinkError(f"the link's scenario is not valid: {exc}") from None
    except (ValueError, TypeError, RecursionError, MemoryError) as exc:
        raise LinkError(f"the link is damaged ({type(exc).__name__})") from None


def _decode(text: Any) -> SharedRun:
    if isinstance(text, bytes):
        text = text.decode("ascii", errors="replace")
    if not isinstance(text, str) or not text.strip():
        raise LinkError("the link carries no run")
    text = text.strip()
    if len(text) > MAX_LINK_CHARS:
        raise LinkError(
            f"the link is too long ({len(text):,} characters; at most {MAX_LINK_CHARS:,})"
        )
    version, dot, body = text.partition(".")
    if not dot:
        raise LinkError("the link is not a vmswap share link (no version prefix)")
    if version != VERSION:
        raise LinkError(f"link version {version[:12]!r} is not supported; this app reads {VERSION}")
    if not _B64.match(body):
        raise LinkError("the link is damaged (characters outside base64url)")
    try:
        body = body.rstrip("=")
        packed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raise LinkError("the link is damaged (bad base64)") from None
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(packed, MAX_JSON_BYTES + 1)
    except zlib.error:
        raise LinkError("the link is damaged (not compressed data)") from None
    if len(raw) > MAX_JSON_BYTES or inflater.unconsumed_tail:
        raise LinkError(f"the link's content is larger than {MAX_JSON_BYTES:,} bytes")
    if not inflater.eof:
        raise LinkError("the link is truncated")
    try:
        payload = json.loads(raw.decode("utf-8"), parse_constant=_no_constants)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise LinkError("the link is damaged (not JSON)") from None
    if not isinstance(payload, dict):
        raise LinkError("the link's content is not a table")
    unknown = sorted(set(payload) - _KEYS)
    if unknown:
        raise LinkError(f"the link has unknown keys: {', '.join(map(str, unknown))[:200]}")
    if not isinstance(payload.get("s"), dict):
        raise LinkError("the link carries no scenario")
    scenario = from_dict(payload["s"], source="link")
    check_recording(scenario, source="link")  # a link opens as a recorded run
    policy_a = _policy(payload.get("a", scenario.policy), "A")
    policy_b = _policy(payload.get("b", scenario.policy), "B")
    n_seeds = _n_seeds(payload.get("n"))
    return SharedRun(
        scenario,
        policy_a,
        policy_b,
        _int(payload.get("f", 0), "frame"),
        _int(payload.get("vm", 0), "vm"),
        _speed(payload.get("sp")),
        n_seeds,
        _shown_seed(payload.get("ss"), scenario.seed, n_seeds or DEFAULT_SEEDS),
        _best_demand(payload.get("bd"), {"A": policy_a, "B": policy_b}),
    )


def _best_demand(value: Any, policies: dict[str, dict[str, Any]]) -> tuple[str, ...]:
    """The best-demand sides: a list of "A" and "B", each at most once, each demand paging."""
    if value is None:
        return ()
    if (
        not isinstance(value, list)
        or not 1 <= len(value) <= len(SIDES)
        or any(not isinstance(v, str) or v not in SIDES for v in value)
        or len(set(value)) != len(value)
    ):
        raise LinkError('the link\'s best demand must list the sides "A", "B" or both, once each')
    for side in value:
        if policies[side]["name"] != "demand":
            raise LinkError(
                f"the link asks for best demand on side {side}, whose policy is "
                f"{policies[side]['name'][:40]!r}; best demand tunes demand paging only"
            )
    return tuple(side for side in SIDES if side in value)


def _n_seeds(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SEEDS:
        raise LinkError(f"the link's number of seeds must be a whole number from 1 to {MAX_SEEDS}")
    return value


def _shown_seed(value: Any, base: int, n: int) -> int | None:
    """The seed on display: one of the n seeds that start at the scenario's own."""
    if value is None:
        return None
    seeds = seed_list(base, n)
    if isinstance(value, bool) or not isinstance(value, int) or value not in seeds:
        raise LinkError(
            f"the link's seed shown must be one of the seeds it runs ({seeds[0]} to {seeds[-1]})"
        )
    return value


def _speed(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value not in SPEEDS_MS_PER_S:
        allowed = ", ".join(f"{s:g}" for s in SPEEDS_MS_PER_S)
        raise LinkError(
            f"the link's speed must be one of {allowed} (simulated ms per second; 0: max)"
        )
    return value


def _policy(value: Any, which: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise LinkError(f"policy {which} in the link is not a table")
    try:
        return validate_policy(dict(value), source=f"link policy {which}")
    except VmswapError as exc:
        raise LinkError(str(exc)) from None


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_FRAME:
        raise LinkError(f"the link's {what} must be a whole number from 0 to {MAX_FRAME:,}")
    return value


def _no_constants(name: str) -> Any:
    raise LinkError(f"the link holds {name}, which is not a number")
