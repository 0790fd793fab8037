// The face box, dragged on the face view (see face_drag.py, which passes `config`).
(config) => {
  const VIEW = `#${config.view} img`;
  const FIELD = `#${config.field} textarea, #${config.field} input`;
  const ring = document.createElement("div");
  ring.id = config.ring;
  Object.assign(ring.style, {
    position: "fixed", display: "none", pointerEvents: "none", zIndex: 1000,
    border: "2px dashed #6ad0ff", boxShadow: "0 0 0 1px #000a",
  });
  document.body.appendChild(ring);
  let drag = null;  // {img, frame, start, end} while the pointer is down

  // Where the picture itself lies inside its <img> box (Gradio letterboxes it: object-fit).
  function frame(img) {
    const r = img.getBoundingClientRect(), fit = getComputedStyle(img).objectFit;
    if (fit === "fill" || !img.naturalWidth) return r;
    let scale = Math.min(r.width / img.naturalWidth, r.height / img.naturalHeight);
    if (fit === "scale-down") scale = Math.min(scale, 1);
    if (fit === "none") scale = 1;
    const w = img.naturalWidth * scale, h = img.naturalHeight * scale;
    return {left: r.left + (r.width - w) / 2, top: r.top + (r.height - h) / 2, width: w, height: h};
  }
  const clamp = (v) => Math.min(1, Math.max(0, v));
  const at = (f, e) => [
    clamp((e.clientX - f.left) / f.width), clamp((e.clientY - f.top) / f.height),
  ];
  const box = (a, b) => [
    Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[0], b[0]), Math.max(a[1], b[1]),
  ];

  function draw(d) {
    const [x0, y0, x1, y1] = box(d.start, d.end), f = d.frame;
    Object.assign(ring.style, {
      display: "block", left: f.left + x0 * f.width + "px", top: f.top + y0 * f.height + "px",
      width: (x1 - x0) * f.width + "px", height: (y1 - y0) * f.height + "px",
    });
  }

  // The fractions go to the typed field, then its blur: the page reads them as if typed.
  function send(fractions) {
    const field = document.querySelector(FIELD);
    if (!field) return;
    field.value = fractions.map((v) => String(Number(v.toFixed(3)))).join(", ");
    field.dispatchEvent(new Event("input", {bubbles: true}));
    requestAnimationFrame(() => field.dispatchEvent(new FocusEvent("blur")));
  }

  // The outline stays until the view shows the box drawn by the server (or a few seconds).
  function keepUntilRedrawn(src) {
    let left = 50;
    const look = setInterval(() => {
      const img = document.querySelector(VIEW);
      if (--left <= 0 || !img || img.getAttribute("src") !== src) {
        clearInterval(look);
        if (!drag) ring.style.display = "none";
      }
    }, 100);
  }

  document.addEventListener("pointerdown", (e) => {
    const img = e.target instanceof Element && e.target.closest(VIEW);
    if (!img || e.button !== 0 || !img.naturalWidth) return;
    e.preventDefault();  // no native image drag, no text selection
    const f = frame(img), start = at(f, e);
    drag = {img, frame: f, start, end: start};
    draw(drag);
  }, true);
  document.addEventListener("pointermove", (e) => {
    if (!drag) return;
    drag.end = at(drag.frame, e);
    draw(drag);
  }, true);
  document.addEventListener("pointerup", (e) => {
    if (!drag) return;
    const d = drag;
    drag = null;
    d.end = at(d.frame, e);
    const [x0, y0, x1, y1] = box(d.start, d.end);
    if (x1 - x0 < config.smallest || y1 - y0 < config.smallest) {
      ring.style.display = "none";  // a click: the box stays as it was
      return;
    }
    draw(d);
    keepUntilRedrawn(d.img.getAttribute("src"));
    send([x0, y0, x1, y1]);
  }, true);
  document.addEventListener("pointercancel", () => {
    drag = null;
    ring.style.display = "none";
  }, true);
  document.addEventListener("dragstart", (e) => {
    if (e.target instanceof Element && e.target.closest(VIEW)) e.preventDefault();
  }, true);
}
