"""Text a visitor supplies reaches the page as text: the panes that carry it escape it and
never read it as Markdown, HTML or math, whatever it holds."""

from __future__ import annotations

import ast
import html
import re
from pathlib import Path

import pytest
from bokeh.document import Document
from hypothesis import given, settings
from hypothesis import strategies as st

from webapp.views.text import PlainAlert, PlainText

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = [
    "<img src=x onerror=alert(1)>.trace",
    "<script>alert(1)</script>",
    "![x](http://203.0.113.7/x.png) [l](http://203.0.113.7/)",
    "__proto__ **bold** `code` # heading",
    "$$x^2$$ and &amp; and &lt;b&gt;",
]


def shown_html(pane: PlainText) -> str:
    """The HTML the browser sets (the model's text, decoded once as the browser does)."""
    return html.unescape(pane.get_root(Document()).text)


def visible_text(fragment: str) -> str:
    """What a browser shows for `fragment`: tags dropped, entities decoded, <br> a line."""
    return html.unescape(re.sub(r"<[^>]*>", "", fragment.replace("<br>", "\n")))


@pytest.mark.parametrize("text", HOSTILE)
@pytest.mark.parametrize("kind", [PlainText, PlainAlert])
def test_hostile_text_shows_as_its_characters(kind: type[PlainText], text: str) -> None:
    """The browser's HTML holds only our wrapper tag, and shows exactly the text."""
    out = shown_html(kind(text))
    assert re.findall(r"<(\w+)", out) == ["div"]
    assert visible_text(out) == text


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.text())
def test_any_text_round_trips(text: str) -> None:
    """Whatever the text, the page shows exactly it, inside one element (lines kept)."""
    out = shown_html(PlainText(text))
    tags = re.findall(r"<(\w+)", out)
    assert tags[0] == "div" and set(tags[1:]) <= {"br"} and len(tags) == 1 + text.count("\n")
    assert visible_text(out) == text


def test_math_is_off_and_the_alert_keeps_its_style() -> None:
    """`$$…$$` is not typeset; the alert carries Bootstrap's alert classes."""
    model = PlainAlert("$$x$$", alert_type="danger").get_root(Document())
    assert model.disable_math is True
    assert {"alert", "alert-danger"} <= set(model.css_classes)


def test_a_new_object_is_escaped_too() -> None:
    """Setting the object later (a param-bound message) escapes the new text."""
    pane = PlainText("first")
    model = pane.get_root(Document())
    pane.object = "<b>second</b>"
    assert "<b>" not in html.unescape(model.text).replace('<div class="vm-plain">', "")


def _markdown_calls(tree: ast.AST) -> list[ast.Call]:
    return [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and n.func.attr in ("Markdown", "Alert", "Str")
    ]


def _written_here(node: ast.expr, constants: set[str]) -> bool:
    """A string literal, or an f-string of literals and module-level UPPER_CASE constants
    (and names bound to such text: `limit` in the Traces tab, SWEEP_INTRO)."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.Name):
        return node.id in constants
    if isinstance(node, ast.JoinedStr):
        return all(
            isinstance(v, ast.Constant)
            or all(
                isinstance(n, ast.Name) and (n.id.isupper() or n.id in constants)
                for n in ast.walk(v.value)
                if isinstance(n, ast.Name)
            )
            for v in node.values
        )
    return False


def test_markdown_panes_carry_only_text_written_here() -> None:
    """Every Markdown, Alert or Str pane in webapp/ is built from a literal (or our own
    constants): text from a visitor (state, names, messages) goes to PlainText instead."""
    found = []
    for path in sorted((ROOT / "webapp").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        ours = {  # names assigned text written here (a literal, an f-string of constants)
            t.id
            for n in ast.walk(tree)
            if isinstance(n, ast.Assign) and _written_here(n.value, set())
            for t in n.targets
            if isinstance(t, ast.Name)
        }
        for call in _markdown_calls(tree):
            if call.args and not _written_here(call.args[0], ours):
                found.append(f"{path.relative_to(ROOT)}:{call.lineno}")
    assert found == []
