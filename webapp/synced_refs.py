"""Bokeh's walk over every model of a page, once per change of the page rather than per message.

Each PATCH-DOC message Bokeh builds (one per frame a session sends) starts with
`Serializer(references=doc.models.synced_references)`: a set of every model the browser already
has, then a reference object made for each (`{id(model): model.ref}`), so that the encoder writes
a reference instead of the whole model. A page of this app has ~400-700 models, and that walk
was ~40 % of the server's time per frame with twenty sessions playing (py-spy), although the
set of models changes only when the page's layout does.

`install()` keeps, per document, the synced models and their references until the document's
model set changes (recompute, a flush of new models, an assignment), and lets the Serializer
copy the prepared table (a dict copy) instead of rebuilding it. Messages are byte for byte the
same (tests/webapp/test_synced_refs.py). Best effort: if Bokeh's internals are not where this
expects them, nothing is patched and the app is only slower.

`one_walk(doc)` is the other walk, Bokeh's recompute of a page's models after a change of its
layout: one for many containers filled together.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from panel.io.document import hold

log = logging.getLogger(__name__)


class SyncedModels(set):  # type: ignore[type-arg]
    """The models the browser already has (a set, as Bokeh returns it), with their references
    ready (`refs`: id(model) -> model.ref)."""

    refs: dict[int, Any]


def install() -> bool:
    """Patch Bokeh once per process; whether the patch is in place."""
    try:
        from bokeh.core.serialization import Serializer
        from bokeh.document.models import DocumentModelManager
    except ImportError:  # pragma: no cover - Bokeh is a dependency
        return False
    if getattr(DocumentModelManager, "_vmswap_cached_refs", False):
        return True
    original = DocumentModelManager.__dict__.get("synced_references")
    serializer_init = Serializer.__init__
    if not isinstance(original, property) or not hasattr(DocumentModelManager, "flush_synced"):
        log.warning("Bokeh's model manager is not as expected: synced references not cached")
        return False

    def synced_references(self: Any) -> SyncedModels:
        # The synced set changes only with the model table (a new dict at each recompute; an
        # assignment adds a key) or the set of new models (a new set at each flush; a
        # recompute adds to it, a flush of all clears it).
        table, new = self._models, self._new_models
        cached = getattr(self, "_vmswap_synced", None)
        if (
            cached is not None
            and cached[0] is table
            and cached[1] is new
            and cached[2] == (len(table), len(new))
        ):
            return cached[3]
        models = SyncedModels(original.fget(self))
        models.refs = {id(model): model.ref for model in models}
        self._vmswap_synced = (table, new, (len(table), len(new)), models)
        return models

    def init(self: Any, *, references: Any = frozenset(), **kwargs: Any) -> None:
        if isinstance(references, SyncedModels):
            serializer_init(self, **kwargs)
            self._references = dict(references.refs)  # the encoder adds to its own copy
        else:
            serializer_init(self, references=references, **kwargs)

    DocumentModelManager.synced_references = property(synced_references)  # type: ignore[method-assign,assignment]
    Serializer.__init__ = init  # type: ignore[method-assign]
    DocumentModelManager._vmswap_cached_refs = True  # type: ignore[attr-defined]
    return True


@contextlib.contextmanager
def one_walk(doc: Any) -> Iterator[None]:
    """Changes to a served page inside the block: one walk over its models, one dispatch.

    Panel walks the page's models again (`recompute`) after each container whose children
    change. Building a page's editors fills five containers: five walks of up to ~480 models,
    ~30 % of the editors' build (0.48 -> 0.33 s of CPU for an 8-VM page). Under Bokeh's freeze
    the walk happens once, when the block ends; under Panel's hold the page's events wait
    until then too, so every new model reaches the browser in its final state."""
    with hold(doc):
        frozen = doc.models.freeze()
        frozen.__enter__()
        try:
            yield
        finally:
            # Ended as if the block had returned: Bokeh's freeze does not end on an
            # exception, and a page left frozen would never show a change of its layout.
            frozen.__exit__(None, None, None)
