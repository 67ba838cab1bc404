"""Panel's stylesheets point at this server, even for a model updated outside any document
(what made the page fetch loading.css and alerts.css from cdn.holoviz.org)."""

from __future__ import annotations

import panel as pn
import panel.reactive
from bokeh.models import ImportedStyleSheet
from panel.io.resources import CDN_DIST, LOCAL_DIST

from webapp.offline import keep_stylesheets_local


def urls(stylesheets: list[object]) -> list[str]:
    return [str(s.url) for s in stylesheets if isinstance(s, ImportedStyleSheet)]


def test_a_model_without_a_document_keeps_local_stylesheets() -> None:
    """An alert's and a layout's stylesheets, made with no document (and loading on), all
    lie under the server's static/extensions/panel/, none on the CDN."""
    keep_stylesheets_local()
    alert = pn.pane.Alert("x", alert_type="danger")
    column = pn.Column(pn.pane.HTML("y"))
    column.loading = True
    found = urls(alert._get_properties(None)["stylesheets"])
    found += urls(column._get_properties(None)["stylesheets"])
    assert any("alerts.css" in u for u in found) and any("loading.css" in u for u in found)
    assert [u for u in found if not u.startswith(LOCAL_DIST)] == []


def test_a_local_stylesheet_is_not_repointed_at_the_cdn() -> None:
    """Re-patching a local stylesheet 'for no document' (Panel's CDN fallback) leaves it local;
    installing twice wraps once."""
    keep_stylesheets_local()
    keep_stylesheets_local()
    sheet = ImportedStyleSheet(url=f"{LOCAL_DIST}css/loading.css")
    panel.reactive.patch_stylesheet(sheet, CDN_DIST)
    assert str(sheet.url).startswith(f"{LOCAL_DIST}css/loading.css")
    cdn = ImportedStyleSheet(url=f"{CDN_DIST}css/alerts.css")
    panel.reactive.patch_stylesheet(cdn, CDN_DIST)
    assert str(cdn.url).startswith(f"{LOCAL_DIST}css/alerts.css")
