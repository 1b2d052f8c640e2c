/* lakebox dashboard, shared pieces: DOM helper, API calls, readable formatting, state in the URL, and the
 * result table (filter, facets, sort, pages). Loaded before charts.js, editor.js and app.js, which use
 * window.LB.
 *
 * Safety rule for every dashboard script: data only ever reaches the page through textContent / text nodes
 * and setAttribute on our own URLs; never innerHTML.
 */
"use strict";
(function () {
  const LB = (window.LB = {});
  const $ = (LB.$ = (sel, root) => (root || document).querySelector(sel));
  LB.$$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  LB.CSRF = $('meta[name="csrf-token"]').content;

  LB.h = function h(tag, props, ...kids) {
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
  };
  const h = LB.h;

  LB.api = async function api(url, opts) {
    const o = Object.assign({ headers: {} }, opts || {});
    o.headers = Object.assign({ Accept: "application/json" }, o.headers);
    if (o.method && o.method !== "GET") o.headers["X-CSRF-Token"] = LB.CSRF;
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
  };

  // ---- readable values: labels, numbers, money, months (in the browser's locale) ----------------------

  const CURRENCY = "USD";
  const nf0 = (LB.nf0 = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 }));
  const nf2 = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const nfd = new Intl.NumberFormat(undefined, { maximumFractionDigits: 4 });
  const money = (LB.money = new Intl.NumberFormat(undefined, { style: "currency", currency: CURRENCY }));
  LB.moneyCompact = new Intl.NumberFormat(undefined, { style: "currency", currency: CURRENCY, notation: "compact", maximumFractionDigits: 2 });
  LB.pct = new Intl.NumberFormat(undefined, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const monthFmt = new Intl.DateTimeFormat(undefined, { month: "short", year: "numeric", timeZone: "UTC" });
  const monthLong = new Intl.DateTimeFormat(undefined, { month: "long", year: "numeric", timeZone: "UTC" });
  const INT_T = /^(bigint|integer|smallint|tinyint|decimal\(\d+,\s*0\))/;
  const NUM_T = /^(bigint|integer|smallint|tinyint|double|real|decimal)/;
  const MONEY_NAME = /(amount|revenue|sales|price|spend|order_value|^total$|_total$|^total_(?!count|orders|rows))/i;
  const ACRONYMS = { id: "ID", sql: "SQL", csv: "CSV", url: "URL", aov: "AOV" };

  LB.isNumeric = (type) => NUM_T.test(type || "");
  LB.isMoney = (col) => !!col && /^(decimal|double|real)/.test(col.type || "") && MONEY_NAME.test(col.name || "");

  /** total_sales -> "Total sales", customer_id -> "Customer ID". */
  LB.label = function label(name) {
    const words = String(name || "").replace(/([a-z0-9])([A-Z])/g, "$1_$2").split(/[_\s]+/).filter(Boolean);
    if (!words.length) return String(name || "");
    return words.map((w, i) => {
      const lw = w.toLowerCase();
      if (ACRONYMS[lw]) return ACRONYMS[lw];
      return i === 0 ? lw.charAt(0).toUpperCase() + lw.slice(1) : lw;
    }).join(" ");
  };

  const MONTH_VALUE = /^(\d{4})-(\d{2})-01(?:[ T]00:00:00(?:\.0+)?)?$/;
  const MONTH_TEXT = /^\d{4}-(0[1-9]|1[0-2])$/;
  /**
   * A month bucket column: named *month*, and either dates that are all the first of a month
   * (date_trunc('month', ...)) or varchar 'YYYY-MM' (date_format(d, '%Y-%m'), the original's queries).
   */
  LB.isMonthColumn = function isMonthColumn(col, rows, i) {
    if (!col || !/month/i.test(col.name || "")) return false;
    const type = col.type || "";
    const shape = /^(date|timestamp)/.test(type) ? MONTH_VALUE : /^(varchar|char)/.test(type) ? MONTH_TEXT : null;
    if (!shape) return false;
    return rows.length > 0 && rows.every((r) => r[i] === null || shape.test(String(r[i])));
  };
  LB.monthLabel = function monthLabel(v, long) {
    const m = MONTH_VALUE.exec(String(v)) || /^(\d{4})-(\d{2})$/.exec(String(v));
    if (!m) return String(v);
    return (long ? monthLong : monthFmt).format(Date.UTC(Number(m[1]), Number(m[2]) - 1, 1));
  };

  /** One value as text. ``col`` is {name, type}; ``month`` says the column holds month buckets. */
  LB.fmtValue = function fmtValue(v, col, month) {
    const type = (col && col.type) || "";
    if (v === null || v === undefined) return "NULL";
    if (month) return LB.monthLabel(v);
    if (typeof v === "number") {
      if (LB.isMoney(col)) return money.format(v);
      if (INT_T.test(type)) return nf0.format(v);
      if (/^decimal/.test(type)) return nf2.format(v);
      return Number.isInteger(v) ? nf0.format(v) : nfd.format(v);
    }
    if (/^timestamp/.test(type) && typeof v === "string" && / 00:00:00(\.0+)?$/.test(v)) return v.slice(0, 10);
    if (typeof v === "object") return JSON.stringify(v);
    return String(v);
  };

  LB.fmtBytes = function fmtBytes(n) {
    if (n === null || n === undefined) return "–";
    const units = ["B", "kB", "MB", "GB", "TB"];
    let i = 0;
    let x = Number(n);
    while (x >= 1000 && i < units.length - 1) { x /= 1000; i += 1; }
    return (i === 0 ? nf0.format(x) : x.toFixed(1)) + " " + units[i];
  };

  LB.fmtMs = function fmtMs(ms) {
    if (ms === null || ms === undefined) return "–";
    return ms < 1000 ? (ms < 10 ? ms.toFixed(1) : nf0.format(ms)) + " ms" : (ms / 1000).toFixed(2) + " s";
  };

  LB.ago = function ago(iso) {
    if (!iso) return "never";
    const t = Date.parse(iso);
    if (Number.isNaN(t)) return String(iso);
    const s = Math.max(0, (Date.now() - t) / 1000);
    if (s < 60) return "just now";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    if (s < 86400) return Math.floor(s / 3600) + " h ago";
    return Math.floor(s / 86400) + " days ago";
  };

  LB.localTime = function localTime(iso) {
    const t = Date.parse(iso || "");
    return Number.isNaN(t) ? (iso || "") : new Date(t).toLocaleString();
  };

  // ---- state in the URL: every view's settings are query-string keys, so a link reproduces the view -----

  LB.url = {
    get(key) { return new URLSearchParams(location.search).get(key); },
    /** Keys starting with ``prefix + "."`` (a table's or panel's state). */
    scoped(prefix) {
      const out = {};
      for (const [k, v] of new URLSearchParams(location.search)) if (k.startsWith(prefix + ".")) out[k.slice(prefix.length + 1)] = v;
      return out;
    },
    /** Set (or, with null/""/undefined, remove) keys; push a history entry or replace the current one. */
    set(updates, push) {
      const qs = new URLSearchParams(location.search);
      for (const [k, v] of Object.entries(updates)) {
        if (v === null || v === undefined || v === "") qs.delete(k); else qs.set(k, String(v));
      }
      const search = qs.toString();
      const next = location.pathname + (search ? "?" + search : "") + location.hash;
      if (next === location.pathname + location.search + location.hash) return;
      if (push) history.pushState(null, "", next); else history.replaceState(null, "", next);
    },
    /** Remove every key of a prefix. */
    clear(prefix, push) {
      const updates = {};
      for (const k of Object.keys(LB.url.scoped(prefix))) updates[prefix + "." + k] = null;
      LB.url.set(updates, push);
    },
    /** A link to this page with only the keys of the given prefixes (and an optional anchor). */
    link(prefixes, hash) {
      const qs = new URLSearchParams();
      for (const [k, v] of new URLSearchParams(location.search)) {
        if (prefixes.some((p) => k === p || k.startsWith(p + "."))) qs.set(k, v);
      }
      const search = qs.toString();
      return location.origin + location.pathname + (search ? "?" + search : "") + (hash ? "#" + hash : "");
    },
  };

  LB.copyText = async function copyText(text, button) {
    let ok = false;
    try {
      await navigator.clipboard.writeText(text);
      ok = true;
    } catch (e) {
      ok = false; // no clipboard permission: show the link so it can be copied by hand
    }
    if (button) {
      const was = button.dataset.label || button.textContent;
      button.dataset.label = was;
      button.textContent = ok ? "Copied" : "Copy failed";
      button.dataset.copied = ok ? text : "";
      setTimeout(() => { button.textContent = was; }, 1600);
    }
    if (!ok) window.prompt("Copy this link", text);
    return ok;
  };

  // ---- the result table: filter box, facets, sortable columns, pages; its state lives in the URL ------

  const PAGE_SIZE = 15;
  const FACET_MAX = 20;
  const FACET_SHOWN = 8;
  LB.tables = {};

  /**
   * Render ``result`` ({columns, rows, row_count, truncated}) into ``container``.
   * opts: key (URL prefix; none = no URL state), pageSize, maxRows (the server's cap), downloads
   * ({csv, json} URLs of every row), emptyText, label (of the table's region), facetsOpen (open the facets
   * on wide screens; they are always open while one is selected).
   */
  LB.dataTable = function dataTable(container, result, opts) {
    opts = opts || {};
    const cols = result.columns || [];
    const rows = (result.rows || []).slice();
    const months = cols.map((c, i) => LB.isMonthColumn(c, rows, i));
    const size = opts.pageSize || PAGE_SIZE;
    const key = opts.key || null;
    const state = { sort: null, dir: 1, page: 0, q: "", facets: {} };
    let typing = false; // a filter being typed is one history entry, not one per key
    let facetBoxOpen = null; // opened or closed by the user: stays so across re-renders
    const text = rows.map((r) => r.map((v, i) => (v === null ? "null" : LB.fmtValue(v, cols[i], months[i]) + " " + String(v)).toLowerCase()).join("\u0001"));
    // facets for columns of labels (text, dates, booleans) with a few distinct values, as Datasette suggests them
    const facetCols = cols.map((c, i) => {
      if (LB.isNumeric(c.type)) return -1;
      const seen = new Set(rows.map((r) => (r[i] === null ? "\u0000null" : String(r[i]))));
      return seen.size >= 2 && seen.size <= FACET_MAX && seen.size < rows.length ? i : -1;
    }).filter((i) => i >= 0);

    function readUrl() {
      const s = key ? LB.url.scoped(key) : {};
      state.sort = s.sort && cols.some((c) => c.name === s.sort) ? s.sort : null;
      state.dir = s.dir === "desc" ? -1 : 1;
      state.page = Math.max(0, (parseInt(s.page, 10) || 1) - 1);
      state.q = s.q || "";
      state.facets = {};
      for (const [k, v] of Object.entries(s)) {
        if (k.startsWith("f.") && cols.some((c) => c.name === k.slice(2))) state.facets[k.slice(2)] = v;
      }
    }

    function writeUrl(push) {
      if (!key) return;
      if (push) typing = false;
      const updates = {};
      for (const k of Object.keys(LB.url.scoped(key))) {
        if (k === "sort" || k === "dir" || k === "page" || k === "q" || k.startsWith("f.")) updates[key + "." + k] = null;
      }
      if (state.sort) { updates[key + ".sort"] = state.sort; updates[key + ".dir"] = state.dir > 0 ? "asc" : "desc"; }
      if (state.page > 0) updates[key + ".page"] = state.page + 1;
      if (state.q) updates[key + ".q"] = state.q;
      for (const [c, v] of Object.entries(state.facets)) updates[key + ".f." + c] = v;
      LB.url.set(updates, push);
    }

    function matches(idx, skipFacet) {
      const r = rows[idx];
      if (state.q && !text[idx].includes(state.q.toLowerCase())) return false;
      for (const [c, v] of Object.entries(state.facets)) {
        if (c === skipFacet) continue;
        const i = cols.findIndex((x) => x.name === c);
        if (i >= 0 && (r[i] === null ? "\u0000null" : String(r[i])) !== v) return false;
      }
      return true;
    }

    function visible() {
      const idx = [];
      for (let i = 0; i < rows.length; i++) if (matches(i)) idx.push(i);
      const si = state.sort ? cols.findIndex((c) => c.name === state.sort) : -1;
      if (si >= 0) {
        const num = LB.isNumeric(cols[si].type);
        idx.sort((a, b) => {
          const x = rows[a][si];
          const y = rows[b][si];
          if (x === null || x === undefined) return 1;
          if (y === null || y === undefined) return -1;
          const c = num ? Number(x) - Number(y) : String(x).localeCompare(String(y));
          return c * state.dir || a - b;
        });
      }
      return idx;
    }

    function facetBox() {
      if (!facetCols.length) return null;
      const wide = !window.matchMedia || window.matchMedia("(min-width: 761px)").matches;
      const active = Object.keys(state.facets).length > 0;
      const open = active || (facetBoxOpen !== null ? facetBoxOpen : Boolean(opts.facetsOpen && wide));
      return h("details", { class: "facets", open: open ? "" : null,
        ontoggle: (ev) => { facetBoxOpen = ev.target.open; } },
        h("summary", { text: "Facets" + (active ? " (" + Object.keys(state.facets).length + " selected)" : "") }),
        h("div", { class: "facet-list" }, facetCols.map((i) => {
          const c = cols[i];
          const counts = new Map();
          for (let r = 0; r < rows.length; r++) {
            if (!matches(r, c.name)) continue;
            const v = rows[r][i] === null ? "\u0000null" : String(rows[r][i]);
            counts.set(v, (counts.get(v) || 0) + 1);
          }
          const sel = state.facets[c.name];
          if (sel !== undefined && !counts.has(sel)) counts.set(sel, 0);
          const top = Array.from(counts.entries()).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, FACET_SHOWN);
          if (sel !== undefined && !top.some(([v]) => v === sel)) top.push([sel, counts.get(sel)]);
          return h("div", { class: "facet", "data-column": c.name },
            h("div", { class: "facet-title", title: c.name, text: LB.label(c.name) }),
            h("ul", null, top.map(([v, n]) => {
              const raw = v === "\u0000null" ? null : v;
              const shown = raw === null ? "NULL" : LB.fmtValue(typeof rows[0][i] === "number" ? Number(raw) : raw, c, months[i]);
              return h("li", null, h("button", {
                type: "button", "aria-pressed": sel === v ? "true" : "false", "data-value": raw === null ? "" : raw,
                title: (sel === v ? "remove the filter " : "show only ") + c.name + " = " + shown,
                onclick: () => {
                  if (state.facets[c.name] === v) delete state.facets[c.name]; else state.facets[c.name] = v;
                  state.page = 0;
                  writeUrl(true);
                  render();
                },
              }, h("span", { class: "v", text: shown }), h("span", { class: "n", text: nf0.format(n) })));
            })));
        })));
    }

    function notices() {
      const out = [];
      const total = result.row_count || rows.length;
      const capped = result.truncated && (!opts.maxRows || total >= opts.maxRows);
      const links = opts.downloads
        ? [" Download every row: ", h("a", { href: opts.downloads.csv, download: "" }, "CSV"), " · ",
          h("a", { href: opts.downloads.json, download: "" }, "JSON"), "."] : [];
      if (capped) {
        out.push(h("p", { class: "truncated" }, "Showing the first " + nf0.format(rows.length) +
          " rows: the result has more (filters and sorting apply to these).", ...links));
      } else if (total > rows.length) {
        out.push(h("p", { class: "truncated" }, "Showing the first " + nf0.format(rows.length) + " of " +
          nf0.format(total) + " rows (filters and sorting apply to these).", ...links));
      }
      return out;
    }

    function render(focusSort) {
      const all = visible();
      const pages = Math.max(1, Math.ceil(all.length / size));
      state.page = Math.min(state.page, pages - 1);
      const start = state.page * size;
      const view = all.slice(start, start + size);
      const total = result.row_count || rows.length;
      const capped = result.truncated && (!opts.maxRows || total >= opts.maxRows);
      const filtered = state.q || Object.keys(state.facets).length;
      const thead = h("thead", null, h("tr", null, cols.map((c) => {
        const active = state.sort === c.name;
        const sort = active ? (state.dir > 0 ? "ascending" : "descending") : "none";
        return h("th", { scope: "col", "aria-sort": sort, class: LB.isNumeric(c.type) ? "num" : null },
          h("button", {
            type: "button", class: "sort", title: c.name + " (" + c.type + "): sort", "data-column": c.name,
            onclick: () => {
              if (state.sort === c.name) state.dir = -state.dir;
              else { state.sort = c.name; state.dir = LB.isNumeric(c.type) ? -1 : 1; }
              state.page = 0;
              writeUrl(true);
              render(c.name);
            },
          }, LB.label(c.name), h("span", { class: "arrow", "aria-hidden": "true", text: active ? (state.dir > 0 ? "▲" : "▼") : "↕" })));
      })));
      const tbody = h("tbody", null, view.map((ri) => h("tr", null, rows[ri].map((v, i) => {
        const shown = LB.fmtValue(v, cols[i], months[i]);
        const long = typeof v === "string" && v.length > 40;
        return h("td", {
          class: [LB.isNumeric(cols[i].type) ? "num" : "", v === null ? "null" : "", long ? "wrap" : ""].join(" ").trim() || null,
          title: months[i] ? String(v) : null, text: shown,
        });
      }))));
      if (!view.length) {
        tbody.append(h("tr", null, h("td", { colspan: cols.length || 1, class: "muted",
          text: rows.length ? "No rows match the filter." : (opts.emptyText || "No rows") })));
      }
      const count = h("span", { class: "count", "aria-live": "polite" },
        filtered ? nf0.format(all.length) + " of " + nf0.format(rows.length) + " rows"
          : nf0.format(total) + (capped ? "+" : "") + " rows");
      const filter = h("input", {
        type: "search", placeholder: "Filter rows", "aria-label": "Filter rows", value: state.q, class: "filter",
        oninput: (ev) => {
          state.q = ev.target.value;
          state.page = 0;
          const first = !typing;
          writeUrl(first);
          typing = true;
          render();
          const again = container.querySelector("input.filter");
          again.focus();
          again.setSelectionRange(again.value.length, again.value.length);
        },
      });
      const chips = Object.keys(state.facets).length ? h("span", { class: "chips" }, Object.entries(state.facets).map(([c, v]) =>
        h("button", { type: "button", class: "chip", title: "remove this filter",
          onclick: () => { delete state.facets[c]; state.page = 0; writeUrl(true); render(); } },
        LB.label(c) + " = " + (v === "\u0000null" ? "NULL" : v) + " ✕"))) : null;
      const tools = rows.length > 1 ? h("div", { class: "table-tools" }, filter, count, chips) : null;
      const pager = h("div", { class: "pager" },
        h("button", { type: "button", class: "prev", disabled: state.page === 0 ? "" : null, "aria-label": "previous page",
          onclick: () => { state.page -= 1; writeUrl(true); render(); } }, "‹"),
        h("span", { class: "range", text: all.length ? nf0.format(start + 1) + "–" + nf0.format(start + view.length) +
          " of " + nf0.format(all.length) + (capped && !filtered ? "+" : "") : "0 rows" }),
        h("button", { type: "button", class: "next", disabled: state.page >= pages - 1 ? "" : null, "aria-label": "next page",
          onclick: () => { state.page += 1; writeUrl(true); render(); } }, "›"));
      const parts = [tools, rows.length > 1 ? facetBox() : null,
        h("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": (opts.label || "result") + " table" },
          h("table", { class: "data" }, thead, tbody))];
      if (all.length > size) parts.push(pager);
      parts.push(...notices());
      container.replaceChildren(...parts.filter(Boolean));
      container.dataset.rows = String(all.length);
      if (focusSort) {
        const b = container.querySelector('button.sort[data-column="' + CSS.escape(focusSort) + '"]');
        if (b) b.focus();
      }
    }

    readUrl();
    render();
    const table = { render, readUrl, state };
    if (key) LB.tables[key] = table;
    return table;
  };
})();
