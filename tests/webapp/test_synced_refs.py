"""Bokeh's synced references cached per document (webapp/synced_refs.py): the messages are the
same as Bokeh's own, and the cache follows every change of the page's set of models. And a
page's containers filled under `one_walk`: one walk over its models, its events sent after."""

from __future__ import annotations

import contextlib
import json

import pytest
from bokeh.core.serialization import Serializer
from bokeh.document import Document
from bokeh.models import Column, ColumnDataSource, Div
from bokeh.plotting import figure
from bokeh.protocol import Protocol

from webapp.synced_refs import SyncedModels, install, one_walk


def page() -> tuple[Document, Column, ColumnDataSource]:
    source = ColumnDataSource({"x": [1, 2, 3], "y": [3, 1, 2]})
    plot = figure()
    plot.line("x", "y", source=source)
    layout = Column(Div(text="a"), plot)
    doc = Document()
    doc.add_root(layout)
    doc.models.flush_synced()  # the browser has them all
    return doc, layout, source


def test_a_patch_message_is_the_same_as_bokehs_own() -> None:
    """A PATCH-DOC that changes a property, adds a new model and streams data encodes exactly
    as Bokeh's own Serializer does with the plain set of synced models."""
    assert install()
    doc, layout, source = page()
    events: list = []
    doc.on_change(events.append)
    layout.children[0].text = "b"
    layout.children.append(Div(text="new"))  # a new model: sent whole, not as a reference
    source.stream({"x": [4], "y": [5]})
    plain = set(doc.models.synced_references)
    assert isinstance(doc.models.synced_references, SyncedModels)
    expected = Serializer(references=plain).encode(events)
    message = Protocol().create("PATCH-DOC", events)
    assert json.loads(message.content_json)["events"] == json.loads(json.dumps(expected))


def test_the_cache_follows_the_pages_models() -> None:
    """A model added is new (not synced) until flushed, then synced; a model removed is not
    synced any more; unchanged, the same prepared table is handed out."""
    assert install()
    doc, layout, _ = page()
    first = doc.models.synced_references
    assert doc.models.synced_references is first
    assert set(first.refs) == {id(m) for m in first} and layout in first
    div = Div(text="later")
    layout.children.append(div)
    assert div not in doc.models.synced_references
    doc.models.flush_synced()
    assert div in doc.models.synced_references
    assert id(div) in doc.models.synced_references.refs
    layout.children.remove(div)
    assert div not in doc.models.synced_references
    assert id(div) not in doc.models.synced_references.refs


def test_other_serializers_are_unchanged() -> None:
    """A Serializer given a plain set (or nothing) behaves as Bokeh's."""
    assert install()
    div = Div(text="x")
    assert Serializer(references={div}).has_ref(div)
    assert not Serializer().has_ref(div)


def _walks(monkeypatch) -> list[int]:
    """Counts Bokeh's walks over a page's models (DocumentModelManager.recompute)."""
    from bokeh.document.models import DocumentModelManager

    walks: list[int] = []
    recompute = DocumentModelManager.recompute

    def counted(self):
        walks.append(1)
        return recompute(self)

    monkeypatch.setattr(DocumentModelManager, "recompute", counted)
    return walks


def _served_page(doc: Document):
    """A page of three empty containers, as a served session has it."""
    import panel as pn

    boxes = [pn.Column() for _ in range(3)]
    pn.Column(*boxes).server_doc(doc)
    return boxes


@pytest.mark.parametrize("batched", [False, True])
def test_filling_containers_in_one_walk(batched: bool, monkeypatch) -> None:
    """Filling three containers walks the page's models once inside `one_walk` (three times
    without it), with the page's events held until the block ends; every new model is in the
    page afterwards."""
    import panel as pn
    from panel.io.state import set_curdoc

    doc = Document()
    with set_curdoc(doc):
        boxes = _served_page(doc)
        walks = _walks(monkeypatch)
        inputs = [pn.widgets.TextInput(value=f"v{i}") for i in range(3)]
        with one_walk(doc) if batched else contextlib.nullcontext():
            for box, widget in zip(boxes, inputs, strict=True):
                box.objects = [widget]
            held = doc.callbacks.hold_value
        ids = {m.id for m in doc.models}
    assert all(w._models and next(iter(w._models)) in ids for w in inputs)
    assert doc.callbacks.hold_value is None
    if batched:
        assert len(walks) == 1 and held == "combine"
    else:
        assert len(walks) >= 3 and held is None
