"""Event log of the selected VM around the current frame, A next to B."""

from __future__ import annotations

import html

from webapp.runs import RunPair, RunSeries, vm_events

BEFORE, AFTER = 8, 3  # frames shown before and after the current one


def _table(series: RunSeries, vm: int, frame: int, title: str) -> str:
    events = vm_events(series, vm, frame - BEFORE, frame + AFTER)
    rows = []
    for e in events:
        cls = "now" if e.frame == frame else ("future" if e.frame > frame else "past")
        rows.append(
            f'<tr class="vm-ev-{cls}" data-kind="{html.escape(e.kind)}">'
            f'<td class="vm-ev-t">{e.t_ms:.0f} ms</td><td>{html.escape(e.text)}</td></tr>'
        )
    if not rows:
        rows.append('<tr><td colspan="2" class="vm-ev-none">nothing happened</td></tr>')
    return (
        f'<div class="vm-ev-col"><div class="vm-ev-title">{html.escape(title)}</div>'
        f'<table class="vm-ev">{"".join(rows)}</table></div>'
    )


def eventlog_html(runs: RunPair | None, vm: int, frame: int, labels: tuple[str, str]) -> str:
    """Both panes' events of VM `vm` in frames frame-BEFORE .. frame+AFTER."""
    if runs is None:
        return '<div class="vm-evlog vm-empty">No run yet.</div>'
    vm = min(max(vm, 0), len(runs.vm_names) - 1)
    name = runs.vm_names[vm]
    t = runs.time_ms(frame)
    head = (
        f'<div class="vm-ev-head">Events of <b>{html.escape(name)}</b> around frame {frame} '
        f"(t = {t:.0f} ms): {BEFORE} frames back, {AFTER} ahead (greyed)</div>"
    )
    return (
        f'<div class="vm-evlog">{head}<div class="vm-ev-cols">'
        f"{_table(runs.a, vm, frame, labels[0])}{_table(runs.b, vm, frame, labels[1])}"
        "</div></div>"
    )
