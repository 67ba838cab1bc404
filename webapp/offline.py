"""Keep Panel's stylesheets on this server: no request leaves it (DESIGN: offline).

Panel (1.9) re-points a component's shared stylesheet (`loading.css`, `alerts.css`, …) at its
CDN whenever it updates a model that is not in a document at that moment: a pane on a tab not
on show, say, or the Compare tab's message while the Traces tab is open. The stylesheet objects
are shared by every model of the session, so the browser then fetches them all from
cdn.holoviz.org (and, offline, loses their styles). `keep_stylesheets_local()` makes that
fallback the server's own copy, which `panel serve` serves at `static/extensions/panel/`.
"""

from __future__ import annotations

from typing import Any

import panel.io.resources as resources
import panel.reactive as reactive

_PATCHED = "_vmswap_local"


def keep_stylesheets_local() -> None:
    """Make Panel re-point stylesheets at the server's copy, never at its CDN (idempotent)."""
    original = resources.patch_stylesheet
    if getattr(original, _PATCHED, False):
        return

    def patch_stylesheet(stylesheet: Any, dist_url: str) -> None:
        if dist_url == resources.CDN_DIST:  # "no document": the page is served from here
            dist_url = resources.LOCAL_DIST
        original(stylesheet, dist_url)

    setattr(patch_stylesheet, _PATCHED, True)
    resources.patch_stylesheet = patch_stylesheet  # patch_model_css, Theme
    reactive.patch_stylesheet = patch_stylesheet  # Reactive._get_properties, _update_model
