/* lakebox dashboard: the SQL workbench. CodeMirror 6 (vendored, static/vendor/) with SQL highlighting and
 * completion of the catalog's tables and columns and of Trino functions; runs, downloads of every row,
 * the query history, and saving a query as a named query. The SQL and database live in the URL (sql=, db=),
 * so a link re-runs the query.
 */
"use strict";
(function () {
  const LB = window.LB;
  const { h, $, api, nf0 } = LB;
  const CM = window.LakeboxCM;
  const textarea = $("#sql-text");
  const box = $("#sql-editor");
  let view = null;
  let lastResult = null;
  let shown = null; // the "db\nsql" whose result is on screen
  let completion = { tables: [], functions: [] };
  const schemaConf = CM ? new CM.Compartment() : null;
  const DEFAULT_DB = $("#sql-db").value;

  let syncTimer = null;
  function scheduleSync() {
    clearTimeout(syncTimer);
    syncTimer = setTimeout(() => LB.editor.syncParams(), 250);
  }

  function getSql() { return view ? view.state.doc.toString() : textarea.value; }
  function setSql(text) {
    if (view) view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
    else textarea.value = text;
  }
  LB.editor = { getSql, setSql, run: () => runSql(true), syncParams: () => {} };

  function sqlLanguage() {
    const schema = {};
    for (const t of completion.tables) {
      const cols = t.columns.map((c) => ({ label: c.name, type: "property", detail: c.type }));
      schema[t.name] = cols;
      schema[t.database + "." + t.name] = cols;
    }
    // columns of every table (the SQL language completes them only after "table."), and Trino functions
    const columns = new Map();
    for (const t of completion.tables) {
      for (const c of t.columns) if (!columns.has(c.name)) columns.set(c.name, { label: c.name, type: "property", detail: c.type + " · " + t.name, boost: 1 });
    }
    const extra = Array.from(columns.values()).concat(
      completion.functions.map((f) => ({ label: f, type: "function", apply: f + "(", detail: "Trino function" })));
    const fnSource = (ctx) => {
      const word = ctx.matchBefore(/\w+/);
      if (!word || (word.from === word.to && !ctx.explicit)) return null;
      if (ctx.state.sliceDoc(word.from - 1, word.from) === ".") return null; // "table.col": the language's own
      return { from: word.from, options: extra, validFor: /^\w*$/ };
    };
    const lang = CM.sql({ dialect: CM.StandardSQL, schema, upperCaseKeywords: true, defaultSchema: $("#sql-db").value });
    return [lang, lang.language.data.of({ autocomplete: fnSource })];
  }

  function mount() {
    if (!CM) return; // the textarea stays: a plain editor still runs queries
    const run = () => { runSql(true); return true; };
    view = new CM.EditorView({
      parent: box,
      state: CM.EditorState.create({
        doc: textarea.value,
        extensions: [
          CM.lineNumbers(), CM.highlightActiveLine(), CM.drawSelection(), CM.history(), CM.bracketMatching(),
          CM.closeBrackets(), CM.autocompletion({ activateOnTyping: true, icons: false }),
          CM.syntaxHighlighting(CM.classHighlighter),
          CM.keymap.of([{ key: "Mod-Enter", run, preventDefault: true }, ...CM.closeBracketsKeymap, ...CM.completionKeymap,
            ...CM.historyKeymap, ...CM.defaultKeymap]),
          CM.EditorView.contentAttributes.of({ "aria-label": "SQL query", "aria-multiline": "true" }),
          CM.EditorView.lineWrapping,
          CM.EditorView.updateListener.of((u) => { if (u.docChanged) scheduleSync(); }),
          schemaConf.of(sqlLanguage()),
        ],
      }),
    });
    textarea.hidden = true;
    box.dataset.editor = "codemirror";
  }

  async function loadCompletions() {
    try {
      completion = await api("/api/completions");
      if (view) view.dispatch({ effects: schemaConf.reconfigure(sqlLanguage()) });
      box.dataset.completions = String(completion.tables.length);
    } catch (e) {
      box.dataset.completions = "error"; // completion is a help, the editor works without it
    }
  }
  LB.refreshCompletions = loadCompletions;

  // ---- parameters: ":name" in the SQL gets an input; the run inlines the value as a quoted literal, as a
  // named query does (and the saved query keeps ":name" with the value as its default) ------------------------

  const PARAM = /(?<![:\w]):([a-zA-Z_]\w*)\b/g;
  const paramBox = $("#sql-params");
  const paramsOf = (sql) => Array.from(new Set(Array.from(sql.matchAll(PARAM), (m) => m[1])));

  function paramValues() {
    const out = {};
    for (const input of paramBox.querySelectorAll("input[data-param]")) out[input.dataset.param] = input.value;
    return out;
  }

  function syncParams() {
    const names = paramsOf(getSql());
    const have = paramValues();
    if (names.join("\n") === Object.keys(have).join("\n")) return;
    paramBox.replaceChildren(...names.map((n) => h("label", null, ":" + n,
      h("input", { "data-param": n, value: have[n] !== undefined ? have[n] : (LB.url.get("param." + n) || ""),
        "aria-label": "value of the parameter " + n, autocomplete: "off", size: 12 }))));
    paramBox.hidden = !names.length;
  }
  LB.editor.syncParams = syncParams;

  /** The SQL with every ":name" replaced by its value as a quoted literal; throws naming a missing value. */
  function inlined(sql, values) {
    return sql.replace(PARAM, (whole, name) => {
      const v = values[name];
      if (v === undefined || v === "") throw Object.assign(new Error("give a value for :" + name + " above the Run button"), { info: { type: "MISSING_PARAMETER", message: "give a value for :" + name + " above the Run button" } });
      return "'" + v.replace(/'/g, "''") + "'";
    });
  }

  // ---- running, results, downloads -----------------------------------------------------------------------

  function downloadsFor(res) {
    const id = encodeURIComponent(res.execution_id);
    return { csv: "/api/executions/" + id + ".csv", json: "/api/executions/" + id + ".json" };
  }

  async function runSql(push) {
    const btn = $("#sql-run");
    const err = $("#sql-error");
    const sql = getSql();
    const db = $("#sql-db").value;
    syncParams();
    const values = paramValues();
    const updates = { sql, db: db === DEFAULT_DB ? null : db };
    for (const k of Object.keys(LB.url.scoped("param"))) updates["param." + k] = null;
    for (const [k, v] of Object.entries(values)) updates["param." + k] = v;
    // a new query starts with a fresh table (its columns differ); a run from the URL keeps the URL's table state
    if (push) for (const k of Object.keys(LB.url.scoped("sql"))) updates["sql." + k] = null;
    LB.url.set(updates, push);
    btn.disabled = true;
    err.hidden = true;
    $("#sql-stats").textContent = "running…";
    $("#sql-links").replaceChildren();
    $("#sql-result").dataset.state = "running";
    try {
      const res = await api("/api/sql", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ sql: inlined(sql, values), database: db }) });
      lastResult = res;
      shown = db + "\n" + sql + "\n" + JSON.stringify(values);
      const s = res.stats || {};
      $("#sql-stats").replaceChildren(
        h("span", null, LB.fmtMs(s.time_ms)),
        h("span", null, nf0.format(res.row_count), res.truncated ? "+ rows" : " rows"),
        h("span", null, LB.fmtBytes(s.bytes_scanned), " scanned"));
      const dl = downloadsFor(res);
      $("#sql-links").replaceChildren(
        h("a", { class: "dl", id: "sql-dl-csv", href: dl.csv, download: "", title: "every row, not only those shown" }, "CSV (all rows)"),
        h("a", { class: "dl", id: "sql-dl-json", href: dl.json, download: "", title: "every row, not only those shown" }, "JSON (all rows)"));
      LB.dataTable($("#sql-result"), res, { key: "sql", pageSize: 25, maxRows: Number($("#sql-result").dataset.maxRows),
        downloads: dl, label: "query result", emptyText: "The query returned no rows.", facetsOpen: true });
      $("#sql-result").dataset.state = "ok";
      $("#sql-save").disabled = false;
      $("#sql-save").title = "save this query as a named query with a panel";
    } catch (e) {
      lastResult = null;
      shown = db + "\n" + sql + "\n" + JSON.stringify(values);
      const info = e.info || { type: "ERROR", message: e.message };
      err.replaceChildren(h("strong", { text: info.type }), " ", h("span", { text: info.message }),
        info.line ? h("span", { class: "muted", text: " (line " + info.line + (info.column ? ", column " + info.column : "") + ")" }) : "");
      err.hidden = false;
      $("#sql-stats").textContent = "";
      $("#sql-result").replaceChildren();
      $("#sql-result").dataset.state = "error";
      $("#sql-save").disabled = true;
    } finally {
      btn.disabled = false;
      loadHistory();
    }
  }

  $("#sql-run").addEventListener("click", () => runSql(true));
  textarea.addEventListener("input", scheduleSync);
  textarea.addEventListener("keydown", (ev) => {
    if ((ev.ctrlKey || ev.metaKey) && ev.key === "Enter") { ev.preventDefault(); runSql(true); }
  });
  $("#sql-db").addEventListener("change", () => { if (view) view.dispatch({ effects: schemaConf.reconfigure(sqlLanguage()) }); });
  $("#sql-link").addEventListener("click", (ev) => {
    LB.url.set({ sql: getSql() }, false);
    LB.copyText(LB.url.link(["sql", "db"], "sql"), ev.currentTarget);
  });

  // ---- history -----------------------------------------------------------------------------------------

  async function loadHistory() {
    let items;
    try {
      items = (await api("/api/executions?limit=25")).executions;
    } catch (e) {
      return;
    }
    const list = $("#history");
    if (!items.length) { list.replaceChildren(h("li", { class: "muted", text: "No queries yet." })); return; }
    list.replaceChildren(...items.map((it) => h("li", { "data-state": it.state },
      h("button", { type: "button", class: "load", title: it.sql, onclick: () => { setSql(it.sql); if (view) view.focus(); } },
        it.sql.replace(/\s+/g, " ")),
      h("div", { class: "meta" },
        h("span", { text: (it.state === "SUCCEEDED" ? nf0.format(it.rows || 0) + (it.truncated ? "+" : "") + " rows" : (it.error_type || it.state)) +
          " · " + LB.ago(it.submitted_at) }),
        h("button", { type: "button", class: "linklike", "aria-label": "run again: " + it.sql.slice(0, 60),
          onclick: () => { setSql(it.sql); runSql(true); } }, "Run")))));
  }

  // ---- schema list ------------------------------------------------------------------------------------

  LB.renderSchema = function renderSchema(tables) {
    $("#schema-list").replaceChildren(...tables.map((t) => h("li", null,
      h("button", { type: "button", class: "linklike", title: "insert a query for this table",
        onclick: () => { setSql("SELECT *\nFROM " + t.name + "\nLIMIT 100"); if (view) view.focus(); } }, t.name),
      h("ul", null, (t.columns || []).concat(t.partition_keys || []).map((c) =>
        h("li", null, h("code", { text: c.name }), " ", h("span", { class: "muted", text: c.type })))))));
  };

  // ---- save as a named query -----------------------------------------------------------------------------

  const dialog = $("#save-dialog");
  const form = $("#save-form");

  function slug(text) {
    const s = text.toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "").slice(0, 60);
    return /^[a-z]/.test(s) ? s : "q_" + s;
  }

  function openSave() {
    const cols = (lastResult && lastResult.columns) || [];
    const fill = (sel, pick) => {
      sel.replaceChildren(...cols.map((c, i) => h("option", { value: c.name, selected: i === pick ? "" : null }, LB.label(c.name) + " (" + c.name + ")")));
    };
    const numeric = cols.findIndex((c, i) => i > 0 && LB.isNumeric(c.type));
    fill(form.elements.x, 0);
    fill(form.elements.y, numeric >= 0 ? numeric : Math.min(1, cols.length - 1));
    form.elements.chart.value = numeric >= 0 ? "bar" : "table";
    const values = paramValues();
    $("#save-params").replaceChildren(...paramsOf(getSql()).map((p) => h("label", null, "Default for :" + p,
      h("input", { name: "param-" + p, "data-param": p, required: "", autocomplete: "off", value: values[p] || "" }))));
    $("#save-error").hidden = true;
    form.elements.title.oninput = () => {
      if (!form.elements.name.dataset.touched) form.elements.name.value = slug(form.elements.title.value);
    };
    form.elements.name.oninput = () => { form.elements.name.dataset.touched = "1"; };
    dialog.showModal();
    form.elements.title.focus();
  }

  async function submitSave(ev) {
    ev.preventDefault();
    if (!form.reportValidity()) return;
    const f = form.elements;
    const params = {};
    for (const input of $("#save-params").querySelectorAll("input[data-param]")) params[input.dataset.param] = input.value;
    const chart = f.chart.value === "table" ? { type: "table" } : { type: f.chart.value, x: f.x.value, y: [f.y.value] };
    try {
      const res = await api("/api/queries", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ name: f.name.value, title: f.title.value, description: f.description.value, sql: getSql(), chart, params }) });
      dialog.close();
      // the page's panels are rendered by the server: load it again, at the new panel
      history.replaceState(null, "", location.pathname + location.search + "#panel-" + res.query.name);
      location.reload();
    } catch (e) {
      const box = $("#save-error");
      box.textContent = ((e.info && e.info.type) || "ERROR") + ": " + e.message;
      box.hidden = false;
    }
  }

  $("#sql-save").addEventListener("click", openSave);
  form.addEventListener("submit", submitSave);
  $("#save-cancel").addEventListener("click", () => dialog.close());

  // ---- start: the URL's query (a shared link) runs at once ------------------------------------------------

  LB.editorFromUrl = function editorFromUrl() {
    const sql = LB.url.get("sql");
    const db = LB.url.get("db");
    if (db && Array.from($("#sql-db").options).some((o) => o.value === db)) $("#sql-db").value = db;
    if (sql !== null) {
      if (sql !== getSql()) setSql(sql);
      syncParams();
      for (const input of paramBox.querySelectorAll("input[data-param]")) input.value = LB.url.get("param." + input.dataset.param) || "";
      if (shown !== $("#sql-db").value + "\n" + sql + "\n" + JSON.stringify(paramValues())) runSql(false);
      else if (LB.tables.sql) { LB.tables.sql.readUrl(); LB.tables.sql.render(); }
    } else if (shown !== null) { // back to before the first run
      shown = null;
      lastResult = null;
      $("#sql-result").replaceChildren();
      $("#sql-stats").textContent = "";
      $("#sql-links").replaceChildren();
      $("#sql-error").hidden = true;
      delete $("#sql-result").dataset.state;
    }
  };

  mount();
  loadCompletions();
  loadHistory();
})();
