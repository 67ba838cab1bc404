"""Errors a user can cause: each names the field or file, the value, and what is allowed."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from engine.limits import quote

_MAX_SHOWN = 60  # characters of user text a message quotes whole


class VmswapError(Exception):
    """Base of every error the command line prints as one line without a traceback."""


class FieldError(VmswapError, ValueError):
    """A value a user gave, named by where it came from (a file, a link, --set) and its field
    path: `source: field: message`."""

    def __init__(self, message: str, *, source: str | None = None, field: str | None = None):
        self.source = source
        self.field = field
        # A field path holds user text (a key may be megabytes long): shown shortened.
        shown = field if field is None or len(field) <= _MAX_SHOWN else quote(field)
        prefix = ": ".join(p for p in (source, shown) if p)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class ScenarioError(FieldError):
    """A scenario (file, link, widget or --set) holds a value outside the schema."""


class TraceError(VmswapError, ValueError):
    """A trace file is unreadable, truncated or not in the format asked for."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A ' (did you mean 'x'?)' hint, or '' when nothing is close."""
    if len(word) > 4 * _MAX_SHOWN:  # nothing that long is close to a name, and difflib is slow
        return ""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def unknown_name(kind: str, word: str, choices: Iterable[str]) -> str:
    """The message for an unknown name: the hint and the list of allowed names."""
    names = sorted(choices)
    shown = f"'{word}'" if len(word) <= _MAX_SHOWN else quote(word)
    return f"unknown {kind} {shown}{did_you_mean(word, names)}; allowed: {', '.join(names)}"


_SIZE_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB")
_UNITS = {"_us": "µs", "_ns": "ns", "_ms": "ms", "_pct": "%", "_mbps": "MB/s"}


def plain(value: object) -> object:
    """A numpy scalar as the Python number it holds; anything else unchanged."""
    item = getattr(value, "item", None)
    if callable(item) and type(value).__module__ == "numpy":
        return item()
    return value


def show_value(value: object) -> str:
    """A value as a user writes it: 48, 0.5, true, 'text' (never np.int64(48) or 4.1943e+06)."""
    value = plain(value)
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    if isinstance(value, str):
        return quote(value)
    return repr(value)


def show_number(value: float) -> str:
    """A bound for a message: 4,194,304 or 0.01, with thousands separators, no exponent
    for the ranges a schema declares."""
    value = plain(value)  # type: ignore[assignment]
    if isinstance(value, int):
        return f"{value:,}"
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.6g}"


def show_size(value: float, unit: str) -> str:
    """A size in the largest binary unit that keeps it short: 4194304 MiB is '4 TiB'."""
    i = _SIZE_UNITS.index(unit)
    while i + 1 < len(_SIZE_UNITS) and value >= 1024 and (value / 1024) * 100 % 1 == 0:
        value, i = value / 1024, i + 1
    return f"{show_number(value)} {_SIZE_UNITS[i]}"


def show_range(lo: float, hi: float, field: str = "") -> str:
    """'1 MiB to 4 TiB', '0 to 50 %', '1 to 256': a declared range in words, with the unit the
    field's name carries (memory_mib, latency_us, ...)."""
    for suffix, unit in (("_kib", "KiB"), ("_mib", "MiB")):
        if field.endswith(suffix):
            return f"{show_size(lo, unit)} to {show_size(hi, unit)}"
    unit = next((u for s, u in _UNITS.items() if field.endswith(s)), "")
    return f"{show_number(lo)} to {show_number(hi)}" + (f" {unit}" if unit else "")
