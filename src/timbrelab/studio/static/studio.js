// timbrelab studio: the page's behaviour. Plain ES2020, no framework, no build step, nothing from the
// network: every call goes to this studio's own HTTP API (see /docs), and every plot is an inline SVG
// drawn here from the numbers the API answers.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const studio = { info: null };

  // ------------------------------------------------------------------------------------ helpers

  const ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ESC[c]);
  const finite = (v) => typeof v === "number" && Number.isFinite(v);

  function el(tag, attrs = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k === "style") e.setAttribute("style", v);
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c);
    return e;
  }

  /** Removes the common leading indentation of a multi-line text (the CLI's summary is indented). */
  function dedent(text) {
    const lines = String(text || "").replace(/\s+$/, "").split("\n");
    const indents = lines.filter((l) => l.trim()).map((l) => l.match(/^ */)[0].length);
    const n = indents.length ? Math.min(...indents) : 0;
    return lines.map((l) => l.slice(n)).join("\n");
  }

  function fmtNumber(v, digits = 2) {
    if (!finite(v)) return String(v);
    return v.toFixed(digits).replace(/^-/, "\u2212");
  }

  function fmtHz(f) {
    if (f >= 1000) {
      const k = f / 1000;
      return `${Number.isInteger(k) ? k : k.toFixed(k < 10 ? 1 : 0)} kHz`;
    }
    return `${Math.round(f)} Hz`;
  }

  function fmtSeconds(s) {
    if (!finite(s)) return String(s);
    if (Math.abs(s) < 1) return `${(s * 1000).toFixed(1)} ms`;
    return `${s.toFixed(2)} s`;
  }

  // ------------------------------------------------------------------------------------ errors

  /** The server's {"error": "..."} is one line; the box shows exactly one line, never a trace. */
  function oneLine(message) {
    const s = String(message === undefined || message === null ? "" : message).replace(/\s+/g, " ").trim();
    return s || "something went wrong";
  }
  function showError(box, message) {
    box.textContent = oneLine(message);
    box.hidden = false;
  }
  function clearError(box) {
    box.textContent = "";
    box.hidden = true;
  }

  // ------------------------------------------------------------------------------------ requests

  class ApiError extends Error {}

  /**
   * One call to the API with XMLHttpRequest (uploads report their progress). Resolves with the JSON
   * answer; rejects with an ApiError carrying the server's one-line error.
   */
  function request(method, url, body = null, hooks = {}) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open(method, url);
      xhr.setRequestHeader("Accept", "application/json");
      if (hooks.contentType) xhr.setRequestHeader("Content-Type", hooks.contentType);
      if (body && xhr.upload) {
        xhr.upload.addEventListener("progress", (e) => {
          if (hooks.onUploadProgress) hooks.onUploadProgress(e.lengthComputable && e.total ? e.loaded / e.total : null);
        });
        xhr.upload.addEventListener("load", () => hooks.onUploaded && hooks.onUploaded());
      }
      xhr.onload = () => {
        let data = null;
        try {
          data = JSON.parse(xhr.responseText);
        } catch (_) {
          data = null;
        }
        if (xhr.status >= 200 && xhr.status < 300 && data !== null) resolve(data);
        else if (data && typeof data.error === "string") reject(new ApiError(data.error));
        else reject(new ApiError(`the studio answered ${xhr.status} ${xhr.statusText || ""}`.trim()));
      };
      xhr.onerror = () => reject(new ApiError("the studio could not be reached (is it still running?)"));
      xhr.onabort = () => reject(new ApiError("the request was cancelled"));
      xhr.send(body);
    });
  }

  /**
   * The busy state of one form: disables its buttons, shows upload progress in a <progress>, then an
   * indeterminate "processing…" with the seconds elapsed until the answer arrives.
   */
  function makeBusy(box, buttons) {
    const bar = box.querySelector("progress");
    const text = box.querySelector(".busy-text");
    let timer = null;
    let t0 = 0;
    const tick = () => {
      text.textContent = `processing\u2026 ${Math.floor((performance.now() - t0) / 1000)} s`;
    };
    const api = {
      active: false,
      start(uploading) {
        api.active = true;
        for (const b of buttons) b.disabled = true;
        box.hidden = false;
        box.closest("form, .card")?.setAttribute("aria-busy", "true");
        if (uploading) {
          bar.max = 100;
          bar.value = 0;
          text.textContent = "uploading\u2026";
        } else {
          api.processing();
        }
      },
      progress(fraction) {
        if (timer !== null || fraction === null) return;
        bar.value = Math.round(fraction * 100);
        text.textContent = `uploading ${Math.round(fraction * 100)} %`;
      },
      processing() {
        if (timer !== null) return;
        bar.removeAttribute("value"); // indeterminate
        t0 = performance.now();
        tick();
        timer = setInterval(tick, 250);
      },
      stop() {
        api.active = false;
        if (timer !== null) clearInterval(timer);
        timer = null;
        box.hidden = true;
        box.closest("form, .card")?.removeAttribute("aria-busy");
        for (const b of buttons) b.disabled = false;
      },
    };
    return api;
  }

  /** POST a form with the busy state driven by the upload's progress. */
  async function submitForm(url, form, busy, uploading) {
    busy.start(uploading);
    try {
      return await request("POST", url, form, {
        onUploadProgress: (f) => uploading && busy.progress(f),
        onUploaded: () => busy.processing(),
      });
    } finally {
      busy.stop();
    }
  }

  /** POST a JSON object; resolves with the JSON answer (the Explore tab's calls). */
  function postJson(url, body) {
    return request("POST", url, JSON.stringify(body), { contentType: "application/json" });
  }

  /**
   * A control-driven request made "live": `trigger()` (on every input event) runs `fn` once the
   * controls have been still for `delay` ms; at most one `fn` is in flight, and a trigger during it
   * runs `fn` again when it ends (fn reads the controls when it starts, so the latest settings win).
   */
  function makeLive(fn, delay = 120) {
    let timer = null;
    let running = false;
    let again = false;
    const run = async () => {
      if (running) {
        again = true;
        return;
      }
      running = true;
      try {
        await fn();
      } finally {
        running = false;
        if (again) {
          again = false;
          run();
        }
      }
    };
    return () => {
      clearTimeout(timer);
      timer = setTimeout(run, delay);
    };
  }

  // ------------------------------------------------------------------------------------ SVG plots

  let plotCounter = 0;

  function niceStep(span, count) {
    const raw = span / Math.max(1, count);
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 2, 2.5, 5, 10]) if (raw <= m * mag) return m * mag;
    return 10 * mag;
  }

  function linearTicks(lo, hi, count = 5) {
    if (!(hi > lo)) return [lo];
    const step = niceStep(hi - lo, count);
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
    return out;
  }

  function fmtTick(v, step) {
    const digits = step >= 1 ? 0 : Math.min(3, Math.ceil(-Math.log10(step)));
    return v.toFixed(digits).replace(/^-/, "\u2212");
  }

  /**
   * A line plot as inline SVG.
   * opts: {series: [{x, y, label, kind: "line" | "dots"}], xLog, xLabel, yLabel, title,
   *        xDomain, yDomain, yRangeMax (the most dB shown below the top), zero, vlines: [{x, label}]}
   * Log-frequency axes get ticks at 100 Hz, 1 kHz and 10 kHz (grid lines at 2…9 of each decade).
   */
  function linePlot(container, opts) {
    const W = 540;
    const H = 300;
    const M = { l: 52, r: 14, t: 30, b: 44 };
    const pw = W - M.l - M.r;
    const ph = H - M.t - M.b;
    const series = opts.series.filter((s) => s && Array.isArray(s.x) && Array.isArray(s.y));

    // domains
    let xs = [];
    let ys = [];
    for (const s of series) {
      s.x.forEach((x, i) => {
        const y = s.y[i];
        if (finite(x) && finite(y) && (!opts.xLog || x > 0)) {
          xs.push(x);
          ys.push(y);
        }
      });
    }
    let [x0, x1] = opts.xDomain || [Math.min(...xs), Math.max(...xs)];
    let [y0, y1] = opts.yDomain || [Math.min(...ys), Math.max(...ys)];
    if (!finite(x0) || !finite(x1)) [x0, x1] = opts.xLog ? [20, 20000] : [0, 1];
    if (!finite(y0) || !finite(y1)) [y0, y1] = [-1, 1];
    if (opts.yRangeMax && y1 - y0 > opts.yRangeMax) y0 = y1 - opts.yRangeMax;
    if (!opts.yDomain) {
      const pad = Math.max((y1 - y0) * 0.06, 0.5);
      y0 -= pad;
      y1 += pad;
    }
    if (x1 <= x0) x1 = x0 + 1;
    const lx0 = opts.xLog ? Math.log10(x0) : x0;
    const lx1 = opts.xLog ? Math.log10(x1) : x1;
    const X = (x) => M.l + (((opts.xLog ? Math.log10(x) : x) - lx0) / (lx1 - lx0)) * pw;
    const Y = (y) => M.t + (1 - (y - y0) / (y1 - y0)) * ph;
    const r1 = (v) => Math.round(v * 10) / 10;

    const parts = [];
    const clip = `plot-clip-${++plotCounter}`;
    parts.push(`<defs><clipPath id="${clip}"><rect x="${M.l}" y="${M.t}" width="${pw}" height="${ph}"/></clipPath></defs>`);

    // grid and x ticks
    const grid = [];
    const xt = [];
    if (opts.xLog) {
      for (let d = Math.floor(lx0); d <= Math.ceil(lx1); d++) {
        for (let m = 1; m < 10; m++) {
          const f = m * Math.pow(10, d);
          if (f < x0 * 0.999 || f > x1 * 1.001) continue;
          const major = m === 1;
          grid.push(`<line class="${major ? "major" : ""}" x1="${r1(X(f))}" x2="${r1(X(f))}" y1="${M.t}" y2="${M.t + ph}"/>`);
          if (major && f >= 100 && f <= 10000) {
            xt.push(`<line x1="${r1(X(f))}" x2="${r1(X(f))}" y1="${M.t + ph}" y2="${M.t + ph + 5}"/>`);
            xt.push(`<text x="${r1(X(f))}" y="${M.t + ph + 17}" text-anchor="middle">${esc(fmtHz(f))}</text>`);
          }
        }
      }
    } else {
      const ticks = linearTicks(x0, x1, 6);
      const step = ticks.length > 1 ? ticks[1] - ticks[0] : 1;
      for (const t of ticks) {
        grid.push(`<line x1="${r1(X(t))}" x2="${r1(X(t))}" y1="${M.t}" y2="${M.t + ph}"/>`);
        xt.push(`<line x1="${r1(X(t))}" x2="${r1(X(t))}" y1="${M.t + ph}" y2="${M.t + ph + 5}"/>`);
        xt.push(`<text x="${r1(X(t))}" y="${M.t + ph + 17}" text-anchor="middle">${esc(fmtTick(t, step))}</text>`);
      }
    }
    const yticks = linearTicks(y0, y1, 5);
    const ystep = yticks.length > 1 ? yticks[1] - yticks[0] : 1;
    const yt = [];
    for (const t of yticks) {
      grid.push(`<line x1="${M.l}" x2="${M.l + pw}" y1="${r1(Y(t))}" y2="${r1(Y(t))}"/>`);
      yt.push(`<line x1="${M.l - 5}" x2="${M.l}" y1="${r1(Y(t))}" y2="${r1(Y(t))}"/>`);
      yt.push(`<text x="${M.l - 8}" y="${r1(Y(t)) + 4}" text-anchor="end">${esc(fmtTick(t, ystep))}</text>`);
    }
    parts.push(`<g class="grid">${grid.join("")}</g>`);
    if (opts.zero && y0 < 0 && y1 > 0) parts.push(`<line class="zero" x1="${M.l}" x2="${M.l + pw}" y1="${r1(Y(0))}" y2="${r1(Y(0))}"/>`);

    // series
    const body = [];
    series.forEach((s, i) => {
      const cls = `s${s.color === undefined ? i : s.color}`;
      if (s.kind === "dots") {
        const dots = [];
        s.x.forEach((x, j) => {
          const y = s.y[j];
          if (finite(x) && finite(y) && (!opts.xLog || x > 0)) dots.push(`<circle cx="${r1(X(x))}" cy="${r1(Y(y))}" r="2.8"/>`);
        });
        body.push(`<g class="${cls} dots">${dots.join("")}</g>`);
      } else {
        let d = "";
        let pen = false;
        s.x.forEach((x, j) => {
          const y = s.y[j];
          if (finite(x) && finite(y) && (!opts.xLog || x > 0)) {
            d += `${pen ? "L" : "M"}${r1(X(x))} ${r1(Y(y))}`;
            pen = true;
          } else {
            pen = false;
          }
        });
        body.push(`<path class="series ${cls}" d="${d}"/>`);
      }
    });
    for (const v of opts.vlines || []) {
      if (!finite(v.x) || v.x < x0 || v.x > x1) continue;
      body.push(`<line class="zero" x1="${r1(X(v.x))}" x2="${r1(X(v.x))}" y1="${M.t}" y2="${M.t + ph}"/>`);
      body.push(`<text x="${r1(X(v.x)) + 4}" y="${M.t + 12}">${esc(v.label || "")}</text>`);
    }
    parts.push(`<g clip-path="url(#${clip})">${body.join("")}</g>`);

    // axes and labels
    parts.push(`<g class="axis"><path d="M${M.l} ${M.t}V${M.t + ph}H${M.l + pw}" fill="none"/>${xt.join("")}${yt.join("")}</g>`);
    if (opts.xLabel) parts.push(`<text class="axis-label" x="${M.l + pw / 2}" y="${H - 6}" text-anchor="middle">${esc(opts.xLabel)}</text>`);
    if (opts.yLabel) {
      parts.push(`<text class="axis-label" transform="translate(13 ${M.t + ph / 2}) rotate(-90)" text-anchor="middle">${esc(opts.yLabel)}</text>`);
    }

    // legend, above the plot area (never over the curves)
    let lx = M.l;
    const legend = [];
    series.forEach((s, i) => {
      if (!s.label) return;
      const cls = `s${s.color === undefined ? i : s.color}`;
      const mark = s.kind === "dots"
        ? `<circle class="${cls}" cx="${lx + 9}" cy="13" r="3.2"/>`
        : `<line class="series ${cls}" x1="${lx}" x2="${lx + 18}" y1="13" y2="13"/>`;
      legend.push(`${mark}<text x="${lx + 24}" y="17">${esc(s.label)}</text>`);
      lx += 24 + 7.2 * String(s.label).length + 22;
    });
    parts.push(`<g class="legend">${legend.join("")}</g>`);

    const title = opts.title || series.map((s) => s.label).filter(Boolean).join(", ");
    container.innerHTML =
      `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}" preserveAspectRatio="xMidYMid meet">` +
      `<title>${esc(title)}</title>${parts.join("")}</svg>`;
  }

  function eqPlot(container, eq) {
    const all = [...(eq.response_db || []), ...(eq.band_gains_db || [])].filter(finite);
    const m = Math.max(3, ...all.map(Math.abs));
    const lim = Math.ceil(m + 1);
    linePlot(container, {
      title: "EQ curve: gain in dB against frequency",
      xLog: true,
      xLabel: "frequency",
      yLabel: "gain (dB)",
      xDomain: [20, 20000],
      yDomain: [-lim, lim],
      zero: true,
      series: [
        { x: eq.freqs_hz, y: eq.response_db, label: "EQ response", color: 1 },
        { x: eq.band_hz, y: eq.band_gains_db, label: `${(eq.band_hz || []).length} band gains`, kind: "dots", color: 0 },
      ],
    });
  }

  function spectrumPlot(container, spectrum) {
    linePlot(container, {
      title: "Average spectrum before and after",
      xLog: true,
      xLabel: "frequency",
      yLabel: "level (dB)",
      xDomain: [20, 20000],
      yRangeMax: 80,
      series: [
        { x: spectrum.freqs_hz, y: spectrum.before_db, label: "before", color: 0 },
        { x: spectrum.freqs_hz, y: spectrum.after_db, label: "after", color: 1 },
      ],
    });
  }

  function decayPlot(container, reverb) {
    const decay = reverb.decay || {};
    linePlot(container, {
      title: "Reverb energy decay",
      xLabel: "time (s)",
      yLabel: "energy (dB)",
      yRangeMax: 80,
      series: [{ x: decay.t_s, y: decay.db, label: "energy decay", color: 2 }],
      vlines: finite(reverb.rt60_s) ? [{ x: reverb.rt60_s, label: `RT60 ${reverb.rt60_s.toFixed(2)} s` }] : [],
    });
  }

  const REVERB_NAMES = {
    d_s: "d · comb delay",
    g: "g · comb gain",
    m_s: "m · stereo spread",
    f_hz: "f · low-pass",
    E: "E · effect gain",
    wetdry: "wet / dry",
  };

  function reverbTable(table, reverb) {
    table.replaceChildren();
    const row = (name, value) => table.append(el("tr", {}, el("th", { scope: "row", text: name }), el("td", { text: value })));
    if (finite(reverb.rt60_s)) row("RT60", fmtSeconds(reverb.rt60_s));
    if (finite(reverb.amount)) row("amount", fmtNumber(reverb.amount));
    for (const [k, v] of Object.entries(reverb.settings || {})) {
      let shown = finite(v) ? fmtNumber(v, 3) : String(v);
      if (finite(v) && k.endsWith("_s")) shown = fmtSeconds(v);
      else if (finite(v) && k.endsWith("_hz")) shown = `${Math.round(v)} Hz`;
      row(REVERB_NAMES[k] || k, shown);
    }
  }

  // ------------------------------------------------------------------------------------ A/B players

  /** Two players, one playing at a time; the toggle switches to the other at the same position. */
  function makeAB(before, after, button) {
    let current = after;
    const sideOf = (a) => (a === before ? "before" : "after");
    const label = () => {
      button.setAttribute("aria-label", `switch to ${current === after ? "before" : "after"} at the same position`);
      before.closest(".player")?.classList.toggle("active", current === before);
      after.closest(".player")?.classList.toggle("active", current === after);
    };
    for (const a of [before, after]) {
      a.addEventListener("play", () => {
        const other = a === before ? after : before;
        if (!other.paused) other.pause();
        current = a;
        label();
      });
    }
    button.addEventListener("click", () => {
      const from = current;
      const to = from === after ? before : after;
      const playing = !from.paused;
      const t = from.currentTime;
      from.pause();
      try {
        to.currentTime = finite(to.duration) ? Math.min(t, to.duration) : t;
      } catch (_) {
        /* not seekable yet */
      }
      current = to;
      label();
      if (playing) to.play().catch(() => {});
    });
    label();
    return {
      load(beforeUrl, afterUrl) {
        before.pause();
        after.pause();
        for (const [a, url] of [[before, beforeUrl], [after, afterUrl]]) {
          if (url) {
            a.src = url;
          } else if (a.hasAttribute("src")) {
            a.removeAttribute("src"); // an empty src would resolve to the page's own URL
            a.load();
          }
        }
        current = after;
        label();
      },
      side: () => sideOf(current),
    };
  }

  // ------------------------------------------------------------------------------------ audio sources

  /** A file input and its "use the bundled example" checkbox, mutually exclusive. */
  function makeSource(fileInput, exampleBox) {
    fileInput.addEventListener("change", () => {
      if (fileInput.files.length) exampleBox.checked = false;
    });
    exampleBox.addEventListener("change", () => {
      if (exampleBox.checked) fileInput.value = "";
    });
    return {
      /** [FormData with file or example=true, uploading?] or throws an ApiError the page shows. */
      form() {
        const fd = new FormData();
        const file = fileInput.files[0];
        if (exampleBox.checked || !file) {
          if (!exampleBox.checked) throw new ApiError("choose an audio file, or tick \u201cuse the bundled example\u201d");
          fd.append("example", "true");
          return [fd, false];
        }
        const limit = studio.info && finite(studio.info.max_upload_mb) ? studio.info.max_upload_mb : null;
        if (limit !== null && file.size > limit * 1024 * 1024) {
          throw new ApiError(`${file.name} is ${(file.size / 1048576).toFixed(1)} MB: larger than the studio's ${limit} MB limit (timbrelab studio --max-upload-mb)`);
        }
        fd.append("file", file, file.name);
        return [fd, true];
      },
    };
  }

  // ------------------------------------------------------------------------------------ tabs

  /** The tabs; a new tool adds a button, a panel and an entry here. */
  const TABS = {
    apply: { init: initApply },
    words: { init: initWords },
    classify: { init: initClassify },
    describe: { init: initDescribe },
    separate: { init: initSeparate },
    explore: { init: initExplore },
  };

  function tabButtons() {
    return [...document.querySelectorAll('[role="tablist"] [role="tab"]')];
  }

  function selectTab(name, focus = false) {
    if (!TABS[name]) name = "apply";
    for (const b of tabButtons()) {
      const on = b.dataset.tab === name;
      b.setAttribute("aria-selected", String(on));
      b.tabIndex = on ? 0 : -1;
      const panel = $(b.getAttribute("aria-controls"));
      if (panel) panel.hidden = !on;
      if (on && focus) b.focus();
    }
    const tab = TABS[name];
    if (tab.init && !tab.ready) {
      tab.ready = true;
      tab.init();
    }
    if (tab.show) tab.show();
    if (location.hash !== `#${name}`) history.replaceState(null, "", `#${name}`);
  }

  function initTabs() {
    const buttons = tabButtons();
    for (const b of buttons) b.addEventListener("click", () => selectTab(b.dataset.tab));
    document.querySelector('[role="tablist"]').addEventListener("keydown", (e) => {
      const i = buttons.indexOf(document.activeElement);
      if (i < 0) return;
      let j = null;
      if (e.key === "ArrowRight") j = (i + 1) % buttons.length;
      else if (e.key === "ArrowLeft") j = (i - 1 + buttons.length) % buttons.length;
      else if (e.key === "Home") j = 0;
      else if (e.key === "End") j = buttons.length - 1;
      if (j === null) return;
      e.preventDefault();
      selectTab(buttons[j].dataset.tab, true);
    });
    window.addEventListener("hashchange", () => selectTab(location.hash.slice(1)));
    selectTab(location.hash.slice(1) || "apply");
  }

  // ------------------------------------------------------------------------------------ Apply

  function initApply() {
    const form = $("apply-form");
    const err = $("apply-error");
    const submit = $("apply-submit");
    const busy = makeBusy($("apply-busy"), [submit]);
    const source = makeSource($("apply-file"), $("apply-use-example"));
    const ab = makeAB($("apply-before"), $("apply-after"), $("apply-ab"));

    for (const id of ["apply-eq-amount", "apply-reverb-amount"]) {
      const input = $(id);
      const out = $(`${id}-value`);
      const show = () => {
        out.textContent = fmtNumber(Number(input.value));
      };
      input.addEventListener("input", show);
      input.addEventListener("dblclick", () => {
        input.value = input.dataset.default || "1";
        show();
      });
      show();
    }

    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (busy.active) return;
      clearError(err);
      let fd;
      let uploading;
      try {
        [fd, uploading] = source.form();
        const description = $("apply-description").value.trim();
        if (!description) throw new ApiError("type a description, e.g. \u201cwarm, small room\u201d (the Words tab lists the words)");
        fd.append("description", description);
      } catch (x) {
        showError(err, x.message);
        return;
      }
      fd.append("eq_amount", $("apply-eq-amount").value);
      fd.append("reverb_amount", $("apply-reverb-amount").value);
      fd.append("match_loudness", $("apply-match-loudness").checked ? "true" : "false");
      try {
        const answer = await submitForm("/api/apply", fd, busy, uploading);
        renderApply(answer, ab);
      } catch (x) {
        showError(err, x instanceof ApiError ? x.message : "the page could not show the answer");
        if (!(x instanceof ApiError)) console.error(x);
      }
    });
  }

  function renderApply(a, ab) {
    const plots = a.plots || {};
    $("apply-names").textContent = `${a.input?.name || ""} \u2192 ${a.output?.name || ""}`;
    ab.load(a.input?.url || "", a.audio_url || a.output?.url || "");
    $("apply-summary").textContent = dedent(a.summary);

    const notes = $("apply-notes");
    notes.replaceChildren(...(a.notes || []).map((n) => el("li", { text: n })));
    notes.hidden = !(a.notes || []).length;

    const eqFig = $("apply-eq-figure");
    if (plots.eq) {
      eqPlot($("apply-eq-plot"), plots.eq);
      eqFig.hidden = false;
    } else {
      $("apply-eq-plot").replaceChildren();
      eqFig.hidden = true;
    }

    const spFig = $("apply-spectrum-figure");
    if (plots.spectrum) {
      spectrumPlot($("apply-spectrum-plot"), plots.spectrum);
      const ex = plots.spectrum.excerpt_s;
      $("apply-spectrum-caption").textContent = finite(ex) ? `before and after, ${ex.toFixed(ex < 10 ? 1 : 0)} s analysed` : "before and after";
      spFig.hidden = false;
    } else {
      $("apply-spectrum-plot").replaceChildren();
      spFig.hidden = true;
    }

    const rvFig = $("apply-reverb-figure");
    if (plots.reverb) {
      decayPlot($("apply-reverb-plot"), plots.reverb);
      reverbTable($("apply-reverb-params"), plots.reverb);
      rvFig.hidden = false;
    } else {
      $("apply-reverb-plot").replaceChildren();
      $("apply-reverb-params").replaceChildren();
      rvFig.hidden = true;
    }

    const dl = $("apply-download");
    dl.href = a.output?.download_url || a.audio_url;
    dl.setAttribute("download", a.output?.name || "");
    dl.textContent = `result audio (${a.output?.name || "audio"})`;
    const ds = $("apply-download-settings");
    ds.href = a.settings_download_url || a.settings_url;
    ds.setAttribute("download", "");
    ds.textContent = "settings JSON";

    $("apply-result").hidden = false;
  }

  // ------------------------------------------------------------------------------------ Words

  function initWords() {
    const err = $("words-error");
    const effect = $("words-effect");
    const lang = $("words-lang");
    const search = $("words-search");
    const body = $("words-body");
    const count = $("words-count");
    const langs = new Set();
    const st = { rows: [], key: null, dir: 1, seq: 0, selected: null, view: null };
    const audition = $("words-audition");
    const busy = makeBusy($("words-busy"), [audition]);
    const ab = makeAB($("words-before"), $("words-after"), $("words-ab"));

    async function load() {
      const seq = ++st.seq;
      const q = new URLSearchParams({ effect: effect.value, lang: lang.value, search: search.value.trim() });
      clearError(err);
      count.textContent = "loading\u2026";
      try {
        const answer = await request("GET", `/api/words?${q}`);
        if (seq !== st.seq) return;
        st.rows = answer.words || [];
        let added = false;
        for (const w of st.rows) {
          if (w.lang && !langs.has(w.lang)) {
            langs.add(w.lang);
            added = true;
          }
        }
        if (added) {
          const keep = lang.value;
          lang.replaceChildren(el("option", { value: "", text: "all" }), ...[...langs].sort().map((l) => el("option", { value: l, text: l })));
          lang.value = keep;
        }
        count.textContent = `${answer.count ?? st.rows.length} word${(answer.count ?? st.rows.length) === 1 ? "" : "s"}`;
        render();
      } catch (x) {
        if (seq !== st.seq) return;
        count.textContent = "";
        showError(err, x.message);
      }
    }

    function render() {
      let rows = st.rows;
      if (st.key) {
        const k = st.key;
        rows = [...rows].sort((a, b) => {
          const x = a[k];
          const y = b[k];
          const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
          return c * st.dir;
        });
      }
      const frag = document.createDocumentFragment();
      for (const w of rows) {
        const tr = el("tr", { tabindex: "0", "data-word": w.word, "data-effect": w.effect },
          el("td", { text: w.word }),
          el("td", {}, el("span", { class: `pill ${w.effect}`, text: w.effect === "eq" ? "EQ" : w.effect })),
          el("td", { text: w.lang || "" }),
          el("td", { class: "num", text: finite(w.num) ? String(w.num) : "" }),
          el("td", { class: "num", text: finite(w.agreement) ? w.agreement.toFixed(3) : "" }),
          el("td", { class: "num", text: finite(w.support_percentile) ? `${Math.round(w.support_percentile * 100)}` : "" }),
          el("td", { text: w.played_from || "" }));
        if (st.selected && st.selected.word === w.word && st.selected.effect === w.effect) tr.setAttribute("aria-current", "true");
        frag.append(tr);
      }
      body.replaceChildren(frag);
    }

    async function show(word, eff, tr) {
      clearError(err);
      st.selected = { word, effect: eff };
      for (const r of body.querySelectorAll('tr[aria-current="true"]')) r.removeAttribute("aria-current");
      if (tr) tr.setAttribute("aria-current", "true");
      try {
        const v = await request("GET", `/api/words/${encodeURIComponent(word)}?${new URLSearchParams({ effect: eff })}`);
        if (!st.selected || st.selected.word !== word || st.selected.effect !== eff) return;
        st.view = v;
        $("words-placeholder").hidden = true;
        $("words-view").hidden = false;
        $("words-title").textContent = `${v.word} \u00b7 ${v.effect === "eq" ? "EQ" : "reverb"}`;
        $("words-summary").textContent = dedent(v.summary);
        if (v.eq) eqPlot($("words-eq-plot"), v.eq);
        else $("words-eq-plot").replaceChildren();
        $("words-eq-plot").hidden = !v.eq;
        if (v.reverb) {
          reverbTable($("words-reverb-params"), v.reverb);
          decayPlot($("words-decay-plot"), v.reverb);
        }
        $("words-reverb").hidden = !v.reverb;
        $("words-players").hidden = true;
        ab.load("", "");
        audition.textContent = `Audition \u201c${v.word}\u201d on the example`;
      } catch (x) {
        showError(err, x.message);
      }
    }

    body.addEventListener("click", (e) => {
      const tr = e.target.closest("tr[data-word]");
      if (tr) show(tr.dataset.word, tr.dataset.effect, tr);
    });
    body.addEventListener("keydown", (e) => {
      const tr = e.target.closest("tr[data-word]");
      if (!tr) return;
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        show(tr.dataset.word, tr.dataset.effect, tr);
      } else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        const next = e.key === "ArrowDown" ? tr.nextElementSibling : tr.previousElementSibling;
        if (next) next.focus();
      }
    });

    for (const th of document.querySelectorAll("#words-table th[data-key]")) {
      th.tabIndex = 0;
      const sort = () => {
        const k = th.dataset.key;
        st.dir = st.key === k ? -st.dir : k === "word" || k === "lang" || k === "effect" || k === "played_from" ? 1 : -1;
        st.key = k;
        for (const o of document.querySelectorAll("#words-table th")) o.removeAttribute("aria-sort");
        th.setAttribute("aria-sort", st.dir > 0 ? "ascending" : "descending");
        render();
      };
      th.addEventListener("click", sort);
      th.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") {
          e.preventDefault();
          sort();
        }
      });
    }

    let timer = null;
    search.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(load, 250);
    });
    effect.addEventListener("change", load);
    lang.addEventListener("change", load);

    audition.addEventListener("click", async () => {
      const v = st.view;
      if (!v || busy.active) return;
      clearError(err);
      const fd = new FormData();
      fd.append("example", "true");
      fd.append("description", "");
      fd.append(v.effect === "reverb" ? "reverb_word" : "eq_word", v.word);
      try {
        const a = await submitForm("/api/apply", fd, busy, false);
        ab.load(a.input?.url || "", a.audio_url || a.output?.url || "");
        $("words-players").hidden = false;
      } catch (x) {
        showError(err, x.message);
      }
    });

    load();
  }

  // an upload form (a file or the bundled example, and how many to list) posted to `url`, its answer drawn by `render`
  function wireUploadForm(form, err, busy, source, topInput, defaultTop, url, render, blocked = () => false) {
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (busy.active || blocked()) return;
      clearError(err);
      let fd;
      let uploading;
      try {
        [fd, uploading] = source.form();
      } catch (x) {
        showError(err, x.message);
        return;
      }
      fd.append("top", topInput.value || defaultTop);
      try {
        render(await submitForm(url, fd, busy, uploading));
      } catch (x) {
        showError(err, x instanceof ApiError ? x.message : "the page could not show the answer");
        if (!(x instanceof ApiError)) console.error(x);
      }
    });
  }

  // ------------------------------------------------------------------------------------ Classify

  const PALETTE = ["#f0a94b", "#6cb4ee", "#8fd18b", "#e07a9b", "#b59cf0", "#f2d46b", "#63d1c4", "#e88f6a", "#9fb4c9", "#c8e06b"];

  function initClassify() {
    const form = $("classify-form");
    const err = $("classify-error");
    const submit = $("classify-submit");
    const busy = makeBusy($("classify-busy"), [submit]);
    const source = makeSource($("classify-file"), $("classify-use-example"));

    wireUploadForm(form, err, busy, source, $("classify-top"), "5", "/api/classify", renderClassify);
  }

  function renderClassify(c) {
    $("classify-name").textContent = c.input?.name ? `${c.input.name}${finite(c.duration_s) ? ` \u00b7 ${c.duration_s.toFixed(1)} s` : ""}` : "";
    const note = $("classify-note");
    const message = c.note || (c.no_instrument ? "no instrument recognised in this audio" : "");
    note.textContent = message;
    note.hidden = !message;

    // one colour per instrument, shared by the bars, the timeline and its legend
    const colours = new Map();
    const colour = (name) => {
      if (!colours.has(name)) colours.set(name, name === "no instrument" ? "#7b838c" : PALETTE[colours.size % PALETTE.length]);
      return colours.get(name);
    };
    const bars = $("classify-bars");
    bars.replaceChildren(...(c.top || []).map((t) => {
      const pct = finite(t.probability) ? t.probability * 100 : 0;
      return el("li", { "aria-label": `${t.instrument}: ${pct.toFixed(1)} percent` },
        el("span", { class: "name", text: t.instrument }),
        el("span", { class: "bar" }, el("span", { class: "fill", style: `width:${Math.max(0, Math.min(100, pct)).toFixed(2)}%;background:${colour(t.instrument)}` })),
        el("span", { class: "pct", text: `${pct.toFixed(1)} %` }));
    }));
    const player = $("classify-player");
    player.src = c.input?.url || "";
    player.hidden = !c.input?.url;

    const tl = c.timeline || [];
    const card = $("classify-timeline-card");
    const duration = finite(c.duration_s) && c.duration_s > 0 ? c.duration_s : Math.max(0, ...tl.map((s) => s.end_s || 0));
    if (tl.length >= 2 && duration > 0) {
      // windows overlap: each is drawn up to the middle of its overlap with the next; neighbouring
      // windows with the same instrument become one segment
      const spans = [];
      let from = Math.max(0, tl[0].start_s);
      tl.forEach((w, i) => {
        const next = tl[i + 1];
        const to = Math.min(duration, next ? (next.start_s < w.end_s ? (w.end_s + next.start_s) / 2 : next.start_s) : w.end_s);
        const last = spans[spans.length - 1];
        if (last && last.instrument === w.instrument && Math.abs(last.end - from) < 1e-6) {
          last.end = to;
          last.probs.push(w.probability);
        } else if (to > from) {
          spans.push({ instrument: w.instrument, start: from, end: to, probs: [w.probability] });
        }
        from = Math.max(from, to);
      });
      const segs = spans.map((sp) => {
        const probs = sp.probs.filter(finite);
        const mean = probs.length ? probs.reduce((a, b) => a + b, 0) / probs.length : null;
        return el("div", {
          class: "seg",
          style: `left:${((sp.start / duration) * 100).toFixed(3)}%;width:${(((sp.end - sp.start) / duration) * 100).toFixed(3)}%;background:${colour(sp.instrument)}`,
          title: `${sp.start.toFixed(1)}\u2013${sp.end.toFixed(1)} s: ${sp.instrument}${mean === null ? "" : ` (${Math.round(mean * 100)} %)`}`,
          text: sp.instrument,
        });
      });
      const timeline = $("classify-timeline");
      timeline.replaceChildren(...segs);
      timeline.setAttribute("aria-label", `timeline: ${spans.map((sp) => `${sp.start.toFixed(1)} to ${sp.end.toFixed(1)} s ${sp.instrument}`).join("; ")}`);
      const axis = $("classify-timeline-axis");
      axis.replaceChildren(...[0, 0.25, 0.5, 0.75, 1].map((f) => el("span", { text: `${(f * duration).toFixed(duration < 20 ? 1 : 0)} s` })));
      const shown = new Set(spans.map((t) => t.instrument));
      $("classify-legend").replaceChildren(...[...colours].filter(([name]) => shown.has(name)).map(([name, col]) =>
        el("li", {}, el("span", { class: "swatch", style: `background:${col}` }), name)));
      card.hidden = false;
    } else {
      card.hidden = true;
    }
    $("classify-result").hidden = false;
  }

  // ------------------------------------------------------------------------------------ Describe & search

  function initDescribe() {
    const form = $("describe-form");
    const err = $("describe-error");
    const submit = $("describe-submit");
    const busy = makeBusy($("describe-busy"), [submit]);
    const source = makeSource($("describe-file"), $("describe-use-example"));
    const sform = $("search-form");
    const serr = $("search-error");
    const ssubmit = $("search-submit");
    const sbusy = makeBusy($("search-busy"), [ssubmit]);

    // the embedder loads on the first request: ask once, and show its one-line error in place of the tools
    const line = $("describe-embedder");
    const missing = $("describe-embedder-error");
    request("GET", "/api/embedder").then((e) => {
      line.textContent = `language\u2013audio embedder: ${e.name} (${e.dim} dimensions, ${e.vocabulary} words${e.centred ? ", centred" : ""})`;
    }).catch((x) => {
      line.textContent = "";
      line.hidden = true;
      showError(missing, x.message);
      submit.disabled = true;
      ssubmit.disabled = true;
    });
    if (studio.info && studio.info.folder_search === false) {
      showError(serr, "searching folders of this computer is offered only by a studio bound to a loopback address");
      ssubmit.disabled = true;
    }

    wireUploadForm(form, err, busy, source, $("describe-top"), "8", "/api/describe", renderDescribe, () => submit.disabled);

    const player = $("search-player");
    const body = $("search-body");
    const playing = { button: null };
    function setPlaying(button) {
      if (playing.button) {
        playing.button.textContent = "\u25b6 play";
        playing.button.setAttribute("aria-pressed", "false");
      }
      playing.button = button;
      if (button) {
        button.textContent = "\u275a\u275a pause";
        button.setAttribute("aria-pressed", "true");
      }
    }
    player.addEventListener("pause", () => setPlaying(null));
    player.addEventListener("ended", () => setPlaying(null));
    body.addEventListener("click", (e) => {
      const b = e.target.closest("button[data-url]");
      if (!b) return;
      if (playing.button === b && !player.paused) {
        player.pause();
        return;
      }
      if (player.getAttribute("src") !== b.dataset.url) player.src = b.dataset.url;
      setPlaying(b);
      player.play().catch(() => setPlaying(null));
    });

    sform.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (sbusy.active || ssubmit.disabled) return;
      clearError(serr);
      const query = $("search-query").value.trim();
      const folder = $("search-folder").value.trim();
      if (!query) return showError(serr, "type what to search for, e.g. \u201cwarm mellow pad\u201d");
      if (!folder) return showError(serr, "type the path of a folder on this computer");
      const fd = new FormData();
      fd.append("query", query);
      fd.append("folder", folder);
      fd.append("top", $("search-top").value || "10");
      fd.append("rebuild", $("search-rebuild").checked ? "true" : "false");
      try {
        const r = await submitForm("/api/search", fd, sbusy, false);
        player.pause();
        renderSearch(r);
      } catch (x) {
        showError(serr, x instanceof ApiError ? x.message : "the page could not show the answer");
        if (!(x instanceof ApiError)) console.error(x);
      }
    });
  }

  function renderDescribe(d) {
    $("describe-name").textContent = d.input?.name ? `${d.input.name}${finite(d.input.duration_s) ? ` \u00b7 ${d.input.duration_s.toFixed(1)} s` : ""}` : "";
    const pct = finite(d.probability) ? `${(d.probability * 100).toFixed(1)} %` : "";
    $("describe-instrument").textContent = d.no_instrument
      ? (d.note || "no instrument recognised")
      : `instrument: ${d.instrument}${pct ? ` (${pct})` : ""}`;
    const words = d.words || [];
    const best = Math.max(0, ...words.map((w) => (finite(w.score) ? w.score : 0)));
    $("describe-words").replaceChildren(...words.map((w) => {
      const width = best > 0 && finite(w.score) && w.score > 0 ? (w.score / best) * 100 : 0;
      return el("li", { "aria-label": `${w.word}: score ${fmtNumber(w.score, 3)}`, "data-word": w.word },
        el("span", { class: "name", text: w.word }),
        el("span", { class: "bar" }, el("span", { class: "fill", style: `width:${width.toFixed(2)}%` })),
        el("span", { class: "pct", text: fmtNumber(w.score, 3) }));
    }));
    const player = $("describe-player");
    player.src = d.input?.url || "";
    player.hidden = !d.input?.url;
    $("describe-result").hidden = false;
  }

  function renderSearch(r) {
    $("search-caption").textContent = `\u201c${r.query}\u201d in ${r.folder}`;
    $("search-summary").textContent = [r.summary, ...(r.notes || [])].filter(Boolean).join("; ");
    const failed = $("search-failed");
    failed.replaceChildren(...(r.failed || []).map((f) => el("li", { text: `${f.path}: ${f.reason}` })));
    failed.hidden = !(r.failed || []).length;
    $("search-body").replaceChildren(...(r.results || []).map((x) => el("tr", { "data-path": x.path },
      el("td", { class: "num", text: String(x.rank) }),
      el("td", { class: "path", text: x.path, title: x.note || x.path }),
      el("td", { class: "num", text: fmtNumber(x.score, 3) }),
      el("td", {}, x.url
        ? el("button", { type: "button", class: "play", "data-url": x.url, "aria-pressed": "false", "aria-label": `play ${x.name}`, text: "\u25b6 play" })
        : el("span", { class: "hint", text: x.note ? "not playable" : "" })))));
    const player = $("search-player");
    if (player.hasAttribute("src")) {
      player.removeAttribute("src");
      player.load();
    }
    $("search-result").hidden = false;
  }

  // ------------------------------------------------------------------------------------ Separate

  function initSeparate() {
    const form = $("separate-form");
    const err = $("separate-error");
    const submit = $("separate-submit");
    const busy = makeBusy($("separate-busy"), [submit]);
    const source = makeSource($("separate-file"), $("separate-use-example"));
    const query = $("separate-query");
    const chips = [...document.querySelectorAll("#separate-suggestions button[data-query]")];
    const players = [$("separate-mix"), $("separate-estimate"), $("separate-residual")];

    const pressChips = () => {
      const q = query.value.trim().replace(/\s+/g, " ").toLowerCase();
      for (const c of chips) c.setAttribute("aria-pressed", String(c.dataset.query === q));
    };
    for (const c of chips) {
      c.addEventListener("click", () => {
        query.value = c.dataset.query;
        pressChips();
        query.focus();
      });
    }
    query.addEventListener("input", pressChips);
    pressChips();
    // one player at a time: starting one pauses the others
    for (const a of players) {
      a.addEventListener("play", () => {
        for (const b of players) if (b !== a && !b.paused) b.pause();
      });
    }

    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (busy.active) return;
      clearError(err);
      let fd;
      let uploading;
      try {
        [fd, uploading] = source.form();
        const q = query.value.trim();
        if (!q) throw new ApiError("type what to extract, e.g. \u201cthe violin\u201d (or choose a suggestion)");
        fd.append("query", q);
      } catch (x) {
        showError(err, x.message);
        return;
      }
      try {
        const answer = await submitForm("/api/separate", fd, busy, uploading);
        for (const a of players) a.pause();
        renderSeparate(answer);
      } catch (x) {
        showError(err, x instanceof ApiError ? x.message : "the page could not show the answer");
        if (!(x instanceof ApiError)) console.error(x);
      }
    });
  }

  function renderSeparate(s) {
    const db = (v) => (finite(v) ? ` \u00b7 ${fmtNumber(v, 1)} dB RMS` : "");
    const name = s.input?.name || "";
    $("separate-names").textContent = `${name}${finite(s.input?.duration_s) ? ` \u00b7 ${s.input.duration_s.toFixed(1)} s` : ""} \u2192 \u201c${s.query}\u201d`;
    const load = (audio, src) => {
      if (src) audio.src = src;
      else if (audio.hasAttribute("src")) {
        audio.removeAttribute("src"); // an empty src would resolve to the page's own URL
        audio.load();
      }
    };
    load($("separate-mix"), s.input?.url || "");
    load($("separate-estimate"), s.estimate?.url || "");
    load($("separate-residual"), s.residual?.url || "");
    $("separate-mix-tag").textContent = "mix";
    $("separate-estimate-tag").textContent = `estimate${db(s.estimate?.rms_db)}`;
    $("separate-residual-tag").textContent = `residual${db(s.residual?.rms_db)}`;
    for (const key of ["estimate", "residual"]) {
      const a = $(`separate-download-${key}`);
      const f = s[key] || {};
      a.href = f.download_url || f.url || "#";
      a.setAttribute("download", f.name || "");
      a.title = f.name ? `download ${f.name}` : "";
      a.textContent = `\u2913 ${key} WAV`;
    }
    const notes = $("separate-notes");
    notes.replaceChildren(...(s.notes || []).map((n) => el("li", { text: n })));
    notes.hidden = !(s.notes || []).length;

    const sp = s.spectrograms || {};
    const ex = sp.excerpt_s;
    $("separate-spec-caption").textContent = finite(ex) ? `${name}, ${ex.toFixed(ex < 10 ? 1 : 0)} s shown` : name;
    $("separate-spec-query").textContent = `\u201c${s.query}\u201d`;
    for (const key of ["mixture", "estimate"]) {
      const img = $(`separate-spec-${key}`);
      const pic = sp[key] || {};
      img.alt = pic.title ? `spectrogram of the ${pic.title}` : "";
      if (pic.url) img.src = pic.url;
      else img.removeAttribute("src");
      img.closest("figure").hidden = !pic.url;
    }
    $("separate-result").hidden = false;
  }

  // ------------------------------------------------------------------------------------ Explore

  // magma, as the Separate tab's pictures (matplotlib's), in five stops
  const MAGMA = [[0, 0, 4], [80, 18, 123], [182, 54, 121], [251, 136, 97], [252, 253, 191]];
  // the colour scale of the log-mel pictures spans this many natural-log units below the top (≈ 80 dB)
  const LOGMEL_RANGE = 9.2;
  const NOTE_NAMES = ["C", "C\u266f", "D", "D\u266f", "E", "F", "F\u266f", "G", "G\u266f", "A", "A\u266f", "B"];
  const noteName = (midi) => `${NOTE_NAMES[midi % 12]}${Math.floor(midi / 12) - 1}`;

  function magma(t) {
    const x = Math.max(0, Math.min(1, t)) * (MAGMA.length - 1);
    const i = Math.min(MAGMA.length - 2, Math.floor(x));
    const f = x - i;
    return MAGMA[i].map((c, k) => Math.round(c + (MAGMA[i + 1][k] - c) * f));
  }

  /** [lo, hi] of the colour scale shared by log-mels (rows of numbers): the top, and LOGMEL_RANGE below it. */
  function logmelScale(logmels) {
    let lo = Infinity;
    let hi = -Infinity;
    for (const rows of logmels) {
      for (const row of rows || []) {
        for (const v of row) {
          if (!finite(v)) continue;
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
      }
    }
    if (!finite(hi)) return [0, 1];
    lo = Math.max(lo, hi - LOGMEL_RANGE);
    return [lo, hi > lo ? hi : lo + 1];
  }

  /** A log-mel (rows of numbers, lowest band first) into a canvas, one pixel per bin, low bands at the bottom (CSS scales it). */
  function drawLogmel(canvas, rows, [lo, hi]) {
    const h = rows.length;
    const w = h ? rows[0].length : 0;
    canvas.width = Math.max(1, w);
    canvas.height = Math.max(1, h);
    const ctx = canvas.getContext("2d");
    const img = ctx.createImageData(canvas.width, canvas.height);
    for (let b = 0; b < h; b++) {
      const row = rows[b];
      for (let f = 0; f < w; f++) {
        const [r, g, bl] = magma(finite(row[f]) ? (row[f] - lo) / (hi - lo) : 0);
        const i = ((h - 1 - b) * w + f) * 4;
        img.data[i] = r;
        img.data[i + 1] = g;
        img.data[i + 2] = bl;
        img.data[i + 3] = 255;
      }
    }
    ctx.putImageData(img, 0, 0);
  }

  /**
   * One panel of the Explore tab: its controls → one note from `url` (debounced), drawn in its canvas,
   * loaded in its player, with the row of notes beside it ("strip", asked again only when `stripKey()` changes).
   * o: {key, url, body() (the request's fields), stripKey(), slider (the value's <input>), valueKey, fmt(v)}
   */
  function makeExplorePanel(o) {
    const err = $(`explore-${o.key}-error`);
    const canvas = $(`explore-${o.key}-spec`);
    const caption = $(`explore-${o.key}-caption`);
    const player = $(`explore-${o.key}-player`);
    const status = $(`explore-${o.key}-status`);
    const strip = $(`explore-${o.key}-strip`);
    const st = { strip: null, stripFor: null, disabled: false };

    function renderStrip(scale) {
      const current = Number(o.slider.value);
      strip.replaceChildren(...(st.strip || []).map((s) => {
        const v = s[o.valueKey];
        const c = el("canvas", { class: "logmel", width: "44", height: "128" });
        drawLogmel(c, s.logmel, scale);
        return el("button", { type: "button", class: "tile", "data-value": String(v), "aria-pressed": String(Math.abs(v - current) < 1e-9),
          "aria-label": `${o.fmt(v)}: hear it`, onclick: () => {
            o.slider.value = v;
            o.slider.dispatchEvent(new Event("input"));
          } }, c, el("span", { text: o.fmt(v) }));
      }));
    }

    function render(a, ms) {
      const values = a.logmel?.values || [];
      const scale = logmelScale([values, ...(st.strip || []).map((s) => s.logmel)]);
      drawLogmel(canvas, values, scale);
      canvas.dataset.label = a.label;
      canvas.setAttribute("aria-label", `log-mel spectrogram of ${a.title}, ${o.fmt(a[o.valueKey])}`);
      caption.textContent = `${a.title} \u00b7 ${o.fmt(a[o.valueKey])} \u00b7 ${a.method}`;
      player.src = a.audio.url;
      if ($("explore-autoplay").checked) player.play().catch(() => {});
      status.textContent = finite(a.elapsed_s) ? `made in ${a.elapsed_s.toFixed(2)} s (${(ms / 1000).toFixed(2)} s with the round trip)` : "";
      renderStrip(scale);
    }

    async function fetchNote() {
      if (st.disabled) return;
      const want = o.stripKey();
      const body = { ...o.body(), method: $("explore-method").value, strip: st.stripFor !== want };
      const t0 = performance.now();
      try {
        const a = await postJson(o.url, body);
        clearError(err);
        if (a.strip) {
          st.strip = a.strip;
          st.stripFor = want;
        }
        render(a, performance.now() - t0);
      } catch (x) {
        showError(err, x instanceof ApiError ? x.message : "the page could not show the answer");
        if (!(x instanceof ApiError)) console.error(x);
      }
    }

    // one player of the tab at a time
    player.addEventListener("play", () => {
      for (const a of document.querySelectorAll("#panel-explore audio")) if (a !== player && !a.paused) a.pause();
    });
    return { refresh: makeLive(fetchNote), disable() { st.disabled = true; } };
  }

  /** A pitch slider limited to [lo, hi] (its value kept inside), its output showing the note's name. */
  function setPitchRange(slider, out, lo, hi) {
    slider.min = lo;
    slider.max = hi;
    const v = Math.max(lo, Math.min(hi, Number(slider.value)));
    slider.value = v;
    out.textContent = `${v} \u00b7 ${noteName(v)}`;
  }

  function initExplore() {
    const line = $("explore-model");
    const method = $("explore-method");
    const source = $("explore-source");
    const target = $("explore-target");
    const pitch = $("explore-pitch");
    const alpha = $("explore-alpha");
    const instrument = $("explore-instrument");
    const dim = $("explore-dim");
    const tpitch = $("explore-trav-pitch");
    const value = $("explore-value");
    const info = { byName: new Map(), pitch_min: 28, pitch_max: 96 };
    const fmtAlpha = (v) => `\u03b1 = ${fmtNumber(Number(v))}`;
    const fmtValue = (v) => `${Number(v) > 0 ? "+" : ""}${fmtNumber(Number(v))} \u03c3`;

    const interp = makeExplorePanel({
      key: "interp", url: "/api/explore/interpolate", slider: alpha, valueKey: "alpha", fmt: fmtAlpha,
      body: () => ({ source: source.value, target: target.value, pitch: Number(pitch.value), alpha: Number(alpha.value) }),
      stripKey: () => `${source.value}|${target.value}|${pitch.value}`,
    });
    const trav = makeExplorePanel({
      key: "trav", url: "/api/explore/traverse", slider: value, valueKey: "value", fmt: fmtValue,
      body: () => ({ instrument: instrument.value, pitch: Number(tpitch.value), dim: Number(dim.value), value: Number(value.value) }),
      stripKey: () => `${instrument.value}|${dim.value}|${tpitch.value}`,
    });

    // the interpolation's pitches: the register both instruments play (the explorer's whole range if they share none)
    function interpRange() {
      const a = info.byName.get(source.value);
      const b = info.byName.get(target.value);
      if (!a || !b) return;
      let lo = Math.max(a.low, b.low);
      let hi = Math.min(a.high, b.high);
      const hint = $("explore-pitch-hint");
      if (lo > hi) {
        [lo, hi] = [info.pitch_min, info.pitch_max];
        hint.textContent = `${a.name} and ${b.name} share no register: the explorer's whole range, MIDI ${lo} \u2026 ${hi}`;
      } else {
        hint.textContent = `${a.name === b.name ? `${a.name} plays` : "both play"} MIDI ${lo} \u2026 ${hi} (${noteName(lo)} \u2026 ${noteName(hi)})`;
      }
      setPitchRange(pitch, $("explore-pitch-value"), lo, hi);
    }
    function travRange() {
      const a = info.byName.get(instrument.value);
      if (!a) return;
      $("explore-trav-pitch-hint").textContent = `${a.name} plays MIDI ${a.low} \u2026 ${a.high} (${noteName(a.low)} \u2026 ${noteName(a.high)})`;
      setPitchRange(tpitch, $("explore-trav-pitch-value"), a.low, a.high);
    }

    const showSlider = (input, out, fmt) => () => {
      out.textContent = fmt(input.value);
    };
    const showAlpha = showSlider(alpha, $("explore-alpha-value"), (v) => fmtNumber(Number(v)));
    const showValue = showSlider(value, $("explore-value-value"), (v) => fmtNumber(Number(v)));
    const showPitch = showSlider(pitch, $("explore-pitch-value"), (v) => `${v} \u00b7 ${noteName(Number(v))}`);
    const showTpitch = showSlider(tpitch, $("explore-trav-pitch-value"), (v) => `${v} \u00b7 ${noteName(Number(v))}`);
    const on = (input, event, ...fns) => input.addEventListener(event, () => fns.forEach((f) => f()));
    on(source, "change", interpRange, interp.refresh);
    on(target, "change", interpRange, interp.refresh);
    on(pitch, "input", showPitch, interp.refresh);
    on(alpha, "input", showAlpha, interp.refresh);
    on(instrument, "change", travRange, trav.refresh);
    on(dim, "change", trav.refresh);
    on(tpitch, "input", showTpitch, trav.refresh);
    on(value, "input", showValue, trav.refresh);
    on(method, "change", interp.refresh, trav.refresh);
    alpha.addEventListener("dblclick", () => {
      alpha.value = 0.5;
      alpha.dispatchEvent(new Event("input"));
    });
    value.addEventListener("dblclick", () => {
      value.value = 0;
      value.dispatchEvent(new Event("input"));
    });
    showAlpha();
    showValue();

    const controls = [method, source, target, pitch, alpha, instrument, dim, tpitch, value];
    for (const c of controls) c.disabled = true;
    request("GET", "/api/explore/info").then((x) => {
      info.pitch_min = x.pitch_min;
      info.pitch_max = x.pitch_max;
      for (const c of x.classes || []) info.byName.set(c.name, c);
      const names = [...info.byName.keys()];
      const options = () => names.map((n) => el("option", { value: n, text: n }));
      source.replaceChildren(...options());
      target.replaceChildren(...options());
      instrument.replaceChildren(...options());
      const pick = (select, name, i) => {
        select.value = info.byName.has(name) ? name : names[Math.min(i, names.length - 1)] || "";
      };
      pick(source, "piano", 0);
      pick(target, "saxophone", 1);
      pick(instrument, "violin", 0);
      dim.replaceChildren(...Array.from({ length: x.latent_dim || 0 }, (_, i) => el("option", { value: String(i), text: `timbre ${i}` })));
      method.replaceChildren(...(x.methods || []).map((m) => el("option", { value: m, text: m })));
      method.value = x.default_method || (x.methods || [])[0] || "";
      if (x.alpha) [alpha.min, alpha.max] = [x.alpha.min, x.alpha.max];
      if (x.value) [value.min, value.max] = [x.value.min, x.value.max];
      const m = x.model || {};
      line.textContent = `explorer: ${names.length} instruments, MIDI ${x.pitch_min} \u2026 ${x.pitch_max}, a ${x.latent_dim}-dimensional timbre latent` +
        (finite(m.parameters) ? `, ${(m.parameters / 1e6).toFixed(2)} M parameters` : "");
      for (const c of controls) c.disabled = false;
      interpRange();
      travRange();
      interp.refresh();
      trav.refresh();
    }).catch((x) => {
      line.textContent = "";
      line.hidden = true;
      showError($("explore-model-error"), x.message);
      interp.disable();
      trav.disable();
    });
  }

  // ------------------------------------------------------------------------------------ start

  async function loadInfo() {
    try {
      const info = await request("GET", "/api/info");
      studio.info = info;
      $("version").textContent = info.version ? `v${info.version}` : "";
      const sliders = [["apply-eq-amount", info.eq], ["apply-reverb-amount", info.reverb]];
      for (const [id, range] of sliders) {
        if (!range) continue;
        const input = $(id);
        if (finite(range.amount_min)) input.min = range.amount_min;
        if (finite(range.amount_max)) input.max = range.amount_max;
        if (finite(range.default)) {
          input.value = range.default;
          input.dataset.default = range.default;
        }
        input.dispatchEvent(new Event("input"));
      }
      for (const s of document.querySelectorAll(".example-name")) s.textContent = info.example?.name ? `(${info.example.name})` : "";
      const limit = finite(info.max_upload_mb) ? `Uploads up to ${info.max_upload_mb} MB` : "";
      const keep = finite(info.keep_minutes) ? `; results are kept ${info.keep_minutes} min` : "";
      for (const p of document.querySelectorAll(".limit-hint")) p.textContent = limit ? `${limit}${keep}.` : "";
    } catch (x) {
      showError($("global-error"), `could not read the studio's settings: ${x.message}`);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    initTabs();
    loadInfo();
  });
})();
