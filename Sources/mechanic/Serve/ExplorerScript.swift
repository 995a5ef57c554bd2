/// The explorer's only script (`/explorer.js`): plain JavaScript, no libraries, no network but
/// the server's own API.
///
/// - Prompt page: the attention view (pick a head; hover a token to see where it attends and
///   what attends to it), from the overview's patterns embedded in the page.
/// - Patch page: starts a patching job, follows its progress (server-sent events, else polling) into a bar, cancels it, and draws the
///   result as a heatmap table (click a cell for its numbers).
enum ExplorerScript {
    static let source = #"""
"use strict";
(function () {
  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const k in (attrs || {})) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function color(w) {  // white -> blue, 0..1
    const v = Math.max(0, Math.min(1, w));
    return "rgb(" + Math.round(255 - 200 * v) + "," + Math.round(255 - 150 * v) + ",255)";
  }

  // Prompt page: attention view.
  const data = document.getElementById("overview-data");
  if (data) {
    const o = JSON.parse(data.textContent);
    const view = document.getElementById("attn-view");
    const pick = el("select", { id: "attn-head" });
    for (let l = 0; l < o.patterns.length; l++)
      for (let h = 0; h < o.patterns[l].length; h++) pick.appendChild(el("option", { value: l + "," + h }, "L" + l + "H" + h));
    const tokens = el("div", { id: "attn-tokens", class: "attn-tokens" });
    const info = el("div", { id: "attn-info", class: "note" });
    view.appendChild(el("label", {}, "head "));
    view.appendChild(pick);
    view.appendChild(tokens);
    view.appendChild(info);
    const spans = o.str_tokens.map(function (t, i) {
      const s = el("span", { class: "attn-tok", "data-pos": String(i) }, t);
      tokens.appendChild(s);
      return s;
    });
    let focus = o.tokens.length - 1;
    function pattern() { const [l, h] = pick.value.split(",").map(Number); return o.patterns[l][h]; }
    function show() {
      const p = pattern();
      // Keys the focused query attends to (its row), and queries attending to it (its column).
      spans.forEach(function (s, k) {
        const w = k <= focus ? p[focus][k] : 0;
        const from = k >= focus ? p[k][focus] : 0;
        s.style.background = color(w);
        s.style.borderBottom = "3px solid " + color(from);
        s.setAttribute("data-weight", w.toFixed(6));
        s.setAttribute("data-from", from.toFixed(6));
        s.title = "query " + focus + " → key " + k + ": " + w.toFixed(4) + "; query " + k + " → key " + focus + ": " + from.toFixed(4);
      });
      let best = 0;
      for (let k = 0; k <= focus; k++) if (p[focus][k] > p[focus][best]) best = k;
      info.textContent = pick.options[pick.selectedIndex].text + ": position " + focus + " " + JSON.stringify(o.str_tokens[focus]) +
        " attends most to position " + best + " " + JSON.stringify(o.str_tokens[best]) + " (" + p[focus][best].toFixed(4) + ")";
      info.setAttribute("data-best", String(best));
    }
    spans.forEach(function (s, i) { s.addEventListener("mouseenter", function () { focus = i; show(); }); });
    pick.addEventListener("change", show);
    const start = document.body.getAttribute("data-head");
    if (start) pick.value = start;
    show();
    view.setAttribute("data-ready", "1");
  }

  // Patch page: job with progress and cancel.
  const form = document.getElementById("patch-form");
  if (form) {
    const bar = document.getElementById("patch-progress");
    const status = document.getElementById("patch-status");
    const out = document.getElementById("patch-result");
    const cancel = document.getElementById("patch-cancel");
    let job = null;
    function body() {
      const b = {};
      new FormData(form).forEach(function (v, k) {
        if (v === "") return;
        if (/^-?\d+$/.test(v) && k.endsWith("-id")) b[k] = Number(v); else b[k] = v;
      });
      return b;
    }
    function draw(r) {
      out.textContent = "";
      const t = el("table", { class: "heat" });
      const v = Array.isArray(r.values) ? (Array.isArray(r.values[0]) ? r.values : [r.values]) : [[r.values]];
      let lo = Infinity, hi = -Infinity;
      v.forEach(function (row) { row.forEach(function (x) { if (typeof x === "number") { lo = Math.min(lo, x); hi = Math.max(hi, x); } }); });
      const head = el("tr"); head.appendChild(el("th", {}, (r.axes || []).join(" × ")));
      v[0].forEach(function (_, j) { head.appendChild(el("th", {}, String(j))); });
      t.appendChild(head);
      v.forEach(function (row, i) {
        const tr = el("tr"); tr.appendChild(el("th", {}, String(i)));
        row.forEach(function (x, j) {
          const num = typeof x === "number" ? x : NaN;
          const td = el("td", { "data-value": String(num), "data-cell": i + "," + j }, isNaN(num) ? "…" : num.toFixed(3));
          td.style.background = color(hi > lo ? (num - lo) / (hi - lo) : 0);
          td.addEventListener("click", function () {
            status.textContent = (r.axes || []).join(",") + " [" + i + "," + j + "]: " + JSON.stringify(x) +
              " (clean " + r.clean_metric + (r.corrupt_metric !== undefined ? ", corrupted " + r.corrupt_metric : "") + ")";
          });
          tr.appendChild(td);
        });
        t.appendChild(tr);
      });
      out.appendChild(t);
      out.setAttribute("data-act", r.act);
    }
    // One status ({state, done, total, unit, result?, error?}) into the bar; true when finished.
    function show(s) {
      bar.max = Math.max(s.total, 1); bar.value = s.done;
      status.textContent = s.state + " " + s.done + " / " + s.total + " " + s.unit + (s.error ? ": " + s.error : "");
      status.setAttribute("data-state", s.state);
      if (s.state === "done") { draw(s.result); job = null; cancel.disabled = true; return true; }
      if (s.state === "failed" || s.state === "cancelled") { job = null; cancel.disabled = true; return true; }
      return false;
    }
    async function poll() {
      if (!job) return;
      status.setAttribute("data-transport", "polling");
      if (!show(await (await fetch("/api/jobs/" + job)).json())) setTimeout(poll, 200);
    }
    // Progress as server-sent events; polling where EventSource is missing or the stream fails.
    function listen() {
      if (!window.EventSource) return poll();
      status.setAttribute("data-transport", "events");
      const events = new EventSource("/api/jobs/" + job + "/events");
      const on = function (e) { if (show(JSON.parse(e.data))) events.close(); };
      events.addEventListener("progress", on);
      events.addEventListener("done", on);
      events.onerror = function () { events.close(); if (job) poll(); };
    }
    form.addEventListener("submit", async function (e) {
      e.preventDefault();
      const r = await fetch("/api/jobs/patch", { method: "POST", body: JSON.stringify(body()) });
      const s = await r.json();
      if (!r.ok) { status.textContent = s.error; status.setAttribute("data-state", "failed"); return; }
      job = s.id; cancel.disabled = false; listen();
    });
    cancel.addEventListener("click", function () { if (job) fetch("/api/jobs/" + job + "/cancel", { method: "POST" }); });
    if (document.body.getAttribute("data-autostart") === "1") form.requestSubmit();
  }
})();
"""#
}
