// The tour guide in the browser (webapp/views/tour_guide.py): the header's Tour button and
// first-visit offer, and a step card with highlight boxes drawn in a layer of their own on
// the page body (so no header or pane clips or covers them). Texts are set with textContent:
// plain text, never HTML. Nothing is loaded from anywhere.

function make(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

// Every element with the class, through the open shadow roots Bokeh and Panel draw in.
function findAll(cls) {
  const out = [];
  const roots = [document];
  while (roots.length) {
    const root = roots.pop();
    for (const e of root.querySelectorAll("*")) {
      if (e.classList.contains(cls)) out.push(e);
      if (e.shadowRoot) roots.push(e.shadowRoot);
    }
  }
  return out;
}

function shown(e) {
  const r = e.getBoundingClientRect();
  return e.isConnected && r.width > 0 && r.height > 0;
}

function optedOut(model) {
  const [key, value] = model.opt_out_query.split("=");
  if (new URLSearchParams(window.location.search).get(key) === value) return true;
  try {
    return window.localStorage.getItem(model.dismissed_key) === "off";
  } catch (err) {
    return false; // no storage in this browser: offer on every visit
  }
}

function remember(model) {
  try {
    window.localStorage.setItem(model.dismissed_key, "off");
  } catch (err) {
    // no storage: nothing to remember with
  }
}

export function render({ model, el }) {
  const bar = make("div", "vm-tour-bar");
  const start = make("button", "vm-tour-button", "Tour");
  start.type = "button";
  start.title = `A guided walk through the five views on ${model.scenario}`;
  start.setAttribute("aria-haspopup", "dialog");
  const offer = make("div", "vm-tour-offer");
  offer.setAttribute("role", "note");
  offer.append(make("span", "vm-tour-offer-text", "New here?"));
  const accept = make("button", "vm-tour-accept", "Take the tour");
  const decline = make("button", "vm-tour-decline", "No thanks");
  for (const b of [accept, decline]) b.type = "button";
  offer.append(accept, decline);
  offer.hidden = optedOut(model);
  bar.append(start, offer);

  // The layer on the page body: highlight boxes and the card, in a shadow root of its own.
  const key = "__vmswapTourLayer";
  if (window[key]) window[key].remove();
  const host = make("div", "vm-tour-layer");
  window[key] = host;
  const shadow = host.attachShadow({ mode: "open" });
  const style = make("style");
  style.textContent = model.card_css;
  const boxes = make("div", "vm-tour-boxes");
  const card = make("div", "vm-tour-card");
  card.setAttribute("role", "dialog");
  card.setAttribute("aria-modal", "false");
  card.setAttribute("aria-labelledby", "vm-tour-title");
  card.hidden = true;
  const count = make("div", "vm-tour-count");
  const title = make("h2", "vm-tour-title");
  title.id = "vm-tour-title";
  const text = make("p", "vm-tour-text");
  text.id = "vm-tour-text";
  card.setAttribute("aria-describedby", "vm-tour-text");
  const wait = make("p", "vm-tour-wait", "Simulating: the views show the new run when it is ready.");
  wait.setAttribute("role", "status");
  const nav = make("div", "vm-tour-nav");
  const back = make("button", "vm-tour-back", "Back");
  const next = make("button", "vm-tour-next", "Next");
  const close = make("button", "vm-tour-close", "✕");
  close.setAttribute("aria-label", "Close the tour");
  close.title = "Close the tour (Esc)";
  for (const b of [back, next, close]) b.type = "button";
  nav.append(back, next, make("span", "vm-tour-keys", "Esc closes"));
  card.append(close, count, title, text, wait, nav);
  shadow.append(style, boxes, card);
  document.body.appendChild(host);

  let targets = [];
  let timer = null;
  let scrolledFor = -1;

  const setStep = (n) => {
    model.step = n;
  };
  const clearTargets = () => {
    for (const t of targets) {
      t.removeAttribute("data-vm-tour");
      t.style.scrollMarginTop = "";
    }
    targets = [];
    boxes.replaceChildren();
  };
  const openCompare = () => {
    // The views live on the Compare tab: bring it forward when another tab is showing.
    const tab = findAll("bk-tab").find((t) => t.textContent.trim() === "Compare");
    if (tab && !tab.classList.contains("bk-active")) tab.click();
  };
  const place = () => {
    const step = model.step;
    const info = model.steps[step];
    if (!info) return;
    if (!targets.length || !targets.every(shown)) {
      clearTargets();
      targets = findAll(info.target).filter(shown);
      if (!targets.length) openCompare();
      for (const t of targets) t.setAttribute("data-vm-tour", "on");
    }
    if (targets.length && scrolledFor !== step) {
      scrolledFor = step;
      // Near the top, with its title in sight: the card then has room below it.
      targets[0].style.scrollMarginTop = "40px";
      targets[0].scrollIntoView({ block: "start", inline: "nearest", behavior: "instant" });
    }
    // One box around them all (A and B side by side read as one view).
    const rects = targets.map((t) => t.getBoundingClientRect());
    if (!rects.length) boxes.replaceChildren();
    else if (!boxes.firstChild) boxes.append(make("div", "vm-tour-box"));
    if (rects.length) {
      const x0 = Math.min(...rects.map((r) => r.left));
      const y0 = Math.min(...rects.map((r) => r.top));
      const x1 = Math.max(...rects.map((r) => r.right));
      const y1 = Math.max(...rects.map((r) => r.bottom));
      const s = boxes.firstChild.style;
      s.left = `${x0 - 4}px`;
      s.top = `${y0 - 4}px`;
      s.width = `${x1 - x0 + 8}px`;
      s.height = `${y1 - y0 + 8}px`;
    }
    // The card beside the views, never over them when the window has room.
    const vw = window.innerWidth;
    const vh = window.innerHeight;
    const cw = card.offsetWidth;
    const ch = card.offsetHeight;
    let left = vw - cw - 16;
    let top = vh - ch - 16;
    if (rects.length) {
      const lo = Math.min(...rects.map((r) => r.top));
      const hi = Math.max(...rects.map((r) => r.bottom));
      const x = Math.min(...rects.map((r) => r.left));
      left = Math.min(Math.max(x, 16), vw - cw - 16);
      if (vh - hi >= ch + 20) top = hi + 12;
      else if (lo >= ch + 20) top = lo - ch - 12;
    }
    card.style.left = `${Math.max(left, 8)}px`;
    card.style.top = `${Math.max(top, 8)}px`;
  };
  const show = () => {
    const step = model.step;
    const info = model.steps[step];
    clearTargets();
    if (!info) {
      const wasInside = shadow.activeElement !== null;
      card.hidden = true;
      if (timer !== null) clearInterval(timer);
      timer = null;
      scrolledFor = -1;
      if (wasInside) start.focus({ preventScroll: true });
      return;
    }
    const last = step === model.steps.length - 1;
    count.textContent = `${model.scenario} tour · step ${step + 1} of ${model.steps.length}`;
    title.textContent = info.title;
    text.textContent = info.text;
    back.disabled = step === 0;
    next.textContent = last ? "Done" : "Next";
    card.dataset.step = String(step);
    card.dataset.target = info.target;
    card.hidden = false;
    place();
    if (timer === null) timer = setInterval(place, 200); // follows scrolling and relayout
    next.focus({ preventScroll: true });
  };
  const begin = () => {
    offer.hidden = true;
    remember(model);
    setStep(0);
  };

  start.addEventListener("click", begin);
  accept.addEventListener("click", begin);
  decline.addEventListener("click", () => {
    offer.hidden = true;
    remember(model);
  });
  back.addEventListener("click", () => setStep(Math.max(model.step - 1, 0)));
  next.addEventListener("click", () =>
    setStep(model.step >= model.steps.length - 1 ? -1 : model.step + 1),
  );
  close.addEventListener("click", () => setStep(-1));
  // Keys typed in the card are the card's: they must not also play or step the animation.
  card.addEventListener("keydown", (ev) => {
    if (ev.key === "ArrowRight" && model.step < model.steps.length - 1) setStep(model.step + 1);
    if (ev.key === "ArrowLeft" && model.step > 0) setStep(model.step - 1);
    if (ev.key !== "Escape") ev.stopPropagation();
  });
  bar.addEventListener("keydown", (ev) => {
    if (ev.key !== "Escape") ev.stopPropagation();
  });
  const onKey = (ev) => {
    if (ev.key === "Escape" && model.step >= 0) {
      ev.preventDefault();
      ev.stopPropagation();
      setStep(-1);
    }
  };
  document.addEventListener("keydown", onKey, true);

  const waiting = () => {
    wait.hidden = !model.busy;
  };
  waiting();
  model.on("busy", waiting);
  model.on("step", show);
  model.on("remove", () => {
    document.removeEventListener("keydown", onKey, true);
    if (timer !== null) clearInterval(timer);
    clearTargets();
    host.remove();
  });
  if (model.step >= 0) setTimeout(show, 0);
  return bar;
}
