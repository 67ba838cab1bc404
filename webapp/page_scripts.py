"""The scripts a served page loads: BokehJS's MathJax and WebGL bundles only where needed.

Panel's server page (`panel.io.server.server_html_page_for_session`) takes every BokehJS
bundle, and keeps MathJax's whenever the page has an HTML pane, as any of them might hold
`$…$`. This app's pages draw on canvases and show no mathematics: text a user supplied is
plain text with math off (`webapp.views.text`), and the app's own text has none. Those two
bundles are ~2 MB of script (bokeh-mathjax 1.8 MB, bokeh-gl 0.2 MB) that each fresh page
fetches and parses before it builds a view: measured here, loading the scripts took ~0.55 s
with them and ~0.44 s without, on a 2-core machine that the browser shares with the server.

So a page gets MathJax only where a model asks for it by Bokeh's own rule (a math text model
or glyph, or TeX in an axis label, a title or a Bokeh `Div`) and WebGL only where a plot
draws with it. Without the bundle BokehJS's MathJax provider reports "failed" and text shows
as written; it does not fetch MathJax from anywhere else (its provider loads the bundled
module alone), so the page stays offline. Best effort like `webapp.synced_refs`: where Panel
is not shaped as expected, nothing is patched and pages load every bundle, as before.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

log = logging.getLogger(__name__)

_PATCHED = "_vmswap_page_scripts"
WEBGL = "bokeh-gl"  # the bundle name in Bokeh's resources (MathJax's is Panel's to drop)


def _page_models(roots: Iterable[Any]) -> list[Any]:
    """Every model of the page: the document's table (kept by Bokeh as roots are added)."""
    roots = list(roots)
    doc = roots[0].document if roots else None
    if doc is not None:
        return list(doc.models)
    from bokeh.model.util import collect_models

    return list(collect_models(*roots))


def uses_webgl(models: Iterable[Any]) -> bool:
    """Whether a plot of the page draws with WebGL."""
    from bokeh.models import Plot

    return any(isinstance(m, Plot) and m.output_backend == "webgl" for m in models)


def uses_mathjax(models: Iterable[Any]) -> bool:
    """Whether a model asks for MathJax by Bokeh's rule (not Panel's "any HTML pane")."""
    from bokeh.embed.bundle import _use_mathjax

    return bool(_use_mathjax(set(models)))


def install() -> bool:
    """Patch Panel's server page once per process; whether the patch is in place."""
    try:
        import panel.io.server as server
        from bokeh.embed.bundle import _use_mathjax  # noqa: F401 (the rule uses_mathjax keeps)
    except ImportError:  # pragma: no cover - Panel and Bokeh are dependencies
        return False
    original = getattr(server, "bundle_resources", None)
    if original is None:
        log.warning("Panel's server page is not as expected: every script bundle is loaded")
        return False
    if getattr(original, _PATCHED, False):
        return True

    def bundle_resources(roots: Any, resources: Any, *args: Any, **kwargs: Any) -> Any:
        models = _page_models(roots)
        kwargs["enable_mathjax"] = uses_mathjax(models)
        components = getattr(resources, "components", None)
        if components is not None and WEBGL in components and not uses_webgl(models):
            resources = resources.clone(components=[c for c in components if c != WEBGL])
        return original(roots, resources, *args, **kwargs)

    setattr(bundle_resources, _PATCHED, True)
    server.bundle_resources = bundle_resources  # server_html_page_for_session, autoload
    return True
