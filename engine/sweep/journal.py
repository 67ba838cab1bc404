"""The journal of finished runs: append-only JSON lines that make an interrupted sweep resume."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def journal_path(out: str | Path) -> Path:
    """Where the journal of a results file lives: `results.parquet` → `results.runs.jsonl`."""
    return Path(out).with_suffix(".runs.jsonl")


class Journal:
    """Append-only JSON lines, one per finished run: {"run": key, "summary": {…}, …}.

    A line cut short by a kill is skipped on reading and never glued to the next one."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    def load(self) -> dict[str, dict[str, Any]]:
        """Summaries of the finished runs by key (the first record of a key wins)."""
        done: dict[str, dict[str, Any]] = {}
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return done
        for line in lines:
            try:
                record = json.loads(line)
                done.setdefault(str(record["run"]), dict(record["summary"]))
            except (ValueError, KeyError, TypeError):
                continue
        return done

    def append(self, key: str, record: Mapping[str, Any]) -> None:
        line = json.dumps({"run": key, **record}, sort_keys=True) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("ab") as f:
                if f.tell() > 0 and not self._ends_with_newline():
                    f.write(b"\n")
                f.write(line.encode("utf-8"))

    def _ends_with_newline(self) -> bool:
        with self.path.open("rb") as f:
            f.seek(-1, os.SEEK_END)
            return f.read(1) == b"\n"

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)
