"""A served page loads BokehJS's MathJax and WebGL bundles only when one of its models needs
them (webapp.page_scripts): Panel's page takes WebGL always and MathJax for any HTML pane."""

from __future__ import annotations

import panel as pn
import panel.io.server as server
from bokeh.document import Document
from bokeh.models import Div
from bokeh.plotting import figure
from bokeh.resources import Resources

from webapp import page_scripts
from webapp.views.text import PlainText

MATHJAX, WEBGL = "bokeh-mathjax", "bokeh-gl"


def scripts(*objects: object) -> list[str]:
    """The script files Panel's server page would load for a document of these objects."""
    assert page_scripts.install()
    doc = Document()
    for obj in objects:
        if isinstance(obj, pn.viewable.Viewable):
            obj.server_doc(doc)
        else:
            doc.add_root(obj)
    bundle = server.bundle_resources(doc.roots, Resources(mode="server", root_url="/"))
    return [str(url) for url in bundle.js_files]


def named(files: list[str], bundle: str) -> bool:
    return any(f"/{bundle}." in f or f"/{bundle}-" in f for f in files)


def test_a_page_of_html_panes_and_canvas_plots_loads_neither_bundle() -> None:
    """HTML panes (roots, as a template's are; one holding `$$…$$` as plain text) and a
    canvas plot: no MathJax, no WebGL (Panel's page alone would load both); BokehJS itself
    and its widgets still load."""
    plot = figure(output_backend="canvas")
    plot.line([0, 1], [0, 1])
    files = scripts(pn.pane.HTML("<b>x</b>"), pn.Column(PlainText("$$x^2$$"), plot))
    assert not named(files, MATHJAX) and not named(files, WEBGL), files
    assert named(files, "bokeh") and named(files, "bokeh-widgets"), files


def test_a_model_that_asks_for_mathjax_or_webgl_gets_it() -> None:
    """A Bokeh Div with TeX (Bokeh's own rule) brings MathJax; a WebGL plot brings WebGL."""
    assert named(scripts(Div(text="$$x^2$$")), MATHJAX)
    plot = figure(output_backend="webgl")
    plot.scatter([0, 1], [0, 1])
    files = scripts(plot)
    assert named(files, WEBGL) and not named(files, MATHJAX), files


def test_install_wraps_panel_once() -> None:
    """Installing twice leaves one wrapper, so the page's check runs once."""
    assert page_scripts.install()
    wrapper = server.bundle_resources
    assert page_scripts.install()
    assert server.bundle_resources is wrapper
