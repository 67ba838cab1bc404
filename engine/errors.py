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
