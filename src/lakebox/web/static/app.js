/* lakebox dashboard: renders the JSON the server embeds and serves, keeps itself fresh by polling.
 *
 * Safety rule for this file: data only ever reaches the page through textContent / text nodes and
 * setAttribute on our own URLs; never innerHTML. Chart labels are entity-escaped for plotly's pseudo-HTML.
 */
"use strict";
(function () {
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  const boot = JSON.parse($("#boot").textContent);
  const CSRF = $('meta[name="csrf-token"]').content;
  const POLL_MS = 1500;
  const PAGE_SIZE = 15;
  const CHART_ROWS = 15;
  let version = boot.version;
  let pipeline = boot.pipeline;

  // ---- DOM and formatting helpers -------------------------------------------------------------------

  function h(tag, props, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = String(v);
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, String(v));
    }
    for (const kid of kids.flat()) {
      if (kid === null || kid === undefined || kid === false) continue;
      e.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    }
    return e;
  }

  const nf0 = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  const nf2 = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const nfd = new Intl.NumberFormat("en-US", { maximumFractionDigits: 4 });
  const pct = new Intl.NumberFormat("en-US", { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const INT_T = /^(bigint|integer|smallint|tinyint|decimal\(\d+,\s*0\))/;
  const NUM_T = /^(bigint|integer|smallint|tinyint|double|real|decimal)/;

  function isNumeric(type) { return NUM_T.test(type || ""); }

  function fmtValue(v, type) {
    if (v === null || v === undefined) return "NULL";
    if (typeof v === "number") {
      if (INT_T.test(type || "")) return nf0.format(v);
      if (/^decimal/.test(type || "")) return nf2.format(v);
      return Number.isInteger(v) ? nf0.format(v) : nfd.format(v);
    }
    if (/^timestamp/.test(type || "") && typeof v === "string" && v.endsWith(" 00:00:00.000")) return v.slice(0, 10);
    if (typeof v === "object") return JSON.stringify(v);
    return String(v);
  }

  function fmtBytes(n) {
    if (n === null || n === undefined) return "–";
    const units = ["B", "kB", "MB", "GB", "TB"];
    let i = 0;
    let x = Number(n);
    while (x >= 1000 && i < units.length - 1) { x /= 1000; i += 1; }
    return (i === 0 ? nf0.format(x) : x.toFixed(1)) + " " + units[i];
  }

  function fmtMs(ms) {
    if (ms === null || ms === undefined) return "–";
    return ms < 1000 ? (ms < 10 ? ms.toFixed(1) : nf0.format(ms)) + " ms" : (ms / 1000).toFixed(2) + " s";
  }

  function ago(iso) {
    if (!iso) return "never";
    const t = Date.parse(iso);
    if (Number.isNaN(t)) return String(iso);
    const s = Math.max(0, (Date.now() - t) / 1000);
    if (s < 60) return "just now";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    if (s < 86400) return Math.floor(s / 3600) + " h ago";
    return Math.floor(s / 86400) + " days ago";
  }

  function localTime(iso) {
    const t = Date.parse(iso || "");
    return Number.isNaN(t) ? (iso || "") : new Date(t).toLocaleString();
  }

  // plotly renders labels as pseudo-HTML: escape so a name shows as the text it is.
  function plotText(v) {
    return String(v === null || v === undefined ? "NULL" : v)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  async function api(url, opts) {
    const o = Object.assign({ headers: {} }, opts || {});
    o.headers = Object.assign({ Accept: "application/json" }, o.headers);
    if (o.method && o.method !== "GET") o.headers["X-CSRF-Token"] = CSRF;
    o.credentials = "same-origin";
    const r = await fetch(url, o);
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    if (!r.ok) {
      const err = (body && body.error) || { type: "HTTP_" + r.status, message: r.statusText || "request failed" };
      const ex = new Error(err.message);
      ex.info = err;
      ex.status = r.status;
      throw ex;
    }
    return body;
  }

  // ---- sortable, paginated table ---------------------------------------------------------------------

  function dataTable(container, result, opts) {
    const cols = result.columns || [];
    const state = { col: -1, dir: 1, page: 0, size: (opts && opts.pageSize) || PAGE_SIZE };
    const rows = (result.rows || []).slice();

    function sorted() {
      if (state.col < 0) return rows;
      const i = state.col;
      const num = isNumeric(cols[i].type);
      return rows.slice().sort((a, b) => {
        const x = a[i];
        const y = b[i];
        if (x === null || x === undefined) return 1;
        if (y === null || y === undefined) return -1;
        const c = num ? Number(x) - Number(y) : String(x).localeCompare(String(y));
        return c * state.dir;
      });
    }

    function render() {
      const all = sorted();
      const pages = Math.max(1, Math.ceil(all.length / state.size));
      state.page = Math.min(state.page, pages - 1);
      const start = state.page * state.size;
      const view = all.slice(start, start + state.size);
      const thead = h("thead", null, h("tr", null, cols.map((c, i) => {
        const active = state.col === i;
        const sort = active ? (state.dir > 0 ? "ascending" : "descending") : "none";
        return h("th", { scope: "col", "aria-sort": sort, class: isNumeric(c.type) ? "num" : null },
          h("button", {
            type: "button", class: "sort", title: "sort by " + c.name + " (" + c.type + ")",
            onclick: () => {
              if (state.col === i) state.dir = -state.dir; else { state.col = i; state.dir = isNumeric(c.type) ? -1 : 1; }
              state.page = 0;
              render();
            },
          }, c.name, h("span", { class: "arrow", text: active ? (state.dir > 0 ? "▲" : "▼") : "↕" })));
      })));
      const tbody = h("tbody", null, view.map((r) => h("tr", null, r.map((v, i) => h("td", {
        class: (isNumeric(cols[i].type) ? "num" : "") + (v === null ? " null" : ""),
        text: fmtValue(v, cols[i].type),
      })))));
      if (!view.length) tbody.append(h("tr", null, h("td", { colspan: cols.length || 1, class: "muted", text: "No rows" })));
      const pager = h("div", { class: "pager" },
        h("button", { type: "button", class: "prev", disabled: state.page === 0 ? "" : null, "aria-label": "previous page",
          onclick: () => { state.page -= 1; render(); } }, "‹"),
        h("span", { class: "range", text: all.length ? nf0.format(start + 1) + "–" + nf0.format(start + view.length) +
          " of " + nf0.format(all.length) + (result.truncated ? "+" : "") : "0 rows" }),
        h("button", { type: "button", class: "next", disabled: state.page >= pages - 1 ? "" : null, "aria-label": "next page",
          onclick: () => { state.page += 1; render(); } }, "›"));
      const parts = [h("div", { class: "scroll" }, h("table", { class: "data" }, thead, tbody))];
      if (all.length > state.size || result.truncated) parts.push(pager);
      if (result.truncated) {
        parts.push(h("p", { class: "truncated", text: "Truncated: showing the first " + nf0.format(rows.length) +
          " rows of a larger result (sorting applies to these). Download the CSV for every row." }));
      }
      container.replaceChildren(...parts);
    }
    render();
  }

  // ---- charts ----------------------------------------------------------------------------------------

  const COLORS = ["#2563eb", "#0d9488", "#f59e0b", "#e11d48", "#7c3aed", "#64748b"];
  const FONT = { family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 12, color: "#334155" };

  function drawChart(div, p) {
    if (!window.Plotly) { div.textContent = "Charts are unavailable (plotly.js did not load)."; return; }
    const hint = p.chart || {};
    const names = (p.columns || []).map((c) => c.name);
    const xi = names.indexOf(hint.x);
    const yis = (hint.y || []).map((y) => names.indexOf(y)).filter((i) => i >= 0);
    const rows = p.rows || [];
    if (xi < 0 || !yis.length || !rows.length) {
      Plotly.purge(div);
      div.replaceChildren(h("p", { class: "muted empty", text: rows.length ? "No chart for this result." : "No data yet." }));
      return;
    }
    if (!div.querySelector(".plot-container")) div.replaceChildren();
    const layout = { margin: { l: 10, r: 10, t: 10, b: 10 }, font: FONT, paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)", showlegend: false, height: 280, colorway: COLORS };
    const ytype = p.columns[yis[0]].type;
    let traces;
    if (hint.type === "line") {
      let x = rows.map((r) => plotText(fmtValue(r[xi], p.columns[xi].type)));
      if (x.every((v) => /^\d{4}-\d{2}-01$/.test(v))) x = x.map((v) => v.slice(0, 7)); // monthly buckets
      traces = yis.map((yi, k) => ({
        type: "scatter", mode: "lines+markers", name: plotText(names[yi]), x, y: rows.map((r) => r[yi]),
        yaxis: k ? "y2" : "y", line: { width: 3, shape: "spline", smoothing: 0.4 }, marker: { size: 7 },
        hovertemplate: "%{x}<br>" + plotText(names[yi]) + ": %{y:,.2f}<extra></extra>",
      }));
      Object.assign(layout, {
        showlegend: true, legend: { orientation: "h", y: -0.18 },
        xaxis: { type: "category", automargin: true, gridcolor: "#eef2f7" },
        yaxis: { title: { text: plotText(names[yis[0]]) }, automargin: true, gridcolor: "#eef2f7", tickformat: ",.0f", rangemode: "tozero" },
      });
      if (yis.length > 1) {
        layout.yaxis2 = { title: { text: plotText(names[yis[1]]) }, overlaying: "y", side: "right", automargin: true,
          showgrid: false, tickformat: ",.0f", rangemode: "tozero" };
      }
    } else if (hint.type === "donut" || hint.type === "pie") {
      traces = [{ type: "pie", hole: 0.58, labels: rows.map((r) => plotText(r[xi])), values: rows.map((r) => r[yis[0]]),
        sort: false, textinfo: "label+percent", textposition: "outside", automargin: true,
        hovertemplate: "%{label}: %{value:,}<extra></extra>", marker: { colors: COLORS } }];
      Object.assign(layout, { margin: { l: 30, r: 30, t: 20, b: 20 } });
    } else {
      const top = rows.slice(0, CHART_ROWS);
      traces = [{ type: "bar", orientation: "h", y: top.map((r) => plotText(r[xi])), x: top.map((r) => r[yis[0]]),
        marker: { color: COLORS[0] }, hovertemplate: "%{y}: %{x:,.2f}<extra></extra>",
        text: top.map((r) => fmtValue(r[yis[0]], ytype)), textposition: "auto", cliponaxis: false }];
      Object.assign(layout, {
        height: Math.max(200, 26 * top.length + 40), bargap: 0.25,
        yaxis: { type: "category", autorange: "reversed", automargin: true },
        xaxis: { automargin: true, gridcolor: "#eef2f7", tickformat: ",~r" },
      });
    }
    Plotly.react(div, traces, layout, { displayModeBar: false, responsive: true });
  }

  // ---- panels ----------------------------------------------------------------------------------------

  function panelParams(name) {
    const form = $('form.params[data-query="' + CSS.escape(name) + '"]');
    const out = {};
    if (form) for (const input of $$("input", form)) out[input.name] = input.value;
    return out;
  }

  function isDefault(name) {
    const form = $('form.params[data-query="' + CSS.escape(name) + '"]');
    return !form || $$("input", form).every((i) => i.value === i.dataset.default);
  }

  function setDownloads(el, name, params) {
    const qs = new URLSearchParams(params).toString();
    $(".dl-csv", el).setAttribute("href", "/api/queries/" + encodeURIComponent(name) + ".csv" + (qs ? "?" + qs : ""));
    $(".dl-json", el).setAttribute("href", "/api/queries/" + encodeURIComponent(name) + ".json" + (qs ? "?" + qs : ""));
  }

  function renderPanel(name, p) {
    const el = document.getElementById("panel-" + name);
    if (!el) return;
    const notice = $(".notice", el);
    setDownloads(el, name, p.params || panelParams(name));
    if (p.error) {
      const empty = p.error.error_type === "TABLE_NOT_FOUND";
      notice.hidden = false;
      notice.className = empty ? "notice muted" : "notice error-box";
      notice.textContent = empty ? "No processed data yet: upload a CSV to see this panel."
        : p.error.error_type + ": " + p.error.message;
      drawChart($(".chart", el), { rows: [], columns: [] });
      $(".table-wrap", el).replaceChildren();
      $(".stats", el).textContent = "";
      el.dataset.state = "error";
      return;
    }
    notice.hidden = true;
    notice.textContent = "";
    const s = p.stats || {};
    $(".stats", el).replaceChildren(
      h("span", { title: "total execution time" }, fmtMs(s.time_ms)),
      h("span", { title: "rows returned" }, nf0.format(p.row_count || 0), p.truncated ? "+ rows" : " rows"),
      h("span", { title: "bytes scanned" }, fmtBytes(s.bytes_scanned), " scanned"));
    drawChart($(".chart", el), p);
    dataTable($(".table-wrap", el), p);
    el.dataset.state = "ready";
    el.dataset.rows = String(p.row_count || 0);
  }

  async function loadPanel(name) {
    const el = document.getElementById("panel-" + name);
    const params = panelParams(name);
    el.dataset.state = "loading";
    const qs = new URLSearchParams(Object.assign({}, params, { limit: "1000" })).toString();
    try {
      renderPanel(name, await api("/api/queries/" + encodeURIComponent(name) + "?" + qs));
    } catch (e) {
      renderPanel(name, { params, error: { error_type: (e.info && e.info.type) || "ERROR", message: e.message } });
    }
  }

  for (const form of $$("form.params")) {
    const name = form.dataset.query;
    form.addEventListener("submit", (ev) => { ev.preventDefault(); loadPanel(name); });
    form.addEventListener("change", () => loadPanel(name));
  }

  // ---- overview --------------------------------------------------------------------------------------

  function setFigure(key, value, sub, title) {
    const el = $('[data-figure="' + key + '"]');
    if (!el) return;
    $(".value", el).textContent = value;
    $(".sub", el).textContent = sub || "";
    if (title) el.setAttribute("title", title); else el.removeAttribute("title");
  }

  let lastOverview = null;
  function renderOverview(o) {
    lastOverview = o;
    const none = o.empty;
    setFigure("orders", nf0.format(o.orders || 0), none ? "no processed data yet" : "processed orders");
    setFigure("revenue", nf2.format(o.revenue || 0), "sum of order amounts");
    setFigure("average_order_value", o.average_order_value === null ? "–" : nf2.format(o.average_order_value), "per order");
    setFigure("customers", nf0.format(o.customers || 0), "distinct customers");
    setFigure("removed_share", o.removed_share === null ? "–" : pct.format(o.removed_share),
      nf0.format(o.rows_dropped) + " dropped · " + nf0.format(o.rows_quarantined) + " quarantined of " + nf0.format(o.rows_read) + " read");
    setFigure("last_arrival", ago(o.last_arrival), o.last_arrival ? localTime(o.last_arrival) : "no runs yet", o.last_arrival);
    $("#figures").dataset.orders = String(o.orders || 0);
  }

  // ---- pipeline --------------------------------------------------------------------------------------

  function simpleTable(columns, rows, empty) {
    if (!rows.length) return h("p", { class: "muted", text: empty });
    return h("div", { class: "scroll" }, h("table", { class: "data compact" },
      h("thead", null, h("tr", null, columns.map((c) => h("th", { class: c.num ? "num" : null, scope: "col", text: c.label })))),
      h("tbody", null, rows.map((r) => h("tr", null, columns.map((c) => {
        const v = c.get(r);
        if (v instanceof Node) return h("td", { class: c.num ? "num" : null }, v);
        return h("td", { class: (c.num ? "num" : "") + (c.cls ? " " + c.cls : ""), text: v === null || v === undefined ? "" : v,
          title: c.title ? c.title(r) : null });
      }))))));
  }

  function badge(status) { return h("span", { class: "badge " + String(status).replace(/[^a-z]/g, ""), text: status }); }
  const n0 = (v) => nf0.format(v || 0);

  function renderPipeline(p) {
    pipeline = p;
    $("#runs").replaceChildren(simpleTable([
      { label: "Started", get: (r) => ago(r.started_at), title: (r) => localTime(r.started_at) },
      { label: "File", get: (r) => r.raw_key, cls: "mono" },
      { label: "Status", get: (r) => badge(r.status) },
      { label: "Read", get: (r) => n0(r.rows_read), num: true },
      { label: "Kept", get: (r) => n0(r.rows_kept), num: true },
      { label: "Dropped", get: (r) => n0(r.rows_dropped), num: true },
      { label: "Quarantined", get: (r) => n0(r.rows_quarantined), num: true },
      { label: "Duration", get: (r) => fmtMs(r.duration_ms), num: true },
      { label: "Error", get: (r) => r.error || "", cls: "err" },
    ], p.runs || [], "No runs yet."));
    const q = p.quarantine || { rows: [] };
    const qt = simpleTable([
      { label: "File", get: (r) => r.file, cls: "mono" },
      { label: "Line", get: (r) => r.line, num: true },
      { label: "Reason", get: (r) => r.reason, cls: "err" },
      { label: "Row", get: (r) => r.raw_line || Object.values(r.values || {}).join(","), cls: "mono" },
    ], q.rows || [], "No quarantined rows: every row parsed.");
    $("#quarantine").replaceChildren(qt, q.truncated ? h("p", { class: "truncated", text: "Showing the first " + n0(q.rows.length) + " rows." }) : "");
    $("#tables").replaceChildren(...((p.tables || []).length ? p.tables.map(tableCard) : [h("p", { class: "muted", text: "No tables yet: the crawler adds them as files are processed." })]));
    $("#failures").replaceChildren(simpleTable([
      { label: "Failed", get: (r) => ago(r.failed_at), title: (r) => localTime(r.failed_at) },
      { label: "File", get: (r) => r.key, cls: "mono" },
      { label: "Error", get: (r) => (r.error_type ? r.error_type + ": " : "") + (r.error || ""), cls: "err" },
      { label: "Attempts", get: (r) => n0(r.attempts), num: true },
    ], p.failures || [], "No failed events."));
    renderSchema(p.tables || []);
  }

  function tableCard(t) {
    const cols = (t.columns || []).map((c) => h("li", null, h("code", { text: c.name }), " ", h("span", { class: "muted", text: c.type })));
    const pk = (t.partition_keys || []).map((c) => h("li", null, h("code", { text: c.name }), " ", h("span", { class: "muted", text: c.type + " · partition key" })));
    const parts = simpleTable([
      { label: "Partition", get: (r) => (r.values || []).join(" / "), cls: "mono" },
      { label: "Files", get: (r) => n0(r.file_count), num: true },
      { label: "Rows", get: (r) => n0(r.row_count), num: true },
      { label: "Size", get: (r) => fmtBytes(r.size_bytes), num: true },
    ], t.partitions || [], "Not partitioned.");
    const versions = simpleTable([
      { label: "Version", get: (r) => "v" + r.version },
      { label: "Since", get: (r) => localTime(r.updated_at) },
      { label: "Columns", get: (r) => (r.columns || []).map((c) => c.name + " " + c.type).join(", "), cls: "mono" },
    ], (t.versions || []).slice().reverse(), "No history.");
    return h("details", { class: "table-card", open: "" },
      h("summary", null, h("strong", { text: t.database + "." + t.name }), " ",
        h("span", { class: "muted", text: "v" + t.version + " · " + t.format + " · " + n0(t.row_count) + " rows · " +
          n0(t.file_count) + " files · " + fmtBytes(t.size_bytes) + " · " + t.location })),
      h("div", { class: "table-detail" },
        h("div", null, h("h4", { text: "Schema" }), h("ul", { class: "cols" }, cols, pk)),
        h("div", null, h("h4", { text: "Partitions" }), parts),
        h("div", null, h("h4", { text: "Versions" }), versions)));
  }

  function renderSchema(tables) {
    $("#schema-list").replaceChildren(...tables.map((t) => h("li", null,
      h("button", { type: "button", class: "linklike", title: "insert a query for this table",
        onclick: () => { $("#sql-text").value = "SELECT *\nFROM " + t.name + "\nLIMIT 100"; $("#sql-text").focus(); } },
      t.name),
      h("ul", null, (t.columns || []).concat(t.partition_keys || []).map((c) =>
        h("li", null, h("code", { text: c.name }), " ", h("span", { class: "muted", text: c.type })))))));
  }

  // ---- SQL editor ------------------------------------------------------------------------------------

  async function runSql() {
    const btn = $("#sql-run");
    const err = $("#sql-error");
    btn.disabled = true;
    err.hidden = true;
    $("#sql-stats").textContent = "running…";
    $("#sql-result").dataset.state = "running";
    try {
      const res = await api("/api/sql", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ sql: $("#sql-text").value, database: $("#sql-db").value }) });
      const s = res.stats || {};
      $("#sql-stats").replaceChildren(
        h("span", null, fmtMs(s.time_ms)), h("span", null, nf0.format(res.row_count), res.truncated ? "+ rows (capped)" : " rows"),
        h("span", null, fmtBytes(s.bytes_scanned), " scanned"),
        res.result_location ? h("span", { class: "mono", title: "Athena-style result file", text: res.result_location }) : "");
      dataTable($("#sql-result"), res, { pageSize: 25 });
      $("#sql-result").dataset.state = "ok";
    } catch (e) {
      const info = e.info || { type: "ERROR", message: e.message };
      err.replaceChildren(h("strong", { text: info.type }), " ", h("span", { text: info.message }),
        info.line ? h("span", { class: "muted", text: " (line " + info.line + (info.column ? ", column " + info.column : "") + ")" }) : "");
      err.hidden = false;
      $("#sql-stats").textContent = "";
      $("#sql-result").replaceChildren();
      $("#sql-result").dataset.state = "error";
    } finally {
      btn.disabled = false;
    }
  }

  $("#sql-run").addEventListener("click", runSql);
  $("#sql-text").addEventListener("keydown", (ev) => {
    if ((ev.ctrlKey || ev.metaKey) && ev.key === "Enter") { ev.preventDefault(); runSql(); }
  });

  // ---- upload ----------------------------------------------------------------------------------------

  async function upload(file) {
    const out = $("#upload-result");
    out.dataset.state = "uploading";
    out.replaceChildren(h("span", { class: "muted", text: "Uploading " + file.name + "…" }));
    const fd = new FormData();
    fd.append("file", file, file.name);
    try {
      const res = await api("/api/upload", { method: "POST", body: fd });
      const r = res.run;
      out.replaceChildren(badge(r.status), " ", h("code", { text: res.key }), " ",
        h("span", { text: r.status === "ok"
          ? n0(r.rows_read) + " read · " + n0(r.rows_kept) + " kept · " + n0(r.rows_dropped) + " dropped · " +
            n0(r.rows_quarantined) + " quarantined · " + fmtMs(r.duration_ms)
          : (r.error || "not processed") }));
      out.dataset.state = r.status;
      await refresh();
    } catch (e) {
      out.replaceChildren(h("span", { class: "error-box", text: ((e.info && e.info.type) || "ERROR") + ": " + e.message }));
      out.dataset.state = "error";
    }
  }

  const zone = $("#dropzone");
  $("#upload-input").addEventListener("change", (ev) => {
    const f = ev.target.files && ev.target.files[0];
    if (f) upload(f);
    ev.target.value = "";
  });
  zone.addEventListener("keydown", (ev) => { if (ev.key === "Enter" || ev.key === " ") $("#upload-input").click(); });
  for (const t of ["dragenter", "dragover"]) zone.addEventListener(t, (ev) => { ev.preventDefault(); zone.classList.add("over"); });
  for (const t of ["dragleave", "drop"]) zone.addEventListener(t, () => zone.classList.remove("over"));
  zone.addEventListener("drop", (ev) => {
    ev.preventDefault();
    const f = ev.dataTransfer && ev.dataTransfer.files && ev.dataTransfer.files[0];
    if (f) upload(f);
  });

  // ---- freshness -------------------------------------------------------------------------------------

  function setVersion(v) {
    version = v;
    document.body.dataset.version = v;
    $("#version").textContent = v;
  }

  function setLive(ok, text) {
    $("#live").classList.toggle("down", !ok);
    $("#live-text").textContent = text || (ok ? "live" : "offline");
  }

  let refreshing = null;
  async function refresh() {
    if (refreshing) return refreshing;
    refreshing = (async () => {
      try {
        const b = await api("/api/dashboard");
        renderAll(b);
        setLive(true, "updated " + new Date().toLocaleTimeString());
      } finally {
        refreshing = null;
      }
    })();
    return refreshing;
  }

  // The page embeds what is computed at its data version; anything still being computed (null) is fetched
  // from the API, which joins the server's computation instead of starting another.
  function renderAll(b) {
    if (b.overview) renderOverview(b.overview);
    else api("/api/overview").then(renderOverview).catch(() => setLive(false, "offline"));
    for (const [name, p] of Object.entries(b.panels)) {
      if (p && isDefault(name)) renderPanel(name, p); else loadPanel(name);
    }
    if (b.pipeline) renderPipeline(b.pipeline);
    else Promise.all([api("/api/runs"), api("/api/tables"), api("/api/quarantine"), api("/api/failures")])
      .then(([r, t, q, f]) => renderPipeline({ runs: r.runs, totals: r.totals, tables: t.tables, quarantine: q,
        failures: f.failures })).catch(() => setLive(false, "offline"));
    setVersion(b.version);
  }

  async function poll() {
    try {
      const v = await api("/api/version", { cache: "no-store" });
      if (v.version !== version) await refresh();
      else if ($("#live").classList.contains("down")) setLive(true);
    } catch (e) {
      setLive(false, e.status === 401 ? "log in again" : "offline");
    }
    setTimeout(poll, POLL_MS);
  }

  // relative times ("3 min ago") age without new data
  setInterval(() => { if (lastOverview) renderOverview(lastOverview); }, 30000);

  renderAll(boot);
  setTimeout(poll, POLL_MS);
})();
