"""Refuse an oversized upload in the browser, before it is read or sent.

Bokeh's FileInput sends the whole file, base64-encoded, in one websocket message: a file much
over the app's cap would exceed the server's message limit and close the session's connection
("1009 message too big") before the app could say anything. `UploadGuard` watches the page's
file inputs: when a chosen file is larger than `max_bytes` it clears the choice, so nothing is
read or sent, and reports the file's name and size in `refused` for the server to explain.
"""

from __future__ import annotations

from typing import Any

import param
from panel.custom import JSComponent


class UploadGuard(JSComponent):
    """Invisible: place it next to the FileInput whose uploads it bounds."""

    max_bytes = param.Integer(default=0, bounds=(0, None), doc="Largest file sent; 0: any.")
    refused = param.Dict(default={}, doc="{name, size, n} of the last file refused here.")

    # `input` is fired before `change` and, unlike it, leaves the widget's shadow root: a
    # capture listener on the document sees it first. Stopping the `change` that follows
    # (capture listeners on the target run before Bokeh's) keeps the file unread.
    _esm = """
export function render({ model }) {
  const key = "__vmswapUploadGuard";
  if (window[key]) document.removeEventListener("input", window[key], true);
  let n = 0;
  const guard = (event) => {
    const el = event.composedPath()[0];
    if (!(el instanceof HTMLInputElement) || el.type !== "file" || !el.files) return;
    const max = model.max_bytes;
    const big = Array.from(el.files).find((f) => max > 0 && f.size > max);
    if (!big) return;
    const stop = (e) => e.stopImmediatePropagation();
    el.addEventListener("change", stop, { capture: true, once: true });
    el.value = "";
    n += 1;
    model.refused = { name: big.name, size: big.size, n: n };
  };
  window[key] = guard;
  document.addEventListener("input", guard, true);
  const el = document.createElement("span");
  el.className = "vm-upload-guard";
  return el;
}
"""

    def __init__(self, **params: Any):
        params.setdefault("width", 0)
        params.setdefault("height", 0)
        params.setdefault("margin", 0)
        super().__init__(**params)
