"""The frame clock: the browser acknowledges each painted frame, and forwards shortcut keys.

Pacing: the server sets `seq` (with `frame` and `sent_at_ms`) as the last change of a frame's
message, so when the browser applies it every view change of that frame has been applied and
has asked Bokeh to repaint. Bokeh paints in a requestAnimationFrame callback registered at
that moment; ours is registered after it, so it runs after the canvases were drawn, and then
sets `painted_seq`, which travels back to the server. The server sends the next frame only
then: never more than one frame in flight, so no backlog can build up.
"""

from __future__ import annotations

from bokeh.core.properties import Float, Int, String
from bokeh.model import DataModel
from bokeh.models import CustomJS

ACK_JS = """
const seq = clock.seq, frame = clock.frame, sent = clock.sent_at_ms, applied = Date.now();
requestAnimationFrame(() => {
  const log = window.vmswapFrames || (window.vmswapFrames = []);
  log.push({seq: seq, frame: frame, sent: sent, applied: applied, painted: Date.now()});
  if (log.length > 20000) log.splice(0, log.length - 20000);
  clock.painted_seq = seq;
});
"""

# Bokeh rewrites each renderer's positioning <style> on every paint, even when the text is the
# same; each rewrite invalidates the styles of the page, and the next getComputedStyle (Bokeh
# reads CSS variables for every visual) recomputes them all. With a page of widgets that
# dominated the frame time (measured: ~1 s of style work in 3 s of playback). Writing only
# changed text keeps Bokeh's behaviour and removes the cost. Defensive: a no-op if the class
# is not where Bokeh 3.x keeps it.
STYLE_PATCH_JS = """
(() => {
  const roots = (window.Bokeh && Bokeh.index && Bokeh.index.roots) || [];
  for (const view of roots) {
    let p = view && view.style;
    while (p && !Object.prototype.hasOwnProperty.call(p, '_update')) {
      p = Object.getPrototypeOf(p);
    }
    if (p && !p.vmswapPatched && p._update.length === 1) {
      const original = p._update;
      p._update = function (css) {
        if (this.el && this.el.textContent === css) { return; }
        original.call(this, css);
      };
      p.vmswapPatched = true;
      window.vmswapStylePatch = true;
    }
    if (p) { break; }
  }
})();
"""

# A page served with its run already in it has a frame but no change of `seq` to react to:
# acknowledge that frame once it is painted, like any other.
FIRST_FRAME_JS = """
if (clock.seq > 0 && !(window.vmswapFrames && window.vmswapFrames.length)) {
  const seq = clock.seq, frame = clock.frame, sent = clock.sent_at_ms, applied = Date.now();
  requestAnimationFrame(() => {
    const log = window.vmswapFrames || (window.vmswapFrames = []);
    log.push({seq: seq, frame: frame, sent: sent, applied: applied, painted: Date.now()});
    clock.painted_seq = seq;
  });
}
"""

KEYS_JS = (
    STYLE_PATCH_JS
    + FIRST_FRAME_JS
    + """
if (window.vmswapKeys) { return; }
window.vmswapKeys = true;
let n = 0;
document.addEventListener('keydown', (ev) => {
  if (ev.ctrlKey || ev.altKey || ev.metaKey) { return; }
  const t = ev.composedPath()[0] || ev.target;
  const tag = ((t && t.tagName) || '').toUpperCase();
  if (tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || (t && t.isContentEditable)) {
    return;
  }
  if (t && t.getAttribute && t.getAttribute('role') === 'slider') { return; }
  // Space presses a focused button (or summary, link, checkbox) natively: the shortcut as
  // well would act twice (e.g. '+1' steps one frame and the player starts).
  const role = (t && t.getAttribute && t.getAttribute('role')) || '';
  if (ev.key === ' ' &&
      (tag === 'BUTTON' || tag === 'SUMMARY' || tag === 'A' || role === 'button' ||
       role === 'checkbox' || role === 'tab')) {
    return;
  }
  const keys = {' ': 'toggle', 'ArrowRight': ev.shiftKey ? 'forward_n' : 'forward',
                'ArrowLeft': ev.shiftKey ? 'back_n' : 'back', 'Home': 'first', 'End': 'last'};
  const key = keys[ev.key];
  if (!key) { return; }
  ev.preventDefault();
  n += 1;
  clock.key = key + ':' + n;
});
"""
)


class FrameClock(DataModel):
    """Server → browser: the frame sent; browser → server: the frame painted, keys pressed."""

    seq = Int(0, help="Sequence number of the last frame sent (grows by one per frame).")
    frame = Int(0, help="Frame index of that frame.")
    sent_at_ms = Float(0.0, help="Server wall-clock time when it was sent (ms since epoch).")
    held_ms = Float(
        0.0, help="How long the server held it on purpose after the last paint (pacing)."
    )
    painted_seq = Int(0, help="Last seq the browser painted.")
    key = String("", help="Last shortcut, as 'name:counter'.")


def make_clock() -> FrameClock:
    clock = FrameClock(name="vmswap-clock")
    clock.js_on_change("seq", CustomJS(args=dict(clock=clock), code=ACK_JS))
    return clock


def keys_callback(clock: FrameClock) -> CustomJS:
    """Installs the keyboard shortcuts and the style-rewrite fix once per page (attach to
    document_ready)."""
    return CustomJS(args=dict(clock=clock), code=KEYS_JS)
