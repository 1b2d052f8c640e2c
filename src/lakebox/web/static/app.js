/* lakebox dashboard: renders the JSON the server embeds and serves, keeps itself fresh by polling, and keeps
 * every view's settings in the URL (a panel's parameters, view and table state; the editor's SQL) so that
 * reload, back/forward and shared links show the same view. Uses window.LB (ui.js, charts.js, editor.js).
 */
"use strict";
(function () {
  const LB = window.LB;
  const { h, $, $$, api, nf0 } = LB;
  const boot = JSON.parse($("#boot").textContent);
  const POLL_MS = 1500;
  const PANEL_ROWS = 1000;
  let version = boot.version;
  const AS_OF = $('meta[name="lakebox-as-of"]').content; // the reference date: its month is not over yet
  const panelData = {}; // name -> last result shown, to redraw on theme or view change

  // ---- theme ---------------------------------------------------------------------------------------------

  const toggle = $("#theme-toggle");
  function showTheme() {
    const dark = document.documentElement.dataset.theme === "dark";
    toggle.setAttribute("aria-pressed", dark ? "true" : "false");
    $(".ticon", toggle).textContent = dark ? "☀" : "☾";
    $(".tlabel", toggle).textContent = dark ? " Light" : " Dark";
  }
  toggle.addEventListener("click", () => {
    const next = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
    const system = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
    // back to the system's theme: follow the system again (its changes too) instead of pinning it
    window.lakeboxTheme.set(next === system ? null : next);
  });
  document.addEventListener("lakebox:theme", () => {
    showTheme();
    for (const name of Object.keys(panelData)) drawPanelChart(name);
  });
  showTheme();

  // ---- panels --------------------------------------------------------------------------------------------

  const panelEl = (name) => document.getElementById("panel-" + name);
  const formOf = (name) => $('form.params[data-query="' + CSS.escape(name) + '"]');

  function panelParams(name) {
    const form = formOf(name);
    const out = {};
    if (form) for (const input of $$("input", form)) out[input.name] = input.value;
    return out;
  }

  function isDefault(name) {
    const form = formOf(name);
    return !form || $$("input", form).every((i) => i.value === i.dataset.default);
  }

  /** Put the URL's parameters into the panel's form; true when they changed. */
  function paramsFromUrl(name) {
    const form = formOf(name);
    if (!form) return false;
    let changed = false;
    for (const input of $$("input", form)) {
      const want = LB.url.get(name + "." + input.name) || input.dataset.default;
      if (input.value !== want) { input.value = want; changed = true; }
    }
    return changed;
  }

  function viewOf(name) {
    const el = panelEl(name);
    const sel = $(".view-select", el);
    return sel.value || "table";
  }

  function setupViewSelect(name) {
    const el = panelEl(name);
    const sel = $(".view-select", el);
    const hint = (panelData[name] && panelData[name].chart) || { type: el.dataset.chart };
    const views = LB.viewsFor(hint);
    const want = LB.url.get(name + ".view");
    const labels = { bar: "Bar chart", line: "Line chart", donut: "Donut chart", table: "Table only" };
    if (sel.options.length !== views.length) {
      sel.replaceChildren(...views.map((v) => h("option", { value: v }, labels[v])));
    }
    sel.value = views.includes(want) ? want : views[0];
    el.dataset.view = sel.value;
  }

  function setDownloads(el, name, params, ok) {
    const qs = new URLSearchParams(params).toString();
    const links = [[".dl-csv", ".csv"], [".dl-json", ".json"]];
    for (const [sel, ext] of links) {
      const a = $(sel, el);
      if (ok) {
        a.setAttribute("href", "/api/queries/" + encodeURIComponent(name) + ext + (qs ? "?" + qs : ""));
        a.removeAttribute("aria-disabled");
        a.removeAttribute("tabindex");
      } else {
        a.removeAttribute("href");
        a.setAttribute("aria-disabled", "true");
        a.setAttribute("tabindex", "-1");
      }
    }
    $(".dl-png", el).disabled = !ok;
  }

  function emptyText(name, params) {
    if (params.month) return "No orders in " + LB.monthLabel(params.month, true) + " — pick another month or upload data.";
    return "No orders yet — upload a CSV of orders to see this panel.";
  }

  function drawPanelChart(name) {
    const el = panelEl(name);
    const p = panelData[name];
    if (!el || !p) return;
    LB.drawChart($(".chart", el), p, viewOf(name), { asOf: AS_OF, emptyText: emptyText(name, p.params || {}) });
  }

  function renderPanel(name, p) {
    const el = panelEl(name);
    if (!el) return;
    const notice = $(".notice", el);
    const params = p.params || panelParams(name);
    if (p.error) {
      const empty = p.error.error_type === "TABLE_NOT_FOUND";
      delete panelData[name];
      setDownloads(el, name, params, false);
      notice.hidden = false;
      notice.className = empty ? "notice empty-state" : "notice error-box";
      notice.replaceChildren();
      if (empty) notice.textContent = "No processed data yet — upload a CSV of orders to see this panel.";
      else {
        notice.append(h("strong", { text: p.error.error_type }), " ", p.error.message);
        if (p.error.error_type === "INVALID_PARAMETER") notice.append(h("span", { class: "hint", text: "Change the value above; the downloads come back when the query runs." }));
      }
      LB.drawChart($(".chart", el), { rows: [], columns: [] }, "table");
      $(".table-wrap", el).replaceChildren();
      $(".stats", el).textContent = "";
      el.dataset.state = "error";
      return;
    }
    panelData[name] = p;
    setupViewSelect(name);
    const empty = !(p.rows || []).length;
    setDownloads(el, name, params, !empty);
    notice.hidden = !empty;
    notice.className = "notice empty-state";
    notice.textContent = empty ? emptyText(name, params) : "";
    const s = p.stats || {};
    const capped = p.truncated && p.row_count >= Number($("#sql-result").dataset.maxRows);
    $(".stats", el).replaceChildren(
      h("span", { title: "total execution time" }, LB.fmtMs(s.time_ms)),
      h("span", { title: "rows returned" }, nf0.format(p.row_count || 0), capped ? "+ rows" : " rows"),
      h("span", { title: "bytes scanned" }, LB.fmtBytes(s.bytes_scanned), " scanned"));
    drawPanelChart(name);
    if (empty) $(".table-wrap", el).replaceChildren();
    else {
      LB.dataTable($(".table-wrap", el), p, { key: name, maxRows: Number($("#sql-result").dataset.maxRows), label: p.title || name,
        downloads: { csv: $(".dl-csv", el).getAttribute("href"), json: $(".dl-json", el).getAttribute("href") } });
    }
    el.dataset.state = empty ? "empty" : "ready";
    el.dataset.rows = String(p.row_count || 0);
  }

  async function loadPanel(name) {
    const el = panelEl(name);
    if (!el) return;
    const params = panelParams(name);
    el.dataset.state = "loading";
    const qs = new URLSearchParams(Object.assign({}, params, { limit: String(PANEL_ROWS) })).toString();
    try {
      const p = await api("/api/queries/" + encodeURIComponent(name) + "?" + qs);
      if (JSON.stringify(panelParams(name)) !== JSON.stringify(params)) return; // a newer request is on its way
      renderPanel(name, p);
    } catch (e) {
      renderPanel(name, { params, error: { error_type: (e.info && e.info.type) || "ERROR", message: e.message } });
    }
  }

  for (const el of $$("article.panel")) {
    const name = el.dataset.query;
    const form = formOf(name);
    if (form) {
      form.addEventListener("submit", (ev) => { ev.preventDefault(); });
      form.addEventListener("change", () => {
        const updates = {};
        for (const [k, v] of Object.entries(panelParams(name))) {
          const input = $('input[name="' + CSS.escape(k) + '"]', form);
          updates[name + "." + k] = v === input.dataset.default ? null : v;
        }
        // new rows: back to the first page, no facet that may not exist any more
        for (const k of Object.keys(LB.url.scoped(name))) if (k === "page" || k.startsWith("f.")) updates[name + "." + k] = null;
        LB.url.set(updates, true);
        loadPanel(name);
      });
    }
    $(".view-select", el).addEventListener("change", (ev) => {
      const views = Array.from(ev.target.options, (o) => o.value);
      LB.url.set({ [name + ".view"]: ev.target.value === views[0] ? null : ev.target.value }, true);
      el.dataset.view = ev.target.value;
      drawPanelChart(name);
    });
    $(".copy-link", el).addEventListener("click", (ev) => LB.copyText(LB.url.link([name], "panel-" + name), ev.currentTarget));
    $(".dl-png", el).addEventListener("click", () => LB.downloadChart($(".chart", el), name));
    const del = $(".delete-query", el);
    if (del) {
      del.addEventListener("click", async () => {
        if (!window.confirm("Delete the saved query " + name + "?")) return;
        await api("/api/queries/" + encodeURIComponent(name), { method: "DELETE" });
        el.remove();
      });
    }
  }

  // ---- overview ------------------------------------------------------------------------------------------

  function setFigure(key, value, sub, title) {
    const el = $('[data-figure="' + key + '"]');
    if (!el) return;
    $(".value", el).textContent = value;
    $(".sub", el).textContent = sub || "";
    if (title) el.setAttribute("title", title); else el.removeAttribute("title");
  }

  /** Money that fits its card: compact ($1.2M) past ten characters, the exact amount in the tooltip. */
  function moneyFit(v) {
    const full = LB.money.format(v || 0);
    return full.length > 10 ? [LB.moneyCompact.format(v || 0), full] : [full, null];
  }

  let lastOverview = null;
  function renderOverview(o) {
    lastOverview = o;
    const none = o.empty;
    setFigure("orders", nf0.format(o.orders || 0), none ? "no processed data yet — upload a CSV" : "processed orders");
    const [rev, revFull] = moneyFit(o.revenue);
    setFigure("revenue", rev, "sum of order amounts", revFull);
    const [aov, aovFull] = o.average_order_value === null ? ["–", null] : moneyFit(o.average_order_value);
    setFigure("average_order_value", aov, "per order", aovFull);
    setFigure("customers", nf0.format(o.customers || 0), "distinct customers");
    setFigure("removed_share", o.removed_share === null ? "–" : LB.pct.format(o.removed_share),
      nf0.format(o.rows_dropped) + " dropped · " + nf0.format(o.rows_quarantined) + " quarantined of " + nf0.format(o.rows_read) + " read");
    setFigure("last_arrival", LB.ago(o.last_arrival), o.last_arrival ? LB.localTime(o.last_arrival) : "no runs yet", o.last_arrival);
    $("#figures").dataset.orders = String(o.orders || 0);
  }

  // ---- pipeline ------------------------------------------------------------------------------------------

  function simpleTable(label, columns, rows, empty) {
    if (!rows.length) return h("p", { class: "muted", text: empty });
    return h("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": label },
      h("table", { class: "data compact" },
        h("thead", null, h("tr", null, columns.map((c) => h("th", { class: c.num ? "num" : null, scope: "col", text: c.label })))),
        h("tbody", null, rows.map((r) => h("tr", null, columns.map((c) => {
          const v = c.get(r);
          if (v instanceof Node) return h("td", { class: c.num ? "num" : null }, v);
          return h("td", { class: [c.num ? "num" : "", c.cls || ""].join(" ").trim() || null, text: v === null || v === undefined ? "" : v,
            title: c.title ? c.title(r) : null });
        }))))));
  }

  function badge(status) { return h("span", { class: "badge " + String(status).replace(/[^a-z]/g, ""), text: status }); }
  const n0 = (v) => nf0.format(v || 0);

  function renderPipeline(p) {
    $("#runs").replaceChildren(simpleTable("recent runs", [
      { label: "Started", get: (r) => LB.ago(r.started_at), title: (r) => LB.localTime(r.started_at) },
      { label: "File", get: (r) => r.raw_key, cls: "mono" },
      { label: "Status", get: (r) => badge(r.status) },
      { label: "Read", get: (r) => n0(r.rows_read), num: true },
      { label: "Kept", get: (r) => n0(r.rows_kept), num: true },
      { label: "Dropped", get: (r) => n0(r.rows_dropped), num: true },
      { label: "Quarantined", get: (r) => n0(r.rows_quarantined), num: true },
      { label: "Duration", get: (r) => LB.fmtMs(r.duration_ms), num: true },
      { label: "Error", get: (r) => r.error || "", cls: "err wrap" },
    ], p.runs || [], "No runs yet: upload a CSV above, or drop one into raw/."));
    const q = p.quarantine || { rows: [] };
    const qt = simpleTable("quarantined rows", [
      { label: "File", get: (r) => r.file, cls: "mono" },
      { label: "Line", get: (r) => r.line, num: true },
      { label: "Reason", get: (r) => r.reason, cls: "err wrap" },
      { label: "Row", get: (r) => r.raw_line || Object.values(r.values || {}).join(","), cls: "mono wrap" },
    ], q.rows || [], "No quarantined rows: every row parsed.");
    $("#quarantine").replaceChildren(qt, q.truncated ? h("p", { class: "truncated", text: "Showing the first " + n0(q.rows.length) + " rows." }) : "");
    $("#tables").replaceChildren(...((p.tables || []).length ? p.tables.map(tableCard) : [h("p", { class: "muted", text: "No tables yet: the crawler adds them as files are processed." })]));
    $("#failures").replaceChildren(simpleTable("failed events", [
      { label: "Failed", get: (r) => LB.ago(r.failed_at), title: (r) => LB.localTime(r.failed_at) },
      { label: "File", get: (r) => r.key, cls: "mono" },
      { label: "Error", get: (r) => (r.error_type ? r.error_type + ": " : "") + (r.error || ""), cls: "err wrap" },
      { label: "Attempts", get: (r) => n0(r.attempts), num: true },
    ], p.failures || [], "No failed events."));
    LB.renderSchema(p.tables || []);
  }

  function tableCard(t) {
    const cols = (t.columns || []).map((c) => h("li", null, h("code", { text: c.name }), " ", h("span", { class: "muted", text: c.type })));
    const pk = (t.partition_keys || []).map((c) => h("li", null, h("code", { text: c.name }), " ", h("span", { class: "muted", text: c.type + " · partition key" })));
    const parts = simpleTable("partitions of " + t.name, [
      { label: "Partition", get: (r) => (r.values || []).join(" / "), cls: "mono" },
      { label: "Files", get: (r) => n0(r.file_count), num: true },
      { label: "Rows", get: (r) => n0(r.row_count), num: true },
      { label: "Size", get: (r) => LB.fmtBytes(r.size_bytes), num: true },
    ], t.partitions || [], "Not partitioned.");
    const versions = simpleTable("versions of " + t.name, [
      { label: "Version", get: (r) => "v" + r.version },
      { label: "Since", get: (r) => LB.localTime(r.updated_at) },
      { label: "Columns", get: (r) => (r.columns || []).map((c) => c.name + " " + c.type).join(", "), cls: "mono wrap" },
    ], (t.versions || []).slice().reverse(), "No history.");
    return h("details", { class: "table-card", open: "" },
      h("summary", null, h("strong", { text: t.database + "." + t.name }), " ",
        h("span", { class: "muted", text: "v" + t.version + " · " + t.format + " · " + n0(t.row_count) + " rows · " +
          n0(t.file_count) + " files · " + LB.fmtBytes(t.size_bytes) + " · " + t.location })),
      h("div", { class: "table-detail" },
        h("div", null, h("h4", { text: "Schema" }), h("ul", { class: "cols" }, cols, pk)),
        h("div", null, h("h4", { text: "Partitions" }), parts),
        h("div", null, h("h4", { text: "Versions" }), versions)));
  }

  // ---- upload --------------------------------------------------------------------------------------------

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
            n0(r.rows_quarantined) + " quarantined · " + LB.fmtMs(r.duration_ms)
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
  zone.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); $("#upload-input").click(); }
  });
  for (const t of ["dragenter", "dragover"]) zone.addEventListener(t, (ev) => { ev.preventDefault(); zone.classList.add("over"); });
  for (const t of ["dragleave", "drop"]) zone.addEventListener(t, () => zone.classList.remove("over"));
  zone.addEventListener("drop", (ev) => {
    ev.preventDefault();
    const f = ev.dataTransfer && ev.dataTransfer.files && ev.dataTransfer.files[0];
    if (f) upload(f);
  });

  // ---- freshness -----------------------------------------------------------------------------------------

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
        LB.refreshCompletions();
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
      if (!panelEl(name)) continue;
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

  // ---- back and forward: show the view the URL describes ---------------------------------------------------

  window.addEventListener("popstate", () => {
    for (const el of $$("article.panel")) {
      const name = el.dataset.query;
      if (paramsFromUrl(name)) { loadPanel(name); continue; }
      if (!panelData[name]) continue;
      const before = viewOf(name);
      setupViewSelect(name);
      if (viewOf(name) !== before) drawPanelChart(name);
      const table = LB.tables[name];
      if (table) { table.readUrl(); table.render(); }
    }
    LB.editorFromUrl();
  });

  // relative times ("3 min ago") age without new data
  setInterval(() => { if (lastOverview) renderOverview(lastOverview); }, 30000);

  for (const el of $$("article.panel")) paramsFromUrl(el.dataset.query);
  renderAll(boot);
  LB.editorFromUrl();
  if (location.hash) { const target = document.getElementById(location.hash.slice(1)); if (target) target.scrollIntoView(); }
  setTimeout(poll, POLL_MS);
})();
