"""A scenario switch updates the dashboard's Bokeh models in place: the browser keeps its
views and lays nothing out again for the shipped scenarios' shapes."""

from __future__ import annotations

import threading

import pytest
from bokeh.document import Document
from bokeh.document.events import ModelChangedEvent

from engine.policies import validate_policy
from tests.helpers import small_scenario
from webapp.controller import compute_pair
from webapp.state import default_policies
from webapp.views.dashboard import Dashboard
from webapp.views.heatmap import STABLE_VMS
from webapp.views.timeline import STABLE_PCPUS

TWO_VMS = [
    {"name": "x", "memory_mib": 4, "workload": {"kind": "zipf", "zipf_alpha": 0.8}},
    {"name": "y", "memory_mib": 2, "workload": {"kind": "scan", "pages": 300}},
]


@pytest.fixture(scope="module")
def other_runs():
    """A pair of another shape than the small scenario's: 2 VMs on 3 pCPUs."""
    data = small_scenario(vms=TWO_VMS, host={"pcpus": 3}).to_dict()
    a, b = default_policies(data["policy"])
    return compute_pair(data, validate_policy(a), validate_policy(b), threading.Event())


def _document(d: Dashboard) -> Document:
    doc = Document()
    for fig in d.figures():
        doc.add_root(fig)
    return doc


def test_a_switch_keeps_every_model_and_size(small_runs, other_runs):
    """Showing runs of another shape adds no Bokeh model (same ids: figures, tickers, ranges,
    sources) and changes no figure's height or ticker model."""
    d = Dashboard()
    doc = _document(d)
    d.set_runs(small_runs, ("A", "B"))
    before = {m.id for m in doc.models}
    heights = {m.id: m.height for m in doc.models if hasattr(m, "height") and m.height}
    events: list = []
    doc.on_change(lambda e: events.append(e))
    d.set_runs(other_runs, ("A", "B"))
    assert {m.id for m in doc.models} == before
    changed = {(e.model.id, e.attr) for e in events if isinstance(e, ModelChangedEvent)}
    assert not [c for c in changed if c[1] in ("height", "ticker", "width", "sizing_mode")]
    assert {m.id: m.height for m in doc.models if m.id in heights} == heights
    # ... and the axes name the new run's VMs and pCPUs.
    labels = d.heatmaps["A"].figure.yaxis[0].major_label_overrides
    assert sorted(labels.values()) == ["x", "y"]
    assert "pCPU 2" in d.timelines["B"].figure.yaxis[0].major_label_overrides.values()


def test_heights_grow_only_past_the_shipped_shapes():
    """Up to STABLE_VMS VMs and STABLE_PCPUS pCPUs the panes keep one height; more grow them
    (a strip or a pCPU row never gets thinner than before)."""
    d = Dashboard()
    heatmap, timeline = d.heatmaps["A"], d.timelines["A"]
    heights = set()
    for n in range(1, STABLE_VMS + 1):
        heatmap.set_layout([f"vm{k}" for k in range(n)], [1.0] * n)
        heights.add(heatmap.figure.height)
    assert len(heights) == 1
    heatmap.set_layout([f"vm{k}" for k in range(STABLE_VMS + 4)], [1.0] * (STABLE_VMS + 4))
    assert heatmap.figure.height > heights.pop()
    timeline_heights = set()
    for p in range(1, STABLE_PCPUS + 1):
        timeline.set_layout(p)
        timeline_heights.add(timeline.figure.height)
    assert len(timeline_heights) == 1
    timeline.set_layout(STABLE_PCPUS * 2)
    assert timeline.figure.height > timeline_heights.pop()
