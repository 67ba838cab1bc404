"""Regenerate the golden summaries: `python -m tests.golden.update` (after a deliberate model
change; review the diff, it is the change's effect on every shipped scenario)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine import load_scenario  # noqa: E402
from tests.golden.runs import figures  # noqa: E402

GOLDEN = Path(__file__).resolve().parent / "summaries"


def golden_of(path: Path) -> dict:
    """The scenario under its own policy, unrecorded: the run is shared with the other golden
    tests that ask for the same scenario and policy (tests.golden.runs)."""
    scenario = load_scenario(path)
    run = figures(scenario)
    return {
        "scenario": scenario.name,
        "policy": scenario.policy_name,
        "summary": run.summary,
        "vms": run.vms,
    }


def main() -> None:
    GOLDEN.mkdir(exist_ok=True)
    for path in sorted((ROOT / "scenarios").glob("*.toml")):
        out = GOLDEN / f"{path.stem}.json"
        out.write_text(json.dumps(golden_of(path), indent=1, sort_keys=True) + "\n")
        print("wrote", out.relative_to(ROOT))


if __name__ == "__main__":
    main()
